"""The runtime guard: a ``sys.addaudithook`` hook that makes ungated side effects fail loudly.

Only :mod:`aether_qt.policy.effects` may touch the outside world, and only with a
permit from the gate. The guard backs that rule at run time: once installed, the
hook raises :class:`GuardViolation` for

* ``open`` for writing (and ``os.remove``/``rename``/``mkdir``/``rmdir``/``truncate``/
  ``chmod``/``chown``/``utime``/``symlink``/``link``, ``shutil.rmtree``) on a path
  outside the writable roots (the app's data, config and cache folders), the system
  temp folder and ``/dev/null``;
* ``socket.connect``/``sendto``/``sendmsg`` to anything but a loopback address or a
  Unix socket;
* starting a process: ``subprocess.Popen``, ``os.system``, ``os.exec*``,
  ``os.posix_spawn*``, ``os.spawn*``, ``os.startfile``;

unless an effector is running in the current thread or task
(:meth:`Guard.effector`, a :mod:`contextvars` flag, so it never leaks to other
threads).

Choices and limits (see also the threat model):

* The system temp folder is writable because libraries use it routinely (sqlite
  temp files, ``tempfile`` in third-party code); such writes are logged at DEBUG.
* Installing sets ``sys.dont_write_bytecode``: otherwise every first import would
  write a ``.pyc`` into ``__pycache__`` next to the package, outside the data folder.
* Audit hooks cannot be removed. The hook therefore consults its :class:`Guard`
  (``enabled``); :meth:`Guard.disable` turns it into a no-op, which tests need.
* Audit hooks are a tripwire for Python-level code, not a sandbox: C extensions,
  ``ctypes`` and operations relative to a directory descriptor on systems without
  ``/proc`` are not seen. ``os.fork`` is allowed (nothing we ship uses it; what a
  child then executes is still checked).
"""

from __future__ import annotations

import contextvars
import ipaddress
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aether_qt.policy.contracts import PolicyError

_log = logging.getLogger(__name__)

AuditHook = Callable[[str, tuple[Any, ...]], None]
"""What :func:`sys.addaudithook` registers: called with each event and its arguments."""

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_WRITE_MODE_CHARS = frozenset("wax+")
_ALWAYS_WRITABLE = frozenset({os.devnull})

# event -> indices of (path, dir_fd) pairs the event mutates; dir_fd index -1 = none.
_PATH_EVENTS: dict[str, tuple[tuple[int, int], ...]] = {
    "os.remove": ((0, 1),),
    "os.rmdir": ((0, 1),),
    "os.mkdir": ((0, 2),),
    "os.rename": ((0, 2), (1, 3)),
    "os.truncate": ((0, -1),),
    "os.chmod": ((0, 2),),
    "os.chown": ((0, 3),),
    "os.utime": ((0, 3),),
    "os.symlink": ((1, 2),),
    "os.link": ((1, 3),),
    "shutil.rmtree": ((0, 1),),
}
_SOCKET_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg"})
_PROCESS_EVENTS = frozenset(
    {"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.startfile"}
)
WATCHED_EVENTS = frozenset({"open", *_PATH_EVENTS, *_SOCKET_EVENTS, *_PROCESS_EVENTS})


class GuardViolation(PolicyError):
    """A side effect was attempted outside an effector; the message names no secret."""


@dataclass(frozen=True, slots=True)
class Violation:
    """What the guard stopped, for the app's banner or event.

    Attributes:
        event: the audit event (``open``, ``socket.connect``, ``subprocess.Popen``...).
        reason: a short description: a path, an address or a program name, never
            command arguments or file contents.
    """

    event: str
    reason: str


@dataclass(frozen=True, slots=True)
class GuardRoots:
    """Canonical folders the guard lets anyone write (``os.path.realpath`` + ``normcase``)."""

    writable: tuple[str, ...]
    temp: tuple[str, ...]


