"""The runtime guard: a ``sys.addaudithook`` hook that makes ungated side effects fail loudly.

Only :mod:`aether_qt.policy.effects` may touch the outside world, and only with a
permit from the gate. The guard backs that rule at run time: once installed, it
raises :class:`GuardViolation`, unless an effector is running in the current
thread or task (:meth:`Guard.effector`, a :mod:`contextvars` flag, so it never
leaks to other threads), for

* writes outside the writable roots (the app's data, config and cache folders),
  the system temp folder and ``/dev/null``: ``open`` for writing, ``os.remove``/
  ``rename``/``link``/``symlink``/``mkdir``/``rmdir``/``truncate``/``chmod``/``chown``/
  ``utime``/xattrs, ``shutil.rmtree``; both ends of a rename or link and a
  symlink's target; a path as named and where it leads; a relative write-open
  (the ``open`` event does not carry ``dir_fd``); ``os.chdir``;
* SQLite databases outside those folders, at connect and at ``ATTACH``/
  ``VACUUM INTO`` (an authorizer set on every connection the hook sees);
* sockets and names (:mod:`.guard_net`): loopback, or the session's bus, sound
  and X server sockets; no wildcard ``bind``; no name resolution but loopback;
* processes: ``subprocess.Popen``, ``os.system``, ``os.exec*``, ``os.posix_spawn*``,
  ``os.spawn*``, ``os.fork``/``forkpty`` and ``_posixsubprocess.fork_exec``;
* native code (:mod:`.guard_native`): libraries off the allowlist, symbols outside
  a library's prefix, SQLite extensions.

The rules live in :mod:`.guard_rules`, :mod:`.guard_net` and :mod:`.guard_native`;
:func:`check_event` applies them and is pure (no state, a DEBUG log line apart).

Once installed, the guard cannot be switched off: audit hooks cannot be removed,
the hook consults no flag, and :meth:`Guard.disable` works only on a guard built
with ``disarmable=True`` (tests). It is a tripwire for Python-level code, not a
sandbox: see the threat model's known limits. Installing also sets
``sys.dont_write_bytecode``: every first import would otherwise write a ``.pyc``
next to the package, outside the data folder.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from aether_qt.policy.contracts import PolicyError
from aether_qt.policy.guard_native import (
    APP_LIBRARIES,
    NATIVE_CHECKS,
    ConnectionGate,
    NativeCheck,
    NativeLibrary,
    resolve_libraries,
    wrap_native_entry_points,
)
from aether_qt.policy.guard_net import NET_CHECKS, session_sockets
from aether_qt.policy.guard_rules import (
    FILE_CHECKS,
    Check,
    GuardRules,
    database_reason,
    default_temp_dirs,
    make_rules,
)

_log = logging.getLogger(__name__)

_UNAUTHORIZED_CONNECTION = (
    "sqlite3.connect/handle: a connection not made by sqlite3.connect gets no authorizer"
)

AuditHook = Callable[[str, tuple[object, ...]], None]
"""What :func:`sys.addaudithook` registers: called with each event and its arguments."""

CHECKS: Mapping[str, Check] = MappingProxyType({**FILE_CHECKS, **NET_CHECKS, **NATIVE_CHECKS})
WATCHED_EVENTS = frozenset({*CHECKS, "sqlite3.connect/handle"})

__all__ = [
    "APP_LIBRARIES",
    "WATCHED_EVENTS",
    "AuditHook",
    "Guard",
    "GuardRules",
    "GuardViolation",
    "NativeLibrary",
    "Violation",
    "check_event",
    "default_temp_dirs",
    "make_rules",
]


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


def check_event(event: str, args: tuple[object, ...], rules: GuardRules) -> str | None:
    """Decide one audit event: a violation reason, or None if it may proceed.

    Pure apart from a DEBUG log line; the hook applies it only outside effectors.

    Args:
        event: the audit event name.
        args: the event's arguments as passed to the hook.
        rules: the canonical folders, sockets and libraries the guard lets through.
    """
    check = CHECKS.get(event)
    return None if check is None else check(event, args, rules)


def check_attach(name: object, rules: GuardRules) -> str | None:
    """Decide an SQLite ``ATTACH`` (also how ``VACUUM INTO`` opens its file) of ``name``."""
    return database_reason("sqlite3.attach", name, rules)


Authorizer = Callable[[int, "str | None", "str | None", "str | None", "str | None"], int]


class _Connections:
    """Gives each connection made by the wrapped ``sqlite3.connect`` the guard's authorizer."""

    def __init__(self, authorizer: Authorizer) -> None:
        self._authorizer = authorizer
        self._opening: contextvars.ContextVar[bool] = contextvars.ContextVar(
            f"aether_guard_sqlite_{id(self)}", default=False
        )

    @property
    def is_opening(self) -> bool:
        return self._opening.get()

    @contextmanager
    def opening(self) -> Iterator[None]:
        token = self._opening.set(True)
        try:
            yield
        finally:
            self._opening.reset(token)

    def opened(self, connection: Any) -> None:
        connection.set_authorizer(self._authorizer)


