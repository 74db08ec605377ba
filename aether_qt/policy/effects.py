"""Effectors: the only code that touches the outside world, and only with a permit.

Every method takes the :class:`~aether_qt.policy.decisions.Permit` of an ``Allow``
first and hands it to the gate (a :class:`~aether_qt.policy.contracts.PermitVerifier`)
for this capability and resource before doing anything; a forged, mismatched or
spent permit raises :class:`~aether_qt.policy.contracts.PermitError` and nothing
happens. The act itself runs inside :meth:`Guard.effector`, so the runtime guard
lets it through.

Resources passed to the gate: for files the canonical path (symlinks, ``..`` and
``~`` resolved); for URLs the URL as given; for processes ``shlex.join(argv)``.
A permit also binds the request's target: a download's destination and a
process's working folder (none: ""), which those effectors always name. Memory
changes are :class:`~aether_qt.policy.memory_changes.MemoryChange` values whose
operation fixes the capability; a capture gets a
:class:`~aether_qt.policy.leases.CaptureLease` that the device checks while it
records.
Paths are checked against the approved roots again here, even with a valid
permit. Messages of :class:`EffectError` name paths, programs and URLs without
query strings, never file contents, command arguments or secrets.

This is the one module allowed to import :mod:`subprocess`, :mod:`urllib`,
:mod:`webbrowser` and friends; they are imported inside the methods that use them.

It also holds the permit-free helpers for the app's *own* folders (data, config,
cache): :func:`write_own_file`, :func:`create_own_file`, :func:`replace_own_file`,
:func:`remove_own_file`, :func:`remove_own_folder` and :func:`extract_own_archive`. The
rest of the package replaces, deletes and unpacks files only through them (the
side-effect scan says so). They need no Allow, but they carry no effector rights either: the runtime
guard still checks each write against the writable roots.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import fcntl
import hashlib
import os
import re
import shlex
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from aether_qt.core.desktop_files import DesktopPlan, DesktopResult, Manifest
from aether_qt.core.generation import RemoteError, RemoteStatus
from aether_qt.policy.contracts import PermitVerifier
from aether_qt.policy.decisions import Permit
from aether_qt.policy.effect_types import (
    ChatStream,
    DirEntry,
    EffectFailedError,
    FetchError,
    FileText,
    HashMismatchError,
    NotTextError,
    OutsideRootsError,
    ProcessResult,
    ProcessTimeoutError,
    TargetExistsError,
    UnsupportedUrlError,
    canonical_path,
    inside_roots,
    scrubbed_env,
)
from aether_qt.policy.leases import MICROPHONE, CaptureLease, CaptureLeases
from aether_qt.policy.memory_changes import MemoryChange

if TYPE_CHECKING:
    import socket
    import ssl
    import zipfile
    from urllib.parse import SplitResult
    from urllib.request import OpenerDirector

    import httpx

    from aether_qt.policy.guard import Guard

Progress = Callable[[int, int | None], None]

_CHUNK: Final = 64 * 1024
_NOFOLLOW: Final = getattr(os, "O_NOFOLLOW", 0)
_NO_HARD_LINKS: Final = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS})
_USER_AGENT: Final = "Aether"
_HEADER_TEXT: Final = re.compile(r"[\x20-\x7e]+")  # printable ASCII: no line break can start a header
_CANCEL_POLL: Final = 0.02  # seconds between looks at a cancel event (the barge-in budget is 150 ms)
_EXPORT_CAPABILITIES: Final = frozenset({"audit.export", "memory.export"})
_T = TypeVar("_T")


class Effectors:
    """Performs gated side effects.

    Args:
        verifier: the gate that minted the permits (``Gate.redeem``).
        approved_roots: folders the user approved; file effectors act only inside them.
        guard: the runtime guard to tell "an effector is running"; None without one.
        download_roots: extra folders a download may write (the models folder).

    Attributes:
        capture_leases: the leases :meth:`start_capture` mints; a capture device checks them.
    """

    def __init__(
        self,
        *,
        verifier: PermitVerifier,
        approved_roots: Sequence[Path],
        guard: Guard | None,
        download_roots: Sequence[Path] = (),
    ) -> None:
        self._verifier = verifier
        self._roots = tuple(canonical_path(p) for p in approved_roots)
        self._download_roots = tuple(canonical_path(p) for p in download_roots)
        self._guard = guard
        self._tls: ssl.SSLContext | None = None  # built once: loading the CA bundle costs ~20 ms
        self.capture_leases = CaptureLeases(gate=verifier)

    # ------------------------------------------------------------------ plumbing
    @contextlib.contextmanager
    def _acting(
        self,
        permit: Permit,
        capability: str,
        resource: str,
        *,
        target: str | None = None,
        persona: str | None = None,
    ) -> Iterator[None]:
        self._verifier.redeem(permit, capability, resource, target=target, persona=persona)
        with self._guard.effector() if self._guard is not None else contextlib.nullcontext():
            yield

    def _outside(self, progress: Progress | None) -> Progress | None:
        """Wrap a caller's callback so it runs without effector rights."""
        if progress is None or self._guard is None:
            return progress
        guard, callback = self._guard, progress

        def report(done: int, total: int | None) -> None:
            with guard.suspended():
                callback(done, total)

        return report

    def _target(self, path: Path, roots: tuple[Path, ...] | None = None) -> Path:
        target = canonical_path(path)
        if not inside_roots(target, self._roots if roots is None else roots):
            raise OutsideRootsError(f"{target} is outside the approved folders")
        return target

    # ------------------------------------------------------------------ files
    def read_text(self, permit: Permit, path: Path, *, max_bytes: int = 1_000_000) -> FileText:
        """Read a UTF-8 text file (``files.read``), at most ``max_bytes`` of it.

        Raises:
            NotTextError: the file is not UTF-8 text.
            EffectFailedError: it could not be read.
        """
        target = self._target(path)
        with self._acting(permit, "files.read", str(target)):
            try:
                fd = os.open(target, os.O_RDONLY | _NOFOLLOW)
                with os.fdopen(fd, "rb") as handle:
                    size = os.fstat(handle.fileno()).st_size
                    data = handle.read(max_bytes + 1)
            except OSError as exc:
                raise EffectFailedError(f"cannot read {target}: {exc.strerror}") from None
        truncated = len(data) > max_bytes
        text: str | None
        try:
            text = codecs.getincrementaldecoder("utf-8")().decode(data[:max_bytes], final=not truncated)
        except UnicodeDecodeError:
            text = None  # raised below, outside this block, so no exception holds the bytes
        if text is None:
            raise NotTextError(f"{target} is not UTF-8 text")
        return FileText(path=target, text=text, truncated=truncated, size=size)

    def list_dir(self, permit: Permit, path: Path) -> list[DirEntry]:
        """List a folder (``files.list``), sorted by name."""
        target = self._target(path)
        with self._acting(permit, "files.list", str(target)):
            try:
                with os.scandir(target) as scan:
                    entries = [_entry(item) for item in scan]
            except OSError as exc:
                raise EffectFailedError(f"cannot list {target}: {exc.strerror}") from None
        return sorted(entries, key=lambda entry: entry.name)

    def create_file(self, permit: Permit, path: Path, text: str) -> Path:
        """Create a new file with ``text`` (``files.create``); never overwrites.

        The name is reserved with ``O_EXCL``, then the content is written to a
        temporary file and moved over it, so no reader sees a partial file.

        Raises:
            TargetExistsError: something already exists at ``path``.
        """
        target = self._target(path)
        with self._acting(permit, "files.create", str(target)):
            _create_new(target, text.encode("utf-8"), mode=0o644)
        return target

    def create_folder(self, permit: Permit, folder: Path) -> Path:
        """Create ``folder`` and its missing parents (``files.create`` on the folder itself).

        The folder must be an approved folder or lie inside one (an approved folder
        that does not exist yet is the common case: the user creates it from a card).

        Raises:
            EffectFailedError: it could not be created (something else is in the way).
        """
        target = self._target(folder)
        with self._acting(permit, "files.create", str(target)):
            try:
                _make_folders(target)
            except OSError as exc:
                raise EffectFailedError(f"cannot create the folder {target}: {exc.strerror}") from None
            if not target.is_dir():
                raise EffectFailedError(
                    f"cannot create the folder {target}: a file of that name is in the way"
                )
        return target

    def write_export(self, permit: Permit, path: Path, data: bytes, *, capability: str) -> Path:
        """Write an export (``audit.export`` or ``memory.export``) as a new 0600 file.

        Raises:
            ValueError: ``capability`` is not an export capability.
            TargetExistsError: something already exists at ``path``.
        """
        if capability not in _EXPORT_CAPABILITIES:
            raise ValueError(f"{capability} is not an export capability")
        target = self._target(path)
        with self._acting(permit, capability, str(target)):
            _create_new(target, data, mode=0o600)
        return target

    def write_backup(
        self,
        permit: Permit,
        path: Path,
        chunks: Iterable[bytes],
        *,
        size: int | None = None,
        progress: Progress | None = None,
    ) -> Path:
        """Stream a backup (``data.backup``; ``chunks`` are already sealed) into a new 0600 file.

        Like :meth:`write_export`, but the content is never held whole: the name is
        reserved with ``O_EXCL``, the chunks go to a temporary file beside it that is
        renamed over the name once complete; whatever fails (the disk, or ``chunks``
        raising) leaves neither a partial file nor the reserved name.
        ``progress(written, size)`` runs without effector rights.

        Raises:
            TargetExistsError: something already exists at ``path``.
            EffectFailedError: the file could not be written.
        """
        target = self._target(path)
        report = self._outside(progress)
        with self._acting(permit, "data.backup", str(target)):
            _create_new(target, _reported(chunks, size, report), mode=0o600)
        return target

    def change_memory(self, permit: Permit, change: MemoryChange, apply: Callable[[MemoryChange], _T]) -> _T:
        """Apply ``change`` to the memory store (the app's own data) under a memory permit.

        The permit must be for the change's capability (fixed by its action: a forget
        or purge needs ``memory.delete``), its resource (the item, ``memory:<id>``,
        or the kind) and, when the change names one, its persona. It is spent
        before ``apply(change)`` runs, so a change happens at most once per Allow;
        ``apply`` acts on the change it is handed, whose target was checked.

        Raises:
            PermitError: the permit is forged, spent, or for another operation, item
                or persona (``apply`` does not run).
        """
        with self._acting(permit, change.capability, change.resource, persona=change.persona):
            return apply(change)

    def start_capture(
        self,
        permit: Permit,
        start: Callable[[CaptureLease], _T],
        *,
        source: str = MICROPHONE,
        persona: str | None = None,
    ) -> _T:
        """Start listening (``media.mic`` on ``source``): ``start(lease)`` opens the device under a lease.

        The permit is redeemed, then a lease bound to its grant is minted and handed
        to ``start`` (the device's start), which must claim it before it returns; an
        unclaimed lease is discarded. The device checks the lease while it records
        and stops once the grant is revoked (see :mod:`aether_qt.policy.leases`).

        Raises:
            PermitError: the permit is forged, mismatched or spent (``start`` does not run).
        """
        with self._acting(permit, "media.mic", source, persona=persona):
            lease = self.capture_leases.mint(permit, source)
            try:
                return start(lease)
            finally:
                self.capture_leases.discard(lease)

    def edit_file(self, permit: Permit, path: Path, text: str) -> Path:
        """Replace an existing file's content with ``text`` atomically (``files.edit``)."""
        target = self._target(path)
        with self._acting(permit, "files.edit", str(target)):
            try:
                mode = os.stat(target).st_mode & 0o7777
            except OSError as exc:
                raise EffectFailedError(f"cannot edit {target}: {exc.strerror}") from None
            _write_atomically(target, text.encode("utf-8"), mode=mode)
        return target

    def delete_file(self, permit: Permit, path: Path) -> None:
        """Delete one file (``files.delete``); folders are refused."""
        target = self._target(path)
        with self._acting(permit, "files.delete", str(target)):
            try:
                os.unlink(target)
            except OSError as exc:
                raise EffectFailedError(f"cannot delete {target}: {exc.strerror}") from None

    # ------------------------------------------------------------------ web
    def open_url(self, permit: Permit, url: str) -> None:
        """Open an http(s) URL in the default browser (``browser.open``)."""
        check_web_url(url)
        with self._acting(permit, "browser.open", url):
            import webbrowser

            opened = webbrowser.open(url, new=2)
        if not opened:
            raise EffectFailedError(f"no browser could open {redact_url(url)}")

    def fetch_url(
        self, permit: Permit, url: str, *, max_bytes: int = 5_000_000, timeout: float = 30.0
    ) -> bytes:
        """GET an http(s) URL (``net.fetch``); redirects only within the same origin.

        Raises:
            FetchError: the server failed, could not be reached, or sent too much.
        """
        check_web_url(url)
        with self._acting(permit, "net.fetch", url):
            return _fetch(url, max_bytes=max_bytes, timeout=timeout)

    def download(
        self,
        permit: Permit,
        url: str,
        dest: Path,
        *,
        sha256: str,
        progress: Progress | None = None,
        timeout: float = 60.0,
    ) -> Path:
        """Download ``url`` to ``dest`` if its SHA-256 is ``sha256`` (``model.download``).

        Streams to ``dest.part`` and resumes it with a Range request; renames into
        place only after the hash matches. ``progress(done, total)`` runs without
        effector rights.

        The permit's target must be ``dest`` (canonical): a download permit names
        where the file goes.

        Raises:
            PermitError: the permit is for another URL or destination (nothing is fetched).
            HashMismatchError: the content's hash differs; the part file is deleted.
            TargetExistsError: ``dest`` exists with other content.
            FetchError: the server failed or could not be reached (the part is kept).
        """
        check_web_url(url)
        expected = sha256.lower()
        if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
            raise ValueError("sha256 must be 64 hexadecimal digits")
        target = self._target(dest, self._roots + self._download_roots)
        with self._acting(permit, "model.download", url, target=str(target)):
            if target.exists():
                if _file_sha256(target) == expected:
                    return target
                raise TargetExistsError(f"{target} already exists with other content")
            part = target.with_name(target.name + ".part")
            _download_to(url, part, timeout=timeout, progress=self._outside(progress))
            actual = _file_sha256(part)
            if actual != expected:
                part.unlink(missing_ok=True)
                raise HashMismatchError(
                    f"{redact_url(url)}: expected sha256 {expected[:16]}..., got {actual[:16]}..."
                )
            os.replace(part, target)
        return target

    # ------------------------------------------------------------------ remote models
    def open_chat_stream(
        self,
        permit: Permit,
        base_url: str,
        *,
        body: bytes,
        headers: Mapping[str, str],
        connect_timeout: float,
        read_timeout: float,
        cancel: threading.Event | None = None,
    ) -> ChatStream:
        """POST a streaming chat request to ``base_url`` + ``/chat/completions`` (``router.remote``).

        Connecting, sending and waiting for the response headers happen here, with
        effector rights; the returned stream is read by the caller without them.
        No proxy variable, ``.netrc`` or redirect is followed: the key in ``headers``
        goes to ``base_url`` and nowhere else. When ``cancel`` is given, a watcher
        shuts the socket down as soon as it is set, even while the server has not
        answered yet (the caller then sees an aborted stream or a RemoteError).

        Raises:
            RemoteError: BAD_REQUEST (``base_url`` is not a plain http(s) URL, or a header
                holds a control or non-ASCII character; nothing is redeemed), UNREACHABLE
                or TIMEOUT. Its sentence names the redacted URL, never a header.
            PermitError: the permit is not for ``router.remote`` on ``base_url``.
        """
        check_base_url(base_url)
        if not all(_HEADER_TEXT.fullmatch(f"{name}:{value}") for name, value in headers.items()):
            # httpx would refuse it with the header (a key) in its exception and debug log
            raise RemoteError(
                RemoteStatus.BAD_REQUEST, "a request header holds a character HTTP cannot carry"
            )
        with self._acting(permit, "router.remote", base_url):
            connection = _ChatSocket(cancel)  # after the redeem: a refused permit starts no watcher
            try:
                client, response = self._send_chat(
                    base_url,
                    body=body,
                    headers=headers,
                    connection=connection,
                    connect_timeout=connect_timeout,
                    read_timeout=read_timeout,
                )
            except BaseException:
                connection.stop()
                raise

        def release() -> None:
            connection.stop()
            response.close()
            client.close()

        return ChatStream(
            status_code=response.status_code,
            headers={name.lower(): value for name, value in response.headers.items()},
            lines=lambda: _chat_lines(response, connection, base_url),
            read=lambda limit: _read_some(response, limit),
            shutdown=connection.shutdown,
            release=release,
        )

    def _send_chat(
        self,
        base_url: str,
        *,
        body: bytes,
        headers: Mapping[str, str],
        connection: _ChatSocket,
        connect_timeout: float,
        read_timeout: float,
    ) -> tuple[httpx.Client, httpx.Response]:
        """Connect, send and wait for the response headers (inside :meth:`open_chat_stream`'s act)."""
        import httpx

        if self._tls is None:
            self._tls = httpx.create_ssl_context()
        timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        client = httpx.Client(verify=self._tls, timeout=timeout, trust_env=False, follow_redirects=False)
        url = base_url.rstrip("/") + "/chat/completions"
        failure: RemoteError | None = None
        try:
            request = client.build_request(
                "POST", url, content=body, headers=dict(headers), extensions={"trace": connection.trace}
            )
            response = client.send(request, stream=True)
        except httpx.TimeoutException:
            failure = RemoteError(RemoteStatus.TIMEOUT, f"{redact_url(base_url)} did not answer in time")
        except (httpx.HTTPError, httpx.StreamError, OSError) as exc:
            failure = RemoteError(
                RemoteStatus.UNREACHABLE, f"cannot reach {redact_url(base_url)}: {type(exc).__name__}"
            )
        if failure is not None:
            client.close()
            raise failure  # raised here, outside the except: no exception holds the request
        return client, response

    # ------------------------------------------------------------------ processes
    def run_process(
        self,
        permit: Permit,
        argv: Sequence[str],
        *,
        timeout: float = 60.0,
        cwd: Path | None = None,
        max_output: int = 1_000_000,
    ) -> ProcessResult:
        """Run ``argv`` without a shell (``shell.exec``; resource ``shlex.join(argv)``).

        The child gets the app's environment minus variables that look like secrets.
        It runs in ``cwd``, which must be the permit's target (None: the request named
        no working folder, and the child inherits the app's).

        Raises:
            ProcessTimeoutError: it ran longer than ``timeout`` seconds (it is killed).
            EffectFailedError: it could not be started.
        """
        if not argv:
            raise ValueError("argv must name a program")
        workdir = None if cwd is None else self._target(cwd)
        program = os.path.basename(argv[0])
        bound = "" if workdir is None else str(workdir)
        with self._acting(permit, "shell.exec", shlex.join(argv), target=bound):
            import subprocess

            completed = None
            try:
                completed = subprocess.run(  # noqa: PLW1510 - the return code is the result
                    list(argv),
                    shell=False,
                    cwd=workdir,
                    env=scrubbed_env(os.environ),
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    timeout=timeout,
                )
            except subprocess.TimeoutExpired:
                pass  # raised below, outside this block: the exception holds the output
            except OSError as exc:
                raise EffectFailedError(f"cannot start {program}: {exc.strerror}") from None
        if completed is None:
            raise ProcessTimeoutError(f"{program} did not finish within {timeout:g} s")
        out, err = completed.stdout, completed.stderr
        return ProcessResult(
            argv=tuple(argv),
            returncode=completed.returncode,
            stdout=out[:max_output].decode("utf-8", "replace"),
            stderr=err[:max_output].decode("utf-8", "replace"),
            truncated=len(out) > max_output or len(err) > max_output,
        )

    # ------------------------------------------------------------------ binary files
    def create_binary(self, permit: Permit, path: Path, data: bytes) -> Path:
        """Create a new file with the bytes ``data`` (``files.create``); never overwrites.

        The binary twin of :meth:`create_file` (an image the user asked for), with the
        same checks: approved roots, the permit, ``O_EXCL`` and an atomic fill.

        Raises:
            TargetExistsError: something already exists at ``path``.
        """
        target = self._target(path)
        with self._acting(permit, "files.create", str(target)):
            _create_new(target, data, mode=0o644)
        return target

    # ------------------------------------------------------------------ desktop integration
    def install_desktop(self, permit: Permit, plan: DesktopPlan) -> DesktopResult:
        """Write the desktop entry, metainfo and icons of ``plan`` (``desktop.install``).

        The destinations are the user's XDG folders named in the permit's resource, not
        approved folders. Each file is replaced atomically (a re-install updates it);
        the folders that had to be created are recorded so uninstall can remove them.
        If a write fails, the files and folders this call created are removed again.

        Raises:
            EffectFailedError: a folder or a file could not be written.
        """
        created: list[Path] = []
        fresh: list[Path] = []
        written: dict[str, str] = {}
        with self._acting(permit, "desktop.install", plan.resource):
            try:
                for item in plan.files:
                    created += _make_folders(item.path.parent)
                    existed = os.path.lexists(item.path)
                    _write_atomically(item.path, item.data, mode=item.mode)
                    written[str(item.path)] = item.sha256
                    if not existed:
                        fresh.append(item.path)
            except (EffectFailedError, OSError) as exc:
                for path in fresh:
                    with contextlib.suppress(OSError):
                        path.unlink()
                for folder in reversed(created):
                    with contextlib.suppress(OSError):
                        folder.rmdir()
                if isinstance(exc, OSError):
                    where = exc.filename or "a desktop file"
                    raise EffectFailedError(f"cannot create {where}: {exc.strerror}") from None
                raise
            refreshed = _refresh_desktop_caches(plan.data_home)
        manifest = Manifest(files=written, folders=tuple(map(str, created)), data_home=str(plan.data_home))
        return DesktopResult(manifest=manifest, refreshed=refreshed)

    def uninstall_desktop(self, permit: Permit, manifest: Manifest) -> DesktopResult:
        """Remove what ``manifest`` lists (``desktop.install``, resource ``manifest.removal_resource()``).

        Only regular files whose SHA-256 is still the installed one are removed (a file
        another install or the user changed is kept and reported); then the folders the
        install created, deepest first, if they are empty.
        """
        removed: list[Path] = []
        kept: list[Path] = []
        with self._acting(permit, "desktop.install", manifest.removal_resource()):
            for name, digest in manifest.files.items():
                path = Path(name)
                try:
                    if not os.path.lexists(path):
                        continue
                    if path.is_symlink() or not path.is_file() or _file_sha256(path) != digest:
                        kept.append(path)
                        continue
                    path.unlink()
                    removed.append(path)
                except OSError:
                    kept.append(path)
            for folder in sorted(manifest.folders, key=len, reverse=True):
                with contextlib.suppress(OSError):
                    os.rmdir(folder)
            refreshed = _refresh_desktop_caches(Path(manifest.data_home)) if manifest.data_home else ()
        return DesktopResult(manifest=None, removed=tuple(removed), kept=tuple(kept), refreshed=refreshed)


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents (0755); the ones created, outermost first."""
    missing: list[Path] = []
    probe = folder
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for path in reversed(missing):
        os.mkdir(path, 0o755)
    return list(reversed(missing))


def _program(name: str) -> str | None:
    """``name`` on ``$PATH`` (``shutil.which`` without importing shutil)."""
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(folder or ".", name)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _refresh_desktop_caches(data_home: Path) -> tuple[str, ...]:
    """Run update-desktop-database / gtk-update-icon-cache where their cache already exists.

    Desktops read the folders directly when there is no cache; creating one would leave
    a file behind that uninstall does not own. A tool that is missing or fails is skipped.
    """
    import subprocess

    applications, hicolor = data_home / "applications", data_home / "icons" / "hicolor"
    jobs = (
        ("update-desktop-database", applications / "mimeinfo.cache", ["-q", str(applications)]),
        ("gtk-update-icon-cache", hicolor / "icon-theme.cache", ["-q", "-t", "-f", str(hicolor)]),
    )
    ran: list[str] = []
    for tool, cache, tail in jobs:
        program = _program(tool)
        if program is None or not cache.is_file():
            continue
        try:
            subprocess.run(
                [program, *tail],
                env=scrubbed_env(os.environ),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        ran.append(tool)
    return tuple(ran)


def set_aside_own_file(path: Path, suffix: str, *, roots: tuple[Path, ...]) -> Path:
    """Rename one of the app's own files (and its SQLite ``-wal``/``-shm``) to ``<name>.<suffix>``.

    Used to keep a tampered audit log for inspection when a new epoch begins;
    no permit is needed because the file is the app's own, but it must lie in
    ``roots`` (the app's data folder).

    Raises:
        OutsideRootsError: ``path`` is outside ``roots``.
        OSError: the rename failed.
    """
    resolved = path.resolve()
    if not any(resolved.is_relative_to(root.resolve()) for root in roots):
        raise OutsideRootsError("only the app's own files can be set aside")
    target = resolved.with_name(f"{resolved.name}.{suffix}")
    for extra in ("-wal", "-shm"):
        side = resolved.with_name(resolved.name + extra)
        if side.exists():
            os.replace(side, target.with_name(target.name + extra))
    os.replace(resolved, target)
    return target


def _entry(item: os.DirEntry[str]) -> DirEntry:
    is_dir = item.is_dir(follow_symlinks=False)
    size = None if is_dir else item.stat(follow_symlinks=False).st_size
    return DirEntry(
        name=item.name, path=Path(item.path), is_dir=is_dir, is_symlink=item.is_symlink(), size=size
    )


def _create_new(target: Path, data: bytes | Iterable[bytes], *, mode: int) -> None:
    """Reserve ``target`` with ``O_EXCL`` (never overwrite), then fill it atomically (or remove the name)."""
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, mode))
    except FileExistsError:
        raise TargetExistsError(f"{target} already exists") from None
    except OSError as exc:
        raise EffectFailedError(f"cannot create {target}: {exc.strerror}") from None
    try:
        _write_atomically(target, data, mode=mode)
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def _reported(chunks: Iterable[bytes], total: int | None, progress: Progress | None) -> Iterator[bytes]:
    """``chunks``, with ``progress(bytes so far, total)`` called after each one."""
    done = 0
    for chunk in chunks:
        yield chunk
        done += len(chunk)
        if progress is not None:
            progress(done, total)


def _temp_beside(target: Path) -> Path:
    return target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")


def _write_new(path: Path, chunks: Iterable[bytes], *, mode: int) -> None:
    """Create ``path`` (never an existing name or a symlink), write ``chunks``, fsync, set ``mode``."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, mode)
    with os.fdopen(fd, "wb") as handle:
        for chunk in chunks:
            handle.write(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, mode)


def _replace_with(target: Path, chunks: Iterable[bytes], *, mode: int) -> None:
    """Write ``chunks`` to a temporary file beside ``target`` and rename it over ``target``.

    Raises:
        OSError: the write or the rename failed; no temporary file is left.
    """
    temp = _temp_beside(target)
    try:
        _write_new(temp, chunks, mode=mode)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _write_atomically(target: Path, data: bytes | Iterable[bytes], *, mode: int) -> None:
    try:
        _replace_with(target, (data,) if isinstance(data, bytes) else data, mode=mode)
    except OSError as exc:
        raise EffectFailedError(f"cannot write {target}: {exc.strerror}") from None


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------- the app's own folders
def _own(path: Path, root: Path) -> Path:
    """The entry ``path`` names (its folder resolved, its name kept), if it lies below ``root``.

    Raises:
        OutsideRootsError: it does not (``..``, a symlinked folder leading out, ``root`` itself).
    """
    folder = canonical_path(root)
    entry = canonical_path(path.parent) / path.name
    if path.name in ("", ".", "..") or entry == folder or not inside_roots(entry, (folder,)):
        raise OutsideRootsError(f"{entry} is not inside the app folder {folder}")
    return entry


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class OwnFileLock:
    """An exclusive advisory lock on a file of the app folder ``root`` (created 0600), for ``with`` blocks.

    Processes of the same home take it before they compare and replace a shared
    file (the audit anchor), so two writers never move it backwards. The file
    stays open between blocks (one ``flock`` call to take it, one to release).
    Not for threads: callers serialise their own threads first.
    """

    def __init__(self, path: Path, *, root: Path) -> None:
        self._path = _own(path, root)
        self._fd: int | None = None

    def __enter__(self) -> None:
        if self._fd is None:
            self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def write_own_record(path: Path, data: bytes, *, size: int, root: Path, durable: bool) -> None:
    """Overwrite ``path`` in the app folder ``root`` (created 0600) with ``data`` padded to ``size`` bytes.

    One ``pwrite`` at offset 0 of a record that never changes length: a killed
    process leaves the old or the new record, and there is no rename, whose
    journal flush costs more than everything else an anchored append does.
    ``durable`` fsyncs it (a crash of the machine keeps it too).

    Raises:
        OutsideRootsError: ``path`` is not inside ``root``.
        ValueError: ``data`` is longer than ``size``.
        OSError: the file cannot be written.
    """
    _write_record(_own(path, root), data, size=size, durable=durable)


class OwnRecordFile:
    """A fixed-size record file of the app folder ``root``, checked once, written many times.

    The anchor is written on every Allow: resolving the folder each time cost
    more than the write itself. Where the file lies is checked when this is
    built; the runtime guard still checks every open.

    Raises:
        OutsideRootsError: ``path`` is not inside ``root``.
    """

    def __init__(self, path: Path, *, root: Path, size: int) -> None:
        self.path = _own(path, root)
        self.size = size

    def write(self, data: bytes, *, durable: bool) -> None:
        """See :func:`write_own_record`."""
        _write_record(self.path, data, size=self.size, durable=durable)


def _write_record(path: Path, data: bytes, *, size: int, durable: bool) -> None:
    if len(data) > size:
        raise ValueError(f"a record of {len(data)} bytes does not fit in {size}")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.pwrite(fd, data.ljust(size, b" "), 0)
        if os.fstat(fd).st_size != size:
            os.ftruncate(fd, size)
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def write_own_file(path: Path, data: bytes | Iterable[bytes], *, root: Path, mode: int = 0o600) -> Path:
    """Replace ``path`` in the app folder ``root`` with ``data`` atomically; return where it went.

    A temporary file beside it is written (``data`` may be chunks, for a streamed
    copy), fsynced and renamed over it, then the folder is fsynced: a crash leaves
    the old or the new content, never a mix. The folder is created (0700) if missing.

    Args:
        path: the file; its folder is resolved, a symlink at its own name is replaced, not followed.
        data: the content, or an iterable of chunks.
        root: the app's own folder the caller writes (data, config or cache, or one inside).
        mode: the new file's permissions.

    Raises:
        OutsideRootsError: ``path`` is not inside ``root``.
        OSError: the folder cannot be written.
    """
    target = _own(path, root)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    _replace_with(target, (data,) if isinstance(data, bytes) else data, mode=mode)
    _sync_folder(target.parent)
    return target


def create_own_file(path: Path, data: bytes, *, root: Path, mode: int = 0o600) -> bool:
    """Create ``path`` in the app folder ``root`` with ``data``; False if something is already there.

    Never overwrites and leaves no temporary file; the content appears whole: it is
    written beside, then hard-linked to the name (where the file system has no hard
    links, the name is reserved with ``O_EXCL`` and the content renamed over it).

    Raises:
        OutsideRootsError: ``path`` is not inside ``root``.
        OSError: the folder cannot be written.
    """
    target = _own(path, root)
    temp = _temp_beside(target)
    try:
        _write_new(temp, (data,), mode=mode)
        try:
            os.link(temp, target)  # atomic, and refuses to replace an existing file
        except OSError as exc:
            if isinstance(exc, FileExistsError) or exc.errno not in _NO_HARD_LINKS:
                raise
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, mode))
            os.replace(temp, target)
    except FileExistsError:
        return False
    finally:
        temp.unlink(missing_ok=True)
    return True


