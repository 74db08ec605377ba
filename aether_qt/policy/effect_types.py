"""Results, errors and path rules of the effectors (no side effects here).

Kept apart from :mod:`aether_qt.policy.effects` so that callers can type and catch
effector results without importing the one module that touches the outside.
Error messages name paths, programs and redacted URLs; never file contents,
command arguments or secrets.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
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
