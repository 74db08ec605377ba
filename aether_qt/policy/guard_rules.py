"""The guard's rules for files, SQLite databases, processes and the working folder.

Pure decisions on one audit event (a DEBUG log line apart): each check returns a
violation reason or None. :mod:`.guard` applies them outside effectors;
:mod:`.guard_net` and :mod:`.guard_native` hold the rules for sockets and native code.

Paths are judged twice: as named (the folder resolved, the last component kept,
so a symlink's own location counts) and where they lead (every symlink resolved).
Both must lie in the writable roots, the temp folder or ``/dev/null``.
"""

from __future__ import annotations

import logging
import os
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_log = logging.getLogger(__name__)

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_WRITE_MODE_CHARS = frozenset("wax+")
_ALWAYS_WRITABLE = frozenset({os.devnull})
_HEX = frozenset(string.hexdigits)


@dataclass(frozen=True, slots=True)
class AllowedLibrary:
    """A native library that may be loaded after start-up, resolved for matching.

    Attributes:
        names: exact names it may be opened by (sonames, and absolute paths as given and canonical).
        folders: canonical package folders; any library inside them matches.
        symbols: the prefix every symbol looked up in it must have (``""``: no look-ups).
    """

    names: frozenset[str]
    folders: tuple[str, ...]
    symbols: str


@dataclass(frozen=True, slots=True)
class GuardRules:
    """What the guard lets through without an effector, canonicalised once.

    Attributes:
        writable: the app's own folders (``os.path.realpath`` + ``normcase``).
        temp: temp folders also writable (logged at DEBUG).
        unix_sockets: Unix sockets that may be connected to: canonical paths, and
            abstract names starting with ``"\\0"``.
        libraries: native libraries that may be loaded after start-up.
    """

    writable: tuple[str, ...]
    temp: tuple[str, ...]
    unix_sockets: frozenset[str] = field(default_factory=frozenset)
    libraries: tuple[AllowedLibrary, ...] = ()


Check = Callable[[str, tuple[object, ...], GuardRules], str | None]
"""One rule: (event, arguments, rules) -> a violation reason or None."""


def canonical(path: str) -> str:
    """``path`` with every symlink and ``..`` resolved, case-normalised."""
    return os.path.normcase(os.path.realpath(path))


def inside(path: str, roots: tuple[str, ...]) -> bool:
    """True if canonical ``path`` is one of ``roots`` or below one."""
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def make_rules(
    writable_roots: Sequence[Path],
    temp_dirs: Sequence[Path],
    *,
    unix_sockets: Sequence[str] = (),
    libraries: Sequence[AllowedLibrary] = (),
) -> GuardRules:
    """Canonicalise the guard's folders and sockets once, before the hook needs them."""
    return GuardRules(
        writable=tuple(canonical(os.fspath(p)) for p in writable_roots),
        temp=tuple(canonical(os.fspath(p)) for p in temp_dirs),
        unix_sockets=frozenset(s if s.startswith("\0") else canonical(s) for s in unix_sockets),
        libraries=tuple(libraries),
    )


def default_temp_dirs() -> tuple[Path, ...]:
    """The system temp folder as :mod:`tempfile` would pick it (env first, then ``/tmp``).

    :mod:`tempfile` itself is not imported: it imports :mod:`shutil`.
    """
    for name in ("TMPDIR", "TEMP", "TMP"):
        value = os.environ.get(name)
        if value:
            return (Path(value),)
    return (Path("/tmp"),)  # noqa: S108 - the POSIX default; Windows always sets TEMP


# ---------------------------------------------------------------------- paths
class _Unresolvable(ValueError):
    """The path cannot be placed (a bad type, a NUL, an unknown descriptor)."""