def replace_own_file(source: Path, target: Path, *, root: Path) -> Path:
    """Rename ``source`` over ``target`` (both in the app folder ``root``) atomically and durably.

    Returns the target.

    Raises:
        OutsideRootsError: either is not inside ``root``.
        OSError: the rename failed.
    """
    moved, destination = _own(source, root), _own(target, root)
    os.replace(moved, destination)
    _sync_folder(destination.parent)  # the rename itself survives a power cut
    return destination


def remove_own_file(path: Path, *, root: Path) -> bool:
    """Delete the file (or symlink; never what it points to) ``path`` in the app folder ``root``.

    Returns:
        True if it existed.

    Raises:
        OutsideRootsError: ``path`` is not inside ``root``.
        OSError: it could not be deleted (a folder, permissions).
    """
    try:
        os.unlink(_own(path, root))
    except FileNotFoundError:
        return False
    return True


def remove_own_folder(path: Path, *, root: Path) -> bool:
    """Delete the empty folder ``path`` in the app folder ``root`` (a staging folder that served its turn).

    Returns:
        True if it existed.

    Raises:
        OutsideRootsError: ``path`` is not inside ``root``.
        OSError: it is not empty, or could not be deleted.
    """
    try:
        os.rmdir(_own(path, root))
    except FileNotFoundError:
        return False
    return True


