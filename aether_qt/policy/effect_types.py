"""Results, errors and path rules of the effectors (no side effects here).

Kept apart from :mod:`aether_qt.policy.effects` so that callers can type and catch
effector results without importing the one module that touches the outside.
Error messages name paths, programs and redacted URLs; never file contents,
command arguments or secrets.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from aether_qt.policy.contracts import PolicyError

# Name parts that mark a secret: OPENAI_API_KEY, GITHUB_TOKEN, DB_PASSWORD (not XAUTHORITY).
_SECRET_NAME = re.compile(
    r"(^|_)(API_?KEY|KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIALS?|COOKIE)(_|$)", re.IGNORECASE
)


class EffectError(PolicyError):
    """An effector refused or failed; the message names no content or secret."""


class OutsideRootsError(EffectError):
    """The path is outside the approved folders, whatever the permit says."""


class NotTextError(EffectError):
    """The file is not UTF-8 text."""


class TargetExistsError(EffectError):
    """Creating would overwrite something that exists."""


class UnsupportedUrlError(EffectError):
    """Only absolute ``http`` and ``https`` URLs are allowed."""


class FetchError(EffectError):
    """The server failed, could not be reached, redirected elsewhere or sent too much."""


class HashMismatchError(EffectError):
    """A download's SHA-256 differs from the pinned one; nothing was kept."""


class ProcessTimeoutError(EffectError):
    """A process ran past its timeout and was killed."""


class EffectFailedError(EffectError):
    """The operating system refused the act (missing file, permissions, disk full)."""


@dataclass(frozen=True, slots=True)
class FileText:
    """A text file as read.

    Attributes:
        path: canonical path read.
        text: the decoded text, at most ``max_bytes`` of the file.
        truncated: True if the file was longer than ``max_bytes``.
        size: the file's size in bytes.
    """

    path: Path
    text: str
    truncated: bool
    size: int


@dataclass(frozen=True, slots=True)
class DirEntry:
    """One entry of a listed folder (symlinks are not followed)."""

    name: str
    path: Path
    is_dir: bool
    is_symlink: bool
    size: int | None


@dataclass(frozen=True, slots=True)
class ProcessResult:
    """What a finished process returned (output decoded as UTF-8, invalid bytes replaced)."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    truncated: bool


def canonical_path(path: Path) -> Path:
    """``path`` with ``~``, ``..`` and every symlink resolved (it need not exist)."""
    return Path(os.path.realpath(os.path.expanduser(os.fspath(path))))


def inside_roots(path: Path, roots: Sequence[Path]) -> bool:
    """True if canonical ``path`` is one of canonical ``roots`` or below one (case-aware)."""
    candidate = os.path.normcase(os.fspath(path))
    for root in roots:
        base = os.path.normcase(os.fspath(root))
        if candidate == base or candidate.startswith(base.rstrip(os.sep) + os.sep):
            return True
    return False


def scrubbed_env(environ: Mapping[str, str]) -> dict[str, str]:
    """A child process's environment: ``environ`` minus names that look like secrets."""
    return {name: value for name, value in environ.items() if not _SECRET_NAME.search(name)}


class ChatStream:
    """An open streaming response of a remote model (:meth:`Effectors.open_chat_stream`).

    The request went out with effector rights; reading it does not need them (a
    connected socket's reads raise no guard event), so the caller reads it in its
    own thread. Built by the effector from the response's parts.

    Args:
        status_code: the HTTP status.
        headers: response headers, names in lower case.
        lines: the body's lines (without line endings); a network failure raises
            :class:`~aether_qt.core.generation.RemoteError` (DROPPED, TIMEOUT), an
            abort ends them quietly.
        read: reads at most ``limit`` bytes of the body (never raises).
        shutdown: shuts the socket down (thread-safe, idempotent).
        release: closes the response and its connection.
    """

    def __init__(
        self,
        *,
        status_code: int,
        headers: Mapping[str, str],
        lines: Callable[[], Iterator[str]],
        read: Callable[[int], bytes],
        shutdown: Callable[[], None],
        release: Callable[[], None],
    ) -> None:
        self.status_code = status_code
        self.headers = dict(headers)
        self._lines, self._read, self._shutdown, self._release = lines, read, shutdown, release
        self._lock = threading.Lock()
        self._aborted = False
        self._closed = False

    @property
    def aborted(self) -> bool:
        """True once :meth:`abort` ran."""
        return self._aborted

    def iter_lines(self) -> Iterator[str]:
        """The body's lines as they arrive (see ``lines`` above)."""
        return self._lines()

    def read_error_body(self, limit: int) -> bytes:
        """At most ``limit`` bytes of the body of a failed request (for a log line the caller vets)."""
        return self._read(limit)

    def abort(self) -> None:
        """Shut the socket down from any thread: a blocked read returns at once, the server sees the close."""
        with self._lock:  # held while shutting down: close() never frees the socket under it
            if self._aborted or self._closed:
                return
            self._aborted = True
            self._shutdown()

    def close(self) -> None:
        """Close the response and its connection (idempotent; in the reading thread)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._release()

    def __enter__(self) -> ChatStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