def _descriptor_path(fd: int) -> str:
    """Where an open descriptor points now (Linux ``/proc``), or raise."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        raise _Unresolvable("unknown descriptor") from None
    if not os.path.isabs(target) or target.endswith(" (deleted)"):
        raise _Unresolvable("not a file in a folder")  # a pipe, socket, memfd or deleted file
    return target


def _text(path: object) -> str:
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise _Unresolvable("not a path")
    raw = os.fsdecode(path)
    if "\0" in raw:
        raise _Unresolvable("NUL in path")
    return raw


def absolute(path: object, dir_fd: object = -1) -> str:
    """``path`` made absolute (not resolved): against ``dir_fd`` if given, else the working folder.

    An ``int`` path is an open descriptor (``fchmod``, ``futimes``...): where it points.

    Raises:
        ValueError: the path cannot be placed.
    """
    if isinstance(path, int):
        return _descriptor_path(path)
    raw = _text(path)
    if os.path.isabs(raw):
        return raw
    if isinstance(dir_fd, int) and dir_fd >= 0:
        return os.path.join(_descriptor_path(dir_fd), raw)
    return os.path.abspath(raw)


def _entry(raw: str) -> str:
    """The location of the directory entry ``raw`` names: its folder resolved, its own name kept."""
    head, tail = os.path.split(raw)
    if tail in ("", ".", ".."):
        return canonical(raw)
    return os.path.normcase(os.path.join(os.path.realpath(head), tail))


def _writable(path: str, event: str, rules: GuardRules) -> bool:
    if path in _ALWAYS_WRITABLE or inside(path, rules.writable):
        return True
    if inside(path, rules.temp):
        _log.debug("guard allowed %s in the temp folder: %s", event, path)
        return True
    return False


def place_reason(event: str, raw: str, rules: GuardRules, what: str = "write") -> str | None:
    """Why writing the absolute path ``raw`` is refused (as named or where it leads), or None."""
    for where in (_entry(raw), canonical(raw)):
        if not _writable(where, event, rules):
            return f"{event}: {what} outside the data folder: {where}"
    return None


def path_reason(event: str, path: object, dir_fd: object, rules: GuardRules) -> str | None:
    """Why changing ``path`` (relative to ``dir_fd`` or the working folder) is refused, or None."""
    try:
        raw = absolute(path, dir_fd)
    except (OSError, ValueError):
        return f"{event}: unresolvable path"
    return place_reason(event, raw, rules)


def _is_write_open(mode: object, flags: object) -> bool:
    if isinstance(mode, str) and not _WRITE_MODE_CHARS.isdisjoint(mode):
        return True
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


def _check_open(event: str, args: tuple[object, ...], rules: GuardRules) -> str | None:
    path, mode, flags = args[0], args[1], args[2]
    if not _is_write_open(mode, flags) or isinstance(path, int):
        return None  # a read, or an already open descriptor (its opening was checked)
    try:
        raw = _text(path)
    except _Unresolvable:
        return f"{event}: unresolvable path"
    if not os.path.isabs(raw):
        # The event does not say whether ``dir_fd`` was given, so a relative name cannot be placed.
        return f"{event}: relative path opened for writing: {raw}"
    return place_reason(event, raw, rules)


# event -> indices of (path, dir_fd) pairs the event mutates; dir_fd index -1 = none.
_PATH_EVENTS: dict[str, tuple[tuple[int, int], ...]] = {
    "os.remove": ((0, 1),),
    "os.rmdir": ((0, 1),),
    "os.mkdir": ((0, 2),),
    "os.rename": ((0, 2), (1, 3)),
    "os.link": ((0, 2), (1, 3)),
    "os.truncate": ((0, -1),),
    "os.chmod": ((0, 2),),
    "os.chown": ((0, 3),),
    "os.utime": ((0, 3),),
    "os.chflags": ((0, -1),),
    "os.lchflags": ((0, -1),),
    "os.setxattr": ((0, -1),),
    "os.removexattr": ((0, -1),),
    "shutil.rmtree": ((0, 1),),
}


def _check_paths(event: str, args: tuple[object, ...], rules: GuardRules) -> str | None:
    for path_index, fd_index in _PATH_EVENTS[event]:
        dir_fd = args[fd_index] if fd_index >= 0 else -1
        reason = path_reason(event, args[path_index], dir_fd, rules)
        if reason is not None:
            return reason
    return None


def _check_symlink(event: str, args: tuple[object, ...], rules: GuardRules) -> str | None:
    """Both the link and what it points to must be inside (a relative target counts from the link)."""
    target, link, dir_fd = args[0], args[1], args[2]
    try:
        where = absolute(link, dir_fd)
        pointed = _text(target)
    except (OSError, ValueError):
        return f"{event}: unresolvable path"
    reason = place_reason(event, where, rules)
    if reason is not None:
        return reason
    if not pointed:
        return f"{event}: unresolvable path"
    return place_reason(event, os.path.join(os.path.dirname(where), pointed), rules, "link target")


# ---------------------------------------------------------------------- SQLite
def _unquote(text: str) -> str:
    """Percent-decoding of a URI path; raises ValueError on a malformed escape."""
    head, *parts = text.split("%")
    out = bytearray(head.encode("utf-8"))
    for part in parts:
        if len(part) < 2 or not _HEX.issuperset(part[:2]):
            raise ValueError("bad escape")
        out += bytes.fromhex(part[:2]) + part[2:].encode("utf-8")
    return out.decode("utf-8")


def sqlite_file(name: object) -> str | None:
    """The absolute file a SQLite database name opens, or None for a memory or temp database.

    Understands ``file:`` URIs (authority, query and fragment; ``mode=memory``).

    Raises:
        ValueError: the name cannot be placed.
    """
    raw = _text(name)
    if raw in ("", ":memory:"):
        return None
    if raw.startswith("file:"):
        rest, _, query = raw[5:].split("#", 1)[0].partition("?")
        if rest.startswith("//"):
            authority, slash, tail = rest[2:].partition("/")
            if authority not in ("", "localhost"):
                raise _Unresolvable("remote URI authority")
            rest = slash + tail
        if "mode=memory" in query.split("&") or rest in ("", ":memory:"):
            return None
        raw = _unquote(rest)
        if "\0" in raw:
            raise _Unresolvable("NUL in path")
    return os.path.abspath(raw)


def database_reason(event: str, name: object, rules: GuardRules) -> str | None:
    """Why opening or attaching the SQLite database ``name`` is refused, or None."""
    if name is None:
        return f"{event}: a database name computed at run time"  # ATTACH ?, ATTACH 'a' || 'b'
    try:
        raw = sqlite_file(name)
    except ValueError:
        return f"{event}: unresolvable database name"
    return None if raw is None else place_reason(event, raw, rules, "database")


def _check_sqlite(event: str, args: tuple[object, ...], rules: GuardRules) -> str | None:
    return database_reason(event, args[0], rules)


# ---------------------------------------------------------------------- processes
def _program(event: str, args: tuple[object, ...]) -> str:
    """The program's base name only: arguments may carry secrets."""
    if event == "os.system":
        return "a shell command"
    candidate: object = args[1] if event == "os.spawn" else args[0]
    if event == "subprocess.Popen" and candidate is None:
        argv = args[1]
        candidate = argv[0] if isinstance(argv, (list, tuple)) and argv else None
    if isinstance(candidate, (str, bytes, os.PathLike)):
        return os.path.basename(os.fsdecode(candidate))
    return "a program"


def _check_process(event: str, args: tuple[object, ...], rules: GuardRules) -> str | None:
    return f"{event}: starting {_program(event, args)}"


def _check_fork(event: str, args: tuple[object, ...], rules: GuardRules) -> str | None:
    return f"{event}: forking the process"


def _check_chdir(event: str, args: tuple[object, ...], rules: GuardRules) -> str | None:
    return f"{event}: changing the working folder"  # relative paths would move with it


FILE_CHECKS: dict[str, Check] = {
    "open": _check_open,
    **dict.fromkeys(_PATH_EVENTS, _check_paths),
    "os.symlink": _check_symlink,
    "sqlite3.connect": _check_sqlite,
    **dict.fromkeys(
        (
            "subprocess.Popen",
            "os.system",
            "os.exec",
            "os.posix_spawn",
            "os.spawn",
            "os.startfile",
            "_posixsubprocess.fork_exec",  # raised by the guard's wrapper: fork_exec has no event
        ),
        _check_process,
    ),
    "os.fork": _check_fork,
    "os.forkpty": _check_fork,
    "os.chdir": _check_chdir,
}
"""File, database, process and working-folder rules by audit event."""
