"""Effectors act only with a genuine, matching, unspent permit, and only inside the roots."""

from __future__ import annotations

import hashlib
import os
import shlex
import socket
import threading
import webbrowser
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from aether_qt.policy.capabilities import CAPABILITIES
from aether_qt.policy.contracts import PermitError, PolicyError
from aether_qt.policy.decisions import Permit, new_id
from aether_qt.policy.effect_types import (
    EffectError,
    EffectFailedError,
    FetchError,
    HashMismatchError,
    NotTextError,
    OutsideRootsError,
    ProcessTimeoutError,
    TargetExistsError,
    UnsupportedUrlError,
    scrubbed_env,
)
from aether_qt.policy.effects import Effectors, check_web_url, redact_url, set_aside_own_file
from aether_qt.policy.guard import Guard

BLOB = bytes(range(256)) * 400  # 102,400 bytes
BLOB_SHA = hashlib.sha256(BLOB).hexdigest()


# ---------------------------------------------------------------- test doubles
class RecordingVerifier:
    """Mints permits and redeems them like the gate: registry, binding (target, persona), spending."""

    def __init__(self) -> None:
        self._live: dict[str, Permit] = {}
        self.redeemed: list[tuple[str, str]] = []
        self.ended: set[str] = set()  # grant ids revoked by the test

    def mint(
        self,
        capability: str,
        resource: str | Path,
        *,
        once: bool = True,
        target: str | Path = "",
        persona: str = "user",
    ) -> Permit:
        permit = Permit(
            permit_id=new_id("pmt"),
            capability=capability,
            resource=str(resource),
            target=str(target),
            persona=persona,
            grant_id=new_id("grt"),
            audit_id=new_id("aud"),
            once=once,
            token=os.urandom(16).hex(),
        )
        self._live[permit.permit_id] = permit
        return permit

    def redeem(
        self,
        permit: Permit,
        capability: str,
        resource: str,
        *,
        target: str | None = None,
        persona: str | None = None,
    ) -> None:
        known = self._live.get(permit.permit_id)
        if known is None or known != permit:
            raise PermitError("permit was not minted by this gate")
        if known.capability != capability or known.resource != resource:
            raise PermitError("permit is bound to another capability or resource")
        if target is not None and target != known.target:
            raise PermitError("permit is bound to another target")
        if persona is not None and persona != known.persona:
            raise PermitError("permit is bound to another persona")
        if known.once:
            del self._live[permit.permit_id]
        self.redeemed.append((capability, resource))

    def grant_live(self, grant_id: str) -> bool:
        return grant_id not in self.ended


@dataclass
class Served:
    """A local HTTP server's base URL and the requests it saw."""

    base: str
    requests: list[tuple[str, str | None]] = field(default_factory=list)


