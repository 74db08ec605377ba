"""``aether models fetch``: a speech model downloaded through the gate, verified, unpacked and selected.

The model host cannot be reached here, so a local server on 127.0.0.1 plays the
mirror (``--url`` with its ``--sha256``); the archive holds a small folder laid
out like a vosk model.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import Cli

FOLDER = "vosk-model-small-en-us-0.15"


def make_archive(path: Path, *, folder: str = FOLDER, evil: bool = False) -> str:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(f"{folder}/am/final.mdl", b"\0" * 4096)
        zf.writestr(f"{folder}/conf/model.conf", "--sample-frequency=16000\n")
        if evil:
            zf.writestr("../escape.txt", "outside")
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "mirror"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


def test_fetch_verifies_unpacks_and_selects_the_model(cli: Cli, served: tuple[str, Path]) -> None:
    base, root = served
    sha = make_archive(root / "model.zip")
    result = cli.json("models", "fetch", "vosk-en-small", "--url", f"{base}/model.zip", "--sha256", sha)
    model = Path(result["model"])
    assert model.name == FOLDER and (model / "am" / "final.mdl").is_file()
    assert result["sha256"] == sha and result["audit_id"]
    explained = cli.run("policy", "explain", result["audit_id"], check=True).stdout
    assert "model.download" in explained and "allow" in explained.lower()
    again = cli.json("models", "fetch", "vosk-en-small", "--url", f"{base}/model.zip", "--sha256", sha)
    assert again["model"] == result["model"]  # already there and verified: no second download


def test_a_hash_mismatch_is_refused_and_nothing_is_unpacked(cli: Cli, served: tuple[str, Path]) -> None:
    base, root = served
    make_archive(root / "model.zip")
    proc = cli.run("models", "fetch", "vosk-en-small", "--url", f"{base}/model.zip", "--sha256", "0" * 64)
    assert proc.returncode == 1 and "sha256" in proc.stderr
    assert not list(cli.home.rglob(FOLDER))


def test_an_archive_escaping_its_folder_is_refused(
    cli: Cli, served: tuple[str, Path], tmp_path: Path
) -> None:
    base, root = served
    sha = make_archive(root / "evil.zip", evil=True)
    proc = cli.run("models", "fetch", "vosk-en-small", "--url", f"{base}/evil.zip", "--sha256", sha)
    assert proc.returncode == 1 and "unsafe path" in proc.stderr
    assert not list(tmp_path.rglob("escape.txt"))


def test_a_custom_url_needs_a_pinned_hash_and_names_must_be_known(cli: Cli) -> None:
    proc = cli.run("models", "fetch", "vosk-en-small", "--url", "http://127.0.0.1:9/x.zip")
    assert proc.returncode == 2 and "--sha256" in proc.stderr
    unknown = cli.run("models", "fetch", "whisper-xl")
    assert unknown.returncode == 2 and "vosk-en-small" in unknown.stderr