class Guard:
    """Holds the guard's rules and counters; its audit hook applies them to every event.

    There is no module-level registry: the app creates one guard, installs it once,
    and passes it to :class:`~aether_qt.policy.effects.Effectors`.

    Args:
        writable_roots: folders anyone may write (the app's data, config, cache).
        temp_dirs: temp folders also allowed (logged at DEBUG); default: the system's.
        on_violation: called with each :class:`Violation` before the hook raises,
            from whatever thread tripped it; its own exceptions are logged, not raised.
        environ: where the session's sockets are read from (default :data:`os.environ`).
        libraries: native libraries that may be loaded after install.
        disarmable: only for tests: :meth:`disable` may switch this guard off.
        add_hook: registers the hook on :meth:`install` (default :func:`sys.addaudithook`;
            tests pass a list's ``append``, since a registered hook can never be removed).
        wrap_natives: wraps the entry points without a usable event, on :meth:`install`
            (default :func:`~aether_qt.policy.guard_native.wrap_native_entry_points`).
    """

    def __init__(
        self,
        writable_roots: Sequence[Path],
        *,
        temp_dirs: Sequence[Path] | None = None,
        on_violation: Callable[[Violation], None] | None = None,
        environ: Mapping[str, str] | None = None,
        libraries: Sequence[NativeLibrary] = APP_LIBRARIES,
        disarmable: bool = False,
        add_hook: Callable[[AuditHook], None] = sys.addaudithook,
        wrap_natives: Callable[[NativeCheck, ConnectionGate], None] = wrap_native_entry_points,
    ) -> None:
        chosen_temp = default_temp_dirs() if temp_dirs is None else tuple(temp_dirs)
        self._rules = make_rules(
            writable_roots,
            chosen_temp,
            unix_sockets=session_sockets(os.environ if environ is None else environ),
            libraries=resolve_libraries(libraries),
        )
        self._on_violation = on_violation
        self._disarmable = disarmable
        self._add_hook = add_hook
        self._wrap_natives = wrap_natives
        self._in_effector: contextvars.ContextVar[bool] = contextvars.ContextVar(
            f"aether_guard_effector_{id(self)}", default=False
        )
        self._in_hook: contextvars.ContextVar[bool] = contextvars.ContextVar(
            f"aether_guard_hook_{id(self)}", default=False
        )
        self._lock = threading.Lock()
        self._violations = 0
        self._installed = False
        self._armed = False  # consulted only by a disarmable guard's hook

    @property
    def rules(self) -> GuardRules:
        """The canonical folders, sockets and libraries this guard lets through."""
        return self._rules

    @property
    def installed(self) -> bool:
        """True once :meth:`install` registered the hook (it stays for the process)."""
        return self._installed

    @property
    def enabled(self) -> bool:
        """True while the hook enforces: from :meth:`install` on (read-only)."""
        return self._installed and (self._armed or not self._disarmable)

    @property
    def violations(self) -> int:
        """How many side effects the guard has stopped."""
        return self._violations

    @property
    def effector_running(self) -> bool:
        """True inside :meth:`effector` in the current thread or task."""
        return self._in_effector.get()

    def install(self) -> None:
        """Wrap the event-less entry points, register the hook (once), stop writing ``.pyc`` files."""
        sys.dont_write_bytecode = True
        self._armed = True
        if not self._installed:
            armed = (lambda: self._armed) if self._disarmable else (lambda: True)
            connections = _Connections(self._authorizer(armed))
            hook = self._make_hook(armed, connections)
            self._wrap_natives(hook, connections)  # first: importing ctypes opens the main program
            self._add_hook(hook)
            self._installed = True

    def disable(self) -> None:
        """Switch a disarmable (test) guard off; any other guard refuses and reports the attempt.

        Raises:
            GuardViolation: this guard was not built with ``disarmable=True``.
        """
        if not self._disarmable:
            reason = "guard.disable: the guard cannot be switched off once installed"
            self._report(Violation("guard.disable", reason))
            raise GuardViolation(reason)
        self._armed = False

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

    def _make_hook(self, armed: Callable[[], bool], connections: _Connections) -> AuditHook:
        """The hook, closed over everything it needs: no attribute it reads can be switched later."""
        rules, watched, checks, report = self._rules, WATCHED_EVENTS, CHECKS, self._report
        in_effector, in_hook = self._in_effector, self._in_hook

        def hook(event: str, args: tuple[object, ...]) -> None:
            # First lines must stay cheap: the hook sees every audit event of the process.
            if event not in watched or not armed() or in_effector.get() or in_hook.get():
                return  # an effector acts, or our own logging or callback; never recurse
            token = in_hook.set(True)
            try:
                if event == "sqlite3.connect/handle":
                    reason = None if connections.is_opening else _UNAUTHORIZED_CONNECTION
                else:
                    reason = checks[event](event, args, rules)  # every other watched event has a rule
                if reason is None:
                    return
                report(Violation(event=event, reason=reason))
            finally:
                in_hook.reset(token)
            raise GuardViolation(reason)

        return hook

    def _authorizer(self, armed: Callable[[], bool]) -> Authorizer:
        """An SQLite authorizer refusing ``ATTACH`` (and ``VACUUM INTO``) outside the folders."""
        rules, in_effector, report = self._rules, self._in_effector, self._report

        def authorize(
            action: int, arg1: str | None, arg2: str | None, db: str | None, trigger: str | None
        ) -> int:
            if action != sqlite3.SQLITE_ATTACH or in_effector.get() or not armed():
                return sqlite3.SQLITE_OK
            reason = check_attach(arg1, rules)
            if reason is None:
                return sqlite3.SQLITE_OK
            report(Violation(event="sqlite3.attach", reason=reason))
            return sqlite3.SQLITE_DENY

        return authorize

    def _report(self, violation: Violation) -> None:
        with self._lock:
            self._violations += 1
        if self._on_violation is None:
            return
        try:
            self._on_violation(violation)
        except Exception:
            _log.exception("guard violation callback failed for %s", violation.event)