def _handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Silence the default stderr log."""

        def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            rng = self.headers.get("Range")
            served.requests.append((self.path, rng))
            path = self.path.split("?", 1)[0]
            if path in ("/blob", "/bad-sha") and rng:
                start = int(rng.removeprefix("bytes=").rstrip("-"))
                if start >= len(BLOB):
                    self._send(416, b"")
                    return
                self._send(206, BLOB[start:], {"Content-Range": f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}"})
            elif path in ("/blob", "/norange"):
                self._send(200, BLOB)
            elif path == "/bad-sha":
                self._send(200, b"not the model")
            elif path == "/text":
                self._send(200, b"hello from 127.0.0.1")
            elif path == "/same-origin":
                self._send(302, b"", {"Location": "/text"})
            elif path == "/other-origin":
                port = served.base.rsplit(":", 1)[1]
                self._send(302, b"", {"Location": f"http://localhost:{port}/text"})
            elif path == "/boom":
                self._send(500, b"secret stack trace")
            elif path == "/chunked":  # no Content-Length: total unknown
                self.send_response(200)
                self.end_headers()
                self.wfile.write(BLOB)
                self.close_connection = True
            else:
                self._send(404, b"")

    return Handler


@pytest.fixture
def server() -> Iterator[Served]:
    served = Served(base="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(served))
    served.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    return folder.resolve()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder.resolve()


@pytest.fixture
def verifier() -> RecordingVerifier:
    return RecordingVerifier()


@pytest.fixture
def guard(tmp_path: Path) -> Guard:
    return Guard([tmp_path / "data"])  # never installed here: only its context is used


@pytest.fixture
def fx(verifier: RecordingVerifier, root: Path, guard: Guard) -> Effectors:
    return Effectors(verifier=verifier, approved_roots=[root], guard=guard)


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


# ---------------------------------------------------------------- files
def test_every_capability_used_exists() -> None:
    used = {"files.read", "files.list", "files.create", "files.edit", "files.delete"}
    used |= {"browser.open", "net.fetch", "shell.exec", "model.download"}
    assert used <= set(CAPABILITIES)


def test_read_text_reads_utf8(fx: Effectors, verifier: RecordingVerifier, root: Path) -> None:
    note = root / "note.txt"
    note.write_text("héllo", encoding="utf-8")
    result = fx.read_text(verifier.mint("files.read", note), note)
    assert (result.text, result.truncated, result.size, result.path) == ("héllo", False, 6, note)


def test_read_text_truncates_without_splitting_a_character(
    fx: Effectors, verifier: RecordingVerifier, root: Path
) -> None:
    note = root / "long.txt"
    note.write_text("é" * 10, encoding="utf-8")  # 20 bytes
    result = fx.read_text(verifier.mint("files.read", note), note, max_bytes=5)
    assert (result.text, result.truncated, result.size) == ("éé", True, 20)


def test_read_text_refuses_binary_without_leaking_bytes(
    fx: Effectors, verifier: RecordingVerifier, root: Path
) -> None:
    blob = root / "image.bin"
    blob.write_bytes(b"\xffSECRET-CONTENT\xfe")
    with pytest.raises(NotTextError, match=r"image\.bin") as caught:
        fx.read_text(verifier.mint("files.read", blob), blob)
    assert "SECRET" not in str(caught.value)
    assert caught.value.__context__ is None
    assert caught.value.__cause__ is None


def test_read_text_missing_file(fx: Effectors, verifier: RecordingVerifier, root: Path) -> None:
    with pytest.raises(EffectFailedError, match="cannot read"):
        fx.read_text(verifier.mint("files.read", root / "nope"), root / "nope")


def test_list_dir(fx: Effectors, verifier: RecordingVerifier, root: Path) -> None:
    (root / "b.txt").write_text("12", encoding="utf-8")
    (root / "a").mkdir()
    (root / "link").symlink_to(root / "b.txt")
    entries = fx.list_dir(verifier.mint("files.list", root), root)
    assert [(e.name, e.is_dir, e.is_symlink, e.size) for e in entries] == [
        ("a", True, False, None),
        ("b.txt", False, False, 2),
        ("link", False, True, entries[2].size),
    ]
    assert entries[1].path == root / "b.txt"


def test_list_dir_missing(fx: Effectors, verifier: RecordingVerifier, root: Path) -> None:
    with pytest.raises(EffectFailedError, match="cannot list"):
        fx.list_dir(verifier.mint("files.list", root / "gone"), root / "gone")


def test_create_file(fx: Effectors, verifier: RecordingVerifier, root: Path) -> None:
    target = root / "new.txt"
    assert fx.create_file(verifier.mint("files.create", target), target, "fresh") == target
    assert target.read_text(encoding="utf-8") == "fresh"
    assert [p.name for p in root.iterdir()] == ["new.txt"]  # no temp file left


def test_create_file_never_overwrites(fx: Effectors, verifier: RecordingVerifier, root: Path) -> None:
    target = root / "keep.txt"
    target.write_text("original", encoding="utf-8")
    with pytest.raises(TargetExistsError):
        fx.create_file(verifier.mint("files.create", target), target, "clobber")
    assert target.read_text(encoding="utf-8") == "original"


def test_create_file_in_missing_folder(fx: Effectors, verifier: RecordingVerifier, root: Path) -> None:
    target = root / "no" / "such.txt"
    with pytest.raises(EffectFailedError, match="cannot create"):
        fx.create_file(verifier.mint("files.create", target), target, "x")


def test_create_folder_makes_a_missing_approved_folder_and_its_parents(
    verifier: RecordingVerifier, tmp_path: Path, guard: Guard
) -> None:
    missing = (tmp_path / "home" / "Documents").resolve()
    fx = Effectors(verifier=verifier, approved_roots=[missing], guard=guard)
    assert fx.create_folder(verifier.mint("files.create", missing), missing) == missing
    assert missing.is_dir()
    inner = missing / "a" / "b"
    fx.create_folder(verifier.mint("files.create", inner), inner)
    assert inner.is_dir()
    assert [c for c, _ in verifier.redeemed] == ["files.create", "files.create"]


def test_create_folder_refuses_outside_and_says_what_is_in_the_way(
    fx: Effectors, verifier: RecordingVerifier, root: Path, outside: Path
) -> None:
    with pytest.raises(OutsideRootsError):
        fx.create_folder(verifier.mint("files.create", outside / "x"), outside / "x")
    (root / "file").write_text("x", encoding="utf-8")
    with pytest.raises(EffectFailedError, match="in the way"):
        fx.create_folder(verifier.mint("files.create", root / "file"), root / "file")
    with pytest.raises(EffectFailedError, match="cannot create the folder"):
        fx.create_folder(verifier.mint("files.create", root / "file" / "sub"), root / "file" / "sub")
    with pytest.raises(PermitError):
        fx.create_folder(verifier.mint("files.read", root / "new"), root / "new")
    assert not (root / "new").exists()


def test_create_file_write_failure_leaves_nothing(
    fx: Effectors, verifier: RecordingVerifier, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    target = root / "new.txt"
    with pytest.raises(EffectFailedError, match="No space left"):
        fx.create_file(verifier.mint("files.create", target), target, "x")
    assert list(root.iterdir()) == []


def test_write_export_is_0600_new_and_only_for_exports(
    fx: Effectors, verifier: RecordingVerifier, root: Path
) -> None:
    target = root / "bundle.json"
    fx.write_export(verifier.mint("audit.export", target), target, b"{}", capability="audit.export")
    assert target.read_bytes() == b"{}"
    assert target.stat().st_mode & 0o777 == 0o600
    with pytest.raises(TargetExistsError):
        fx.write_export(verifier.mint("audit.export", target), target, b"[]", capability="audit.export")
    assert target.read_bytes() == b"{}"
    other = root / "notes.txt"
    with pytest.raises(ValueError, match="not an export capability"):
        fx.write_export(verifier.mint("files.create", other), other, b"x", capability="files.create")
    assert not other.exists()


def test_edit_file_keeps_mode(fx: Effectors, verifier: RecordingVerifier, root: Path) -> None:
    target = root / "doc.txt"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o600)
    fx.edit_file(verifier.mint("files.edit", target), target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in root.iterdir()] == ["doc.txt"]


def test_edit_missing_file(fx: Effectors, verifier: RecordingVerifier, root: Path) -> None:
    with pytest.raises(EffectFailedError, match="cannot edit"):
        fx.edit_file(verifier.mint("files.edit", root / "gone"), root / "gone", "x")
    assert list(root.iterdir()) == []


def test_delete_file(fx: Effectors, verifier: RecordingVerifier, root: Path) -> None:
    target = root / "bye.txt"
    target.write_text("x", encoding="utf-8")
    fx.delete_file(verifier.mint("files.delete", target), target)
    assert not target.exists()


def test_delete_refuses_folders(fx: Effectors, verifier: RecordingVerifier, root: Path) -> None:
    (root / "sub").mkdir()
    with pytest.raises(EffectFailedError, match="cannot delete"):
        fx.delete_file(verifier.mint("files.delete", root / "sub"), root / "sub")
    assert (root / "sub").is_dir()


# ---------------------------------------------------------------- permits
def _acts(root: Path, served: Served) -> dict[str, tuple[str, str, Callable[[Effectors, Permit], object]]]:
    """Each effector with its capability and resource, ready to call with a permit."""
    note, new = root / "note.txt", root / "new.txt"
    argv = ["touch", str(root / "touched")]
    return {
        "read": ("files.read", str(note), lambda fx, p: fx.read_text(p, note)),
        "list": ("files.list", str(root), lambda fx, p: fx.list_dir(p, root)),
        "create": ("files.create", str(new), lambda fx, p: fx.create_file(p, new, "x")),
        "edit": ("files.edit", str(note), lambda fx, p: fx.edit_file(p, note, "changed")),
        "delete": ("files.delete", str(note), lambda fx, p: fx.delete_file(p, note)),
        "open": ("browser.open", served.base, lambda fx, p: fx.open_url(p, served.base)),
        "fetch": ("net.fetch", served.base + "/text", lambda fx, p: fx.fetch_url(p, served.base + "/text")),
        "run": ("shell.exec", shlex.join(argv), lambda fx, p: fx.run_process(p, argv)),
        "download": (
            "model.download",
            served.base + "/blob",
            lambda fx, p: fx.download(p, served.base + "/blob", root / "m.bin", sha256=BLOB_SHA),
        ),
    }


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch, guard: Guard) -> list[tuple[str, bool]]:
    """The one fake: there is no browser. Records (url, effector_running)."""
    calls: list[tuple[str, bool]] = []

    def fake_open(url: str, new: int = 0, autoraise: bool = True) -> bool:
        calls.append((url, guard.effector_running))
        return True

    monkeypatch.setattr(webbrowser, "open", fake_open)
    return calls


ACTS = ["read", "list", "create", "edit", "delete", "open", "fetch", "run", "download"]


@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("fault", ["forged", "capability", "resource", "spent"])
def test_bad_permit_raises_and_nothing_happens(
    act: str,
    fault: str,
    fx: Effectors,
    verifier: RecordingVerifier,
    root: Path,
    server: Served,
    browser: list[tuple[str, bool]],
) -> None:
    (root / "note.txt").write_text("original", encoding="utf-8")
    capability, resource, call = _acts(root, server)[act]
    target = str(root / "m.bin") if act == "download" else ""  # a download permit names its file
    if fault == "forged":
        permit = Permit(
            "pmt_x", capability, resource, target, "user", "grt_x", "aud_x", once=True, token="guess"
        )
    elif fault == "capability":
        other = "memory.read" if capability != "memory.read" else "files.read"
        permit = verifier.mint(other, resource, target=target)
    elif fault == "resource":
        permit = verifier.mint(capability, resource + "-other", target=target)
    else:
        permit = verifier.mint(capability, resource, target=target)
        call(fx, permit)
        (root / "note.txt").write_text("original", encoding="utf-8")
    before, requests, redeemed = _snapshot(root), len(server.requests), len(verifier.redeemed)
    with pytest.raises(PermitError):
        call(fx, permit)
    assert _snapshot(root) == before
    assert len(server.requests) == requests
    assert len(browser) == (1 if fault == "spent" and act == "open" else 0)
    assert len(verifier.redeemed) == redeemed


def test_reusable_permit_works_twice(fx: Effectors, verifier: RecordingVerifier, root: Path) -> None:
    note = root / "note.txt"
    note.write_text("x", encoding="utf-8")
    permit = verifier.mint("files.read", note, once=False)
    assert fx.read_text(permit, note).text == fx.read_text(permit, note).text == "x"


@pytest.mark.parametrize("how", ["outside", "dotdot", "symlink", "tilde"])
def test_paths_outside_roots_refused_even_with_permit(
    how: str, fx: Effectors, verifier: RecordingVerifier, root: Path, outside: Path
) -> None:
    secret = outside / "secret.txt"
    secret.write_text("do not read", encoding="utf-8")
    asked = {
        "outside": secret,
        "dotdot": root / ".." / "outside" / "secret.txt",
        "symlink": root / "innocent.txt",
        "tilde": Path("~/.bashrc"),
    }[how]
    (root / "innocent.txt").symlink_to(secret)
    for resource in (asked, os.path.realpath(os.path.expanduser(asked))):
        permit = verifier.mint("files.read", resource)
        with pytest.raises(OutsideRootsError, match="outside the approved folders") as caught:
            fx.read_text(permit, asked)
        assert "do not read" not in str(caught.value)
    assert verifier.redeemed == []  # the permit is not spent by a refused path


def test_acts_run_inside_the_guard_effector_context(
    fx: Effectors, verifier: RecordingVerifier, browser: list[tuple[str, bool]], guard: Guard
) -> None:
    fx.open_url(verifier.mint("browser.open", "https://example.org/"), "https://example.org/")
    assert browser == [("https://example.org/", True)]
    assert not guard.effector_running


# ---------------------------------------------------------------- browser
def test_open_url_only_http(
    fx: Effectors, verifier: RecordingVerifier, browser: list[tuple[str, bool]]
) -> None:
    for url in ("file:///etc/passwd", "javascript:alert(1)", "http://", "https://host:port/"):
        with pytest.raises(UnsupportedUrlError):
            fx.open_url(verifier.mint("browser.open", url), url)
    assert browser == []
    assert verifier.redeemed == []


def test_open_url_without_browser(
    fx: Effectors, verifier: RecordingVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webbrowser, "open", lambda url, new=0, autoraise=True: False)
    url = "https://example.org/?token=hunter2"
    with pytest.raises(EffectFailedError, match="no browser") as caught:
        fx.open_url(verifier.mint("browser.open", url), url)
    assert "hunter2" not in str(caught.value)


# ---------------------------------------------------------------- fetch
def test_fetch_url(fx: Effectors, verifier: RecordingVerifier, server: Served) -> None:
    url = server.base + "/text"
    assert fx.fetch_url(verifier.mint("net.fetch", url), url) == b"hello from 127.0.0.1"


def test_fetch_follows_same_origin_redirect(
    fx: Effectors, verifier: RecordingVerifier, server: Served
) -> None:
    url = server.base + "/same-origin"
    assert fx.fetch_url(verifier.mint("net.fetch", url), url) == b"hello from 127.0.0.1"


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/other-origin?key=hunter2", "redirected to another site"),
        ("/missing?key=hunter2", "HTTP 404"),
        ("/boom?key=hunter2", "HTTP 500"),
        ("/blob?key=hunter2", "more than 10 bytes"),
    ],
)
def test_fetch_failures(
    path: str, message: str, fx: Effectors, verifier: RecordingVerifier, server: Served
) -> None:
    url = server.base + path
    with pytest.raises(FetchError, match=message) as caught:
        fx.fetch_url(verifier.mint("net.fetch", url), url, max_bytes=10)
    assert "hunter2" not in str(caught.value)
    assert "secret stack trace" not in str(caught.value)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_fetch_unreachable(fx: Effectors, verifier: RecordingVerifier) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/x"
    with pytest.raises(FetchError, match="cannot reach"):
        fx.fetch_url(verifier.mint("net.fetch", url), url, timeout=5)


# ---------------------------------------------------------------- download
def test_download_verifies_and_reports_progress(
    fx: Effectors, verifier: RecordingVerifier, root: Path, server: Served, guard: Guard
) -> None:
    url, dest = server.base + "/blob", root / "model.gguf"
    seen: list[tuple[int, int | None, bool]] = []
    out = fx.download(
        verifier.mint("model.download", url, target=dest),
        url,
        dest,
        sha256=BLOB_SHA.upper(),
        progress=lambda done, total: seen.append((done, total, guard.effector_running)),
    )
    assert out == dest
    assert dest.read_bytes() == BLOB
    assert not (root / "model.gguf.part").exists()
    assert seen[-1] == (len(BLOB), len(BLOB), False)  # callbacks run without effector rights


def test_download_resumes_with_range(
    fx: Effectors, verifier: RecordingVerifier, root: Path, server: Served
) -> None:
    url, dest = server.base + "/blob", root / "model.gguf"
    (root / "model.gguf.part").write_bytes(BLOB[:1000])
    seen: list[tuple[int, int | None]] = []
    fx.download(
        verifier.mint("model.download", url, target=dest),
        url,
        dest,
        sha256=BLOB_SHA,
        progress=lambda *a: seen.append(a),
    )
    assert dest.read_bytes() == BLOB
    assert server.requests == [("/blob", "bytes=1000-")]
    assert seen[-1] == (len(BLOB), len(BLOB))


def test_download_restarts_when_range_ignored(
    fx: Effectors, verifier: RecordingVerifier, root: Path, server: Served
) -> None:
    url, dest = server.base + "/norange", root / "model.gguf"
    (root / "model.gguf.part").write_bytes(b"garbage-prefix")
    fx.download(verifier.mint("model.download", url, target=dest), url, dest, sha256=BLOB_SHA)
    assert dest.read_bytes() == BLOB


def test_download_complete_part_gets_416(
    fx: Effectors, verifier: RecordingVerifier, root: Path, server: Served
) -> None:
    url, dest = server.base + "/blob", root / "model.gguf"
    (root / "model.gguf.part").write_bytes(BLOB)
    fx.download(verifier.mint("model.download", url, target=dest), url, dest, sha256=BLOB_SHA)
    assert dest.read_bytes() == BLOB
    assert server.requests == [("/blob", f"bytes={len(BLOB)}-")]


def test_download_without_length(
    fx: Effectors, verifier: RecordingVerifier, root: Path, server: Served
) -> None:
    url, dest = server.base + "/chunked", root / "model.gguf"
    seen: list[tuple[int, int | None]] = []
    fx.download(
        verifier.mint("model.download", url, target=dest),
        url,
        dest,
        sha256=BLOB_SHA,
        progress=lambda *a: seen.append(a),
    )
    assert seen[-1] == (len(BLOB), None)


def test_download_hash_mismatch_keeps_nothing(
    fx: Effectors, verifier: RecordingVerifier, root: Path, server: Served
) -> None:
    url, dest = server.base + "/bad-sha", root / "model.gguf"
    with pytest.raises(HashMismatchError, match="expected sha256"):
        fx.download(verifier.mint("model.download", url, target=dest), url, dest, sha256=BLOB_SHA)
    assert list(root.iterdir()) == []


def test_download_existing_dest(
    fx: Effectors, verifier: RecordingVerifier, root: Path, server: Served
) -> None:
    url, dest = server.base + "/blob", root / "model.gguf"
    dest.write_bytes(BLOB)
    assert fx.download(verifier.mint("model.download", url, target=dest), url, dest, sha256=BLOB_SHA) == dest
    dest.write_bytes(b"other")
    with pytest.raises(TargetExistsError):
        fx.download(verifier.mint("model.download", url, target=dest), url, dest, sha256=BLOB_SHA)
    assert dest.read_bytes() == b"other"
    assert server.requests == []


def test_download_server_error_keeps_part(
    fx: Effectors, verifier: RecordingVerifier, root: Path, server: Served
) -> None:
    url, dest = server.base + "/boom", root / "model.gguf"
    (root / "model.gguf.part").write_bytes(b"abc")
    with pytest.raises(FetchError, match="HTTP 500"):
        fx.download(verifier.mint("model.download", url, target=dest), url, dest, sha256=BLOB_SHA)
    assert (root / "model.gguf.part").read_bytes() == b"abc"


def test_download_unreachable(fx: Effectors, verifier: RecordingVerifier, root: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/x"
    with pytest.raises(FetchError, match="cannot reach"):
        fx.download(
            verifier.mint("model.download", url, target=root / "m.bin"),
            url,
            root / "m.bin",
            sha256=BLOB_SHA,
            timeout=5,
        )


def test_download_part_not_writable(
    fx: Effectors, verifier: RecordingVerifier, root: Path, server: Served
) -> None:
    url = server.base + "/blob"
    (root / "m.bin.part").mkdir()
    with pytest.raises(EffectFailedError, match="cannot write"):
        fx.download(
            verifier.mint("model.download", url, target=root / "m.bin"), url, root / "m.bin", sha256=BLOB_SHA
        )


def test_download_argument_checks(
    fx: Effectors, verifier: RecordingVerifier, root: Path, outside: Path
) -> None:
    url = "https://example.org/m.bin"
    with pytest.raises(ValueError, match="64 hexadecimal"):
        fx.download(verifier.mint("model.download", url, target=root / "m"), url, root / "m", sha256="abc")
    with pytest.raises(ValueError, match="64 hexadecimal"):
        fx.download(verifier.mint("model.download", url, target=root / "m"), url, root / "m", sha256="z" * 64)
    with pytest.raises(OutsideRootsError):
        fx.download(
            verifier.mint("model.download", url, target=outside / "m"), url, outside / "m", sha256=BLOB_SHA
        )
    with pytest.raises(UnsupportedUrlError):
        fx.download(verifier.mint("model.download", "ftp://x/m"), "ftp://x/m", root / "m", sha256=BLOB_SHA)
    assert verifier.redeemed == []


def test_download_roots_extend_destinations(
    verifier: RecordingVerifier, root: Path, outside: Path, server: Served
) -> None:
    fx = Effectors(verifier=verifier, approved_roots=[root], guard=None, download_roots=[outside])
    url = server.base + "/blob"
    seen: list[int] = []
    fx.download(
        verifier.mint("model.download", url, target=outside / "m"),
        url,
        outside / "m",
        sha256=BLOB_SHA,
        progress=lambda d, t: seen.append(d),
    )
    assert (outside / "m").read_bytes() == BLOB
    assert seen[-1] == len(BLOB)


# ---------------------------------------------------------------- processes
def test_run_process(fx: Effectors, verifier: RecordingVerifier) -> None:
    argv = ["echo", "hello world"]
    result = fx.run_process(verifier.mint("shell.exec", "echo 'hello world'"), argv)
    assert (result.returncode, result.stdout, result.stderr, result.truncated) == (
        0,
        "hello world\n",
        "",
        False,
    )
    assert result.argv == tuple(argv)
    assert fx.run_process(verifier.mint("shell.exec", "false"), ["false"]).returncode == 1


def test_run_process_cwd_and_truncation(fx: Effectors, verifier: RecordingVerifier, root: Path) -> None:
    result = fx.run_process(verifier.mint("shell.exec", "pwd", target=root), ["pwd"], cwd=root, max_output=3)
    assert (result.stdout, result.truncated) == (str(root)[:3], True)


def test_run_process_cwd_outside_roots(fx: Effectors, verifier: RecordingVerifier, outside: Path) -> None:
    with pytest.raises(OutsideRootsError):
        fx.run_process(verifier.mint("shell.exec", "pwd"), ["pwd"], cwd=outside)


def test_run_process_scrubs_secret_environment(
    fx: Effectors, verifier: RecordingVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AETHER_TEST_API_KEY", "hunter2")
    monkeypatch.setenv("AETHER_TEST_PLAIN", "visible")
    out = fx.run_process(verifier.mint("shell.exec", "env"), ["env"]).stdout
    assert "hunter2" not in out
    assert "AETHER_TEST_PLAIN=visible" in out


def test_run_process_timeout(fx: Effectors, verifier: RecordingVerifier) -> None:
    with pytest.raises(ProcessTimeoutError, match="sleep did not finish") as caught:
        fx.run_process(verifier.mint("shell.exec", "sleep 5"), ["sleep", "5"], timeout=0.2)
    assert caught.value.__context__ is None


def test_run_process_missing_program(fx: Effectors, verifier: RecordingVerifier) -> None:
    with pytest.raises(EffectFailedError, match="cannot start no-such-prog"):
        fx.run_process(verifier.mint("shell.exec", "no-such-prog --token=x"), ["no-such-prog", "--token=x"])


def test_run_process_needs_argv(fx: Effectors, verifier: RecordingVerifier) -> None:
    with pytest.raises(ValueError, match="argv"):
        fx.run_process(verifier.mint("shell.exec", ""), [])


# ---------------------------------------------------------------- helpers
def test_redact_url() -> None:
    assert redact_url("https://user:pw@Example.org:8443/a/b?key=1#frag") == "https://example.org:8443/a/b"
    assert redact_url("http://h/") == "http://h/"


def test_check_web_url_accepts_http() -> None:
    check_web_url("https://example.org")
    check_web_url("http://127.0.0.1:8080/x")


def test_scrubbed_env() -> None:
    env = {"OPENAI_API_KEY": "a", "GITHUB_TOKEN": "b", "DB_PASSWORD": "c", "XAUTHORITY": "/x", "PATH": "/bin"}
    assert scrubbed_env(env) == {"XAUTHORITY": "/x", "PATH": "/bin"}


def test_errors_are_policy_errors() -> None:
    assert issubclass(EffectError, PolicyError)
    assert issubclass(NotTextError, EffectError)


# ---------------------------------------------------------------- the app's own files
@pytest.mark.parametrize("sides", [("-wal", "-shm"), ()])
def test_set_aside_moves_a_database_with_its_sqlite_files(tmp_path: Path, sides: tuple[str, ...]) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "audit.db"
    for suffix in ("", *sides):
        Path(f"{db}{suffix}").write_bytes(f"content{suffix}".encode())
    moved = set_aside_own_file(db, "tampered-20240101-000000", roots=(data,))
    assert moved == data / "audit.db.tampered-20240101-000000"
    expected = sorted(f"{moved.name}{suffix}" for suffix in ("", *sides))
    assert sorted(p.name for p in data.iterdir()) == expected
    for suffix in ("", *sides):
        assert Path(f"{moved}{suffix}").read_bytes() == f"content{suffix}".encode()


def test_set_aside_refuses_a_file_outside_the_roots(tmp_path: Path, outside: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    stranger = outside / "audit.db"
    stranger.write_bytes(b"x")
    link = data / "audit.db"
    link.symlink_to(stranger)  # inside the roots by name, outside once resolved
    for path in (stranger, link):
        with pytest.raises(OutsideRootsError, match="only the app's own files"):
            set_aside_own_file(path, "tampered", roots=(data,))
    assert stranger.read_bytes() == b"x" and link.is_symlink()
    assert sorted(p.name for p in outside.iterdir()) == ["audit.db"]