def _canonical(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def make_roots(writable_roots: Sequence[Path], temp_dirs: Sequence[Path]) -> GuardRoots:
    """Canonicalise the guard's folders once, before the hook needs them."""
    return GuardRoots(
        writable=tuple(_canonical(os.fspath(p)) for p in writable_roots),
        temp=tuple(_canonical(os.fspath(p)) for p in temp_dirs),
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


def _is_write_open(mode: object, flags: object) -> bool:
    if isinstance(mode, str) and not _WRITE_MODE_CHARS.isdisjoint(mode):
        return True
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


def _resolve(path: object, dir_fd: object) -> str | None:
    """Canonical form of ``path`` (relative to cwd or ``dir_fd``); None if not a path."""
    if isinstance(path, int):  # an already open descriptor: its opening was checked
        return None
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError("not a path")
    raw = os.fsdecode(path)
    if isinstance(dir_fd, int) and dir_fd >= 0 and not os.path.isabs(raw):
        try:
            base = os.readlink(f"/proc/self/fd/{dir_fd}")
        except OSError:
            return None  # no /proc: descriptor-relative paths are not seen (documented limit)
        raw = os.path.join(base, raw)
    return _canonical(raw)


def _check_path(event: str, path: object, dir_fd: object, roots: GuardRoots) -> str | None:
    try:
        resolved = _resolve(path, dir_fd)
    except (OSError, TypeError, ValueError):
        return f"{event}: unresolvable path"
    if resolved is None or resolved in _ALWAYS_WRITABLE or _inside(resolved, roots.writable):
        return None
    if _inside(resolved, roots.temp):
        _log.debug("guard allowed %s in the temp folder: %s", event, resolved)
        return None
    return f"{event}: write outside the data folder: {resolved}"


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False  # a host name: resolving it is itself network traffic
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def _check_socket(event: str, args: tuple[object, ...]) -> str | None:
    address = args[1]
    if address is None or isinstance(address, (str, bytes)):
        return None  # an already connected socket, or a Unix socket path
    host = address[0] if isinstance(address, tuple) and address else None
    if _is_loopback(host):
        return None
    port = address[1] if isinstance(address, tuple) and len(address) > 1 else "?"
    return f"{event}: non-loopback address {host}:{port}"


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


def check_event(event: str, args: tuple[object, ...], roots: GuardRoots) -> str | None:
    """Decide one audit event: a violation reason, or None if it may proceed.

    Pure apart from a DEBUG log line; the hook applies it only outside effectors.

    Args:
        event: the audit event name.
        args: the event's arguments as passed to the hook.
        roots: the canonical writable and temp folders.
    """
    if event == "open":
        path, mode, flags = args[0], args[1], args[2]
        return _check_path(event, path, -1, roots) if _is_write_open(mode, flags) else None
    pairs = _PATH_EVENTS.get(event)
    if pairs is not None:
        for path_index, fd_index in pairs:
            dir_fd = args[fd_index] if fd_index >= 0 else -1
            reason = _check_path(event, args[path_index], dir_fd, roots)
            if reason is not None:
                return reason
        return None
    if event in _SOCKET_EVENTS:
        return _check_socket(event, args)
    if event in _PROCESS_EVENTS:
        return f"{event}: starting {_program(event, args)}"
    return None


class Guard:
    """Holds the guard's state; the audit hook consults it on every event.

    There is no module-level registry: the app creates one guard, installs it once,
    and passes it to :class:`~aether_qt.policy.effects.Effectors`.

    Args:
        writable_roots: folders anyone may write (the app's data, config, cache).
        temp_dirs: temp folders also allowed (logged at DEBUG); default: the system's.
        on_violation: called with each :class:`Violation` before the hook raises,
            from whatever thread tripped it; its own exceptions are logged, not raised.
        add_hook: registers the hook on :meth:`install` (default :func:`sys.addaudithook`;
            tests pass a list's ``append``, since a registered hook can never be removed).
    """

    def __init__(
        self,
        writable_roots: Sequence[Path],
        *,
        temp_dirs: Sequence[Path] | None = None,
        on_violation: Callable[[Violation], None] | None = None,
        add_hook: Callable[[AuditHook], None] = sys.addaudithook,
    ) -> None:
        chosen_temp = default_temp_dirs() if temp_dirs is None else tuple(temp_dirs)
        self._roots = make_roots(writable_roots, chosen_temp)
        self._on_violation = on_violation
        self._add_hook = add_hook
        self._in_effector: contextvars.ContextVar[bool] = contextvars.ContextVar(
            f"aether_guard_effector_{id(self)}", default=False
        )
        self._in_hook: contextvars.ContextVar[bool] = contextvars.ContextVar(
            f"aether_guard_hook_{id(self)}", default=False
        )
        self._lock = threading.Lock()
        self._violations = 0
        self._installed = False
        self._watched = WATCHED_EVENTS  # held here: module globals may be gone at interpreter exit
        self.enabled = False

    @property
    def roots(self) -> GuardRoots:
        """The canonical folders this guard lets anyone write."""
        return self._roots

    @property
    def installed(self) -> bool:
        """True once :meth:`install` registered the hook (it stays for the process)."""
        return self._installed

    @property
    def violations(self) -> int:
        """How many side effects the guard has stopped."""
        return self._violations

    @property
    def effector_running(self) -> bool:
        """True inside :meth:`effector` in the current thread or task."""
        return self._in_effector.get()

    def install(self) -> None:
        """Register the hook (once) and enable it; also stop writing ``.pyc`` files."""
        sys.dont_write_bytecode = True
        if not self._installed:
            self._add_hook(self._hook)
            self._installed = True
        self.enabled = True

    def disable(self) -> None:
        """Make the installed hook a no-op (audit hooks cannot be removed)."""
        self.enabled = False

    @contextmanager
    def effector(self) -> Iterator[None]:
        """Mark "an effector is running" for the current thread or task."""
        token = self._in_effector.set(True)
        try:
            yield
        finally:
            self._in_effector.reset(token)

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Drop effector rights for a callback run from inside an effector."""
        token = self._in_effector.set(False)
        try:
            yield
        finally:
            self._in_effector.reset(token)

    def _hook(self, event: str, args: tuple[object, ...]) -> None:
        # First lines must stay cheap: the hook sees every audit event of the process.
        if not self.enabled or event not in self._watched or self._in_effector.get():
            return
        if self._in_hook.get():
            return  # our own logging or callback; never recurse
        token = self._in_hook.set(True)
        try:
            reason = check_event(event, args, self._roots)
            if reason is None:
                return
            self._report(Violation(event=event, reason=reason))
        finally:
            self._in_hook.reset(token)
        raise GuardViolation(reason)

    def _report(self, violation: Violation) -> None:
        with self._lock:
            self._violations += 1
        if self._on_violation is None:
            return
        try:
            self._on_violation(violation)
        except Exception:
            _log.exception("guard violation callback failed for %s", violation.event)