def extract_own_archive(
    archive: zipfile.ZipFile, members: Sequence[zipfile.ZipInfo], dest: Path, *, root: Path
) -> None:
    """Unpack ``members`` of an open zip ``archive`` into ``dest`` (``root`` or a folder inside it).

    The caller vets the members (sizes, links); here every member must land below
    ``dest`` once resolved.

    Raises:
        OutsideRootsError: ``dest`` is not inside ``root``, or a member would land outside ``dest``.
        OSError: the folder cannot be written.
    """
    folder = canonical_path(dest)
    if not inside_roots(folder, (canonical_path(root),)):
        raise OutsideRootsError(f"{folder} is not inside the app folder {canonical_path(root)}")
    for member in members:
        if not inside_roots(canonical_path(folder / member.filename), (folder,)):
            raise OutsideRootsError(f"{member.filename!r} would land outside {folder}")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    archive.extractall(folder, members=members)


# ---------------------------------------------------------------------- web
def redact_url(url: str) -> str:
    """``url`` without user info, query or fragment: safe for messages and logs."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def url_parts(url: str) -> SplitResult:
    """``url`` split into its parts (urllib is a side-effect library: only this module imports it).

    Raises:
        ValueError: the URL is malformed (a bad port, brackets...).
    """
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    _ = parts.port  # a malformed port raises here
    return parts


def check_web_url(url: str) -> None:
    """Accept only absolute ``http``/``https`` URLs with a host.

    Raises:
        UnsupportedUrlError: any other scheme (``file:``, ``javascript:``...) or no host.
    """
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # a malformed port raises here
    except ValueError:
        ok = False
    if not ok:
        raise UnsupportedUrlError("only absolute http(s) URLs are allowed")


def _origin(url: str) -> tuple[str, str, int | None]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _opener() -> OpenerDirector:
    """An opener that follows redirects only within the original origin."""
    import urllib.request

    class SameOriginRedirects(urllib.request.HTTPRedirectHandler):
        # The signature is urllib's; a type: ignore because urllib's stubs leave it untyped.
        def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def] # noqa: PLR0917
            if _origin(newurl) != _origin(req.full_url):
                return None  # urllib then raises HTTPError for the 3xx
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return urllib.request.build_opener(SameOriginRedirects)


def _http_failure(url: str, code: int) -> str:
    if 300 <= code < 400:
        return f"{redact_url(url)} redirected to another site (refused)"
    return f"HTTP {code} from {redact_url(url)}"


def _fetch(url: str, *, max_bytes: int, timeout: float) -> bytes:
    import http.client
    import urllib.error
    import urllib.request

    failure = ""
    body = b""
    try:
        request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})  # noqa: S310
        with _opener().open(request, timeout=timeout) as response:
            body = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        exc.close()
        failure = _http_failure(url, exc.code)
    except (OSError, http.client.HTTPException) as exc:
        failure = f"cannot reach {redact_url(url)}: {type(exc).__name__}"
    if failure:
        raise FetchError(failure)
    if len(body) > max_bytes:
        raise FetchError(f"{redact_url(url)} sent more than {max_bytes} bytes")
    return body


def _download_to(url: str, part: Path, *, timeout: float, progress: Progress | None) -> None:
    """Stream ``url`` into ``part``, resuming from its size with a Range request."""
    import http.client
    import urllib.error
    import urllib.request

    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    failure = ""
    try:
        request = urllib.request.Request(url, headers=headers)  # noqa: S310
        with _opener().open(request, timeout=timeout) as response:
            if response.status != 206:
                offset = 0  # the server ignored the range: start again
            length = response.headers.get("Content-Length", "")
            total = offset + int(length) if length.isdigit() else None
            with part.open("ab" if offset else "wb") as out:
                done = offset
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
                out.flush()
                os.fsync(out.fileno())
    except urllib.error.HTTPError as exc:
        exc.close()
        if not (exc.code == 416 and offset):  # 416 on a resume: the part is already whole
            failure = _http_failure(url, exc.code)
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        failure = f"cannot reach {redact_url(url)}: {type(exc).__name__}"
    except OSError as exc:
        raise EffectFailedError(f"cannot write {part}: {exc.strerror}") from None
    if failure:
        raise FetchError(failure)


# ---------------------------------------------------------------------- remote models
def check_base_url(base_url: str) -> None:
    """Accept a provider URL: http(s) with a host, no user info, query or fragment.

    Raises:
        RemoteError: BAD_REQUEST otherwise (a password in the URL would travel in the clear
            and land in messages; a query would be dropped by the path we append).
    """
    from urllib.parse import urlsplit

    try:
        check_web_url(base_url)
        parts = urlsplit(base_url)
        plain = parts.username is None and parts.password is None and not parts.query and not parts.fragment
    except (UnsupportedUrlError, ValueError):
        plain = False
    if not plain:
        raise RemoteError(
            RemoteStatus.BAD_REQUEST,
            "a provider URL must be http(s)://host[:port]/path without a password or query",
        )


class _ChatSocket:
    """The socket of one chat request, caught as it connects, so a cancel can shut it down at any time.

    httpcore reports the connected stream to the request's ``trace`` extension; the
    socket is taken from it (after TLS too, whose socket replaces the plain one). An
    abort that comes before the connection shuts it down the moment it exists.
    """

    def __init__(self, cancel: threading.Event | None) -> None:
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._stopped = threading.Event()
        self.aborted = False
        if cancel is not None:
            threading.Thread(
                target=self._watch, args=(cancel,), name="aether-chat-cancel", daemon=True
            ).start()

    def trace(self, name: str, info: dict[str, Any]) -> None:
        """httpcore's trace callback: keep the socket of a finished connect or TLS handshake."""
        if name not in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            return
        stream = info.get("return_value")
        found = stream.get_extra_info("socket") if stream is not None else None
        with self._lock:
            self._socket = found
            if self.aborted:
                _shut(found)

    def shutdown(self) -> None:
        """Shut the socket down now (or as soon as it connects); thread-safe."""
        with self._lock:
            self.aborted = True
            _shut(self._socket)

    def stop(self) -> None:
        """End the cancel watcher (the stream is closed)."""
        self._stopped.set()

    def _watch(self, cancel: threading.Event) -> None:
        while not self._stopped.is_set():
            if cancel.wait(_CANCEL_POLL):
                if not self._stopped.is_set():
                    self.shutdown()
                return


def _shut(sock: socket.socket | None) -> None:
    import socket

    if sock is not None:
        with contextlib.suppress(OSError):  # already closed by its owner, or never connected
            sock.shutdown(socket.SHUT_RDWR)


def _chat_lines(response: httpx.Response, connection: _ChatSocket, base_url: str) -> Iterator[str]:
    """The lines of a chat stream; network failures become RemoteError, unless the stream was aborted."""
    import httpx

    failure: RemoteError | None = None
    try:
        yield from response.iter_lines()
    except httpx.TimeoutException:
        failure = RemoteError(RemoteStatus.TIMEOUT, f"{redact_url(base_url)} stopped sending (read timeout)")
    except (httpx.HTTPError, httpx.StreamError, OSError) as exc:
        failure = RemoteError(
            RemoteStatus.DROPPED, f"the connection to {redact_url(base_url)} broke: {type(exc).__name__}"
        )
    if failure is not None and not connection.aborted:
        raise failure


def _read_some(response: httpx.Response, limit: int) -> bytes:
    import httpx

    data = b""
    with contextlib.suppress(httpx.HTTPError, httpx.StreamError, OSError):
        for chunk in response.iter_raw():
            data += chunk
            if len(data) >= limit:
                break
    return data[:limit]
