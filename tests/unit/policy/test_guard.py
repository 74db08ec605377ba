"""The Guard object and its hook, tested in-process without registering the hook.

The rules themselves are tested in ``test_guard_rules.py``, ``test_guard_net.py`` and
``test_guard_native.py``; the installed hook is attacked in subprocesses by
``tests/adversarial/test_guard_attacks.py`` and ``test_guard_holes.py`` (audit hooks
cannot be removed).
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from aether_qt.policy.contracts import PolicyError
from aether_qt.policy.guard import (
    WATCHED_EVENTS,
    AuditHook,
    Guard,
    GuardViolation,
    NativeLibrary,
    Violation,
    check_event,
)
from aether_qt.policy.guard_native import ConnectionGate, NativeCheck


class Natives:
    """Records what :meth:`Guard.install` hands the entry-point wrapper instead of wrapping."""

    def __init__(self) -> None:
        self.calls: list[tuple[NativeCheck, ConnectionGate]] = []

    def __call__(self, check: NativeCheck, gate: ConnectionGate) -> None:
        self.calls.append((check, gate))


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder.resolve()


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    return folder.resolve()


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> list[AuditHook]:
    """Where ``Guard(add_hook=hooks.append)`` registers its hook: a real one could never be removed."""
    monkeypatch.setattr(sys, "dont_write_bytecode", sys.dont_write_bytecode)  # install() sets it
    return []


@pytest.fixture
def natives() -> Natives:
    return Natives()


def make_guard(data: Path, hooks: list[AuditHook], natives: Natives, **options: Any) -> Guard:
    return Guard([data], temp_dirs=[], add_hook=hooks.append, wrap_natives=natives, **options)


def test_watched_events_cover_every_rule() -> None:
    assert "open" in WATCHED_EVENTS
    assert "sqlite3.connect/handle" in WATCHED_EVENTS
    assert "compile" not in WATCHED_EVENTS


def test_guard_hook_rules(data: Path, outside: Path, hooks: list[AuditHook], natives: Natives) -> None:
    seen: list[Violation] = []
    guard = make_guard(data, hooks, natives, on_violation=seen.append)
    assert guard.rules.temp == ()
    assert not guard.enabled
    guard.install()
    [hook] = hooks
    assert guard.enabled and guard.installed
    assert natives.calls == [(hook, natives.calls[0][1])]  # wrapped before the hook was registered
    hook("open", (str(data / "f"), "w", 0))
    hook("compile", (None, "<x>"))
    with pytest.raises(GuardViolation, match="write outside the data folder") as caught:
        hook("open", (str(outside / "f"), "w", 0))
    assert isinstance(caught.value, PolicyError)
    with guard.effector():
        assert guard.effector_running
        hook("open", (str(outside / "f"), "w", 0))
        with guard.suspended():
            assert not guard.effector_running
            with pytest.raises(GuardViolation):
                hook("os.system", ("true",))
        assert guard.effector_running
    assert not guard.effector_running
    assert guard.violations == 2
    assert seen == [
        Violation("open", f"open: write outside the data folder: {outside / 'f'}"),
        Violation("os.system", "os.system: starting a shell command"),
    ]


def test_the_guard_cannot_be_switched_off(
    data: Path, outside: Path, hooks: list[AuditHook], natives: Natives
) -> None:
    seen: list[Violation] = []
    guard = make_guard(data, hooks, natives, on_violation=seen.append)
    guard.install()
    with pytest.raises(GuardViolation, match="cannot be switched off"):
        guard.disable()
    with pytest.raises(AttributeError):
        guard.enabled = False  # type: ignore[misc]
    guard._armed = False
    guard.install()  # installing again registers nothing new
    assert len(hooks) == 1 and len(natives.calls) == 1
    with pytest.raises(GuardViolation):
        hooks[0]("os.system", ("true",))
    assert guard.enabled
    assert [v.event for v in seen] == ["guard.disable", "os.system"]


def test_a_disarmable_guard_switches_off_and_on(
    data: Path, outside: Path, hooks: list[AuditHook], natives: Natives
) -> None:
    guard = make_guard(data, hooks, natives, disarmable=True)
    guard.install()
    guard.disable()
    assert not guard.enabled
    hooks[0]("open", (str(outside / "f"), "w", 0))  # not enabled: nothing happens
    guard.install()  # enabled again, still one hook
    assert guard.enabled and len(hooks) == 1
    with pytest.raises(GuardViolation):
        hooks[0]("open", (str(outside / "f"), "w", 0))


def test_guard_does_not_recurse_from_its_callback(
    data: Path, hooks: list[AuditHook], natives: Natives
) -> None:
    calls: list[str] = []

    def callback(violation: Violation) -> None:
        calls.append(violation.event)
        hooks[0]("os.system", ("nested",))  # ignored while the hook runs

    make_guard(data, hooks, natives, on_violation=callback).install()
    with pytest.raises(GuardViolation):
        hooks[0]("os.system", ("true",))
    assert calls == ["os.system"]


def test_guard_without_callback_still_counts(data: Path, hooks: list[AuditHook], natives: Natives) -> None:
    guard = make_guard(data, hooks, natives)
    guard.install()
    with pytest.raises(GuardViolation):
        hooks[0]("os.system", ("true",))
    assert guard.violations == 1


def test_guard_callback_failure_logs_the_event(
    data: Path, hooks: list[AuditHook], natives: Natives, caplog: pytest.LogCaptureFixture
) -> None:
    def callback(violation: Violation) -> None:
        raise RuntimeError("banner broke")

    guard = make_guard(data, hooks, natives, on_violation=callback)
    guard.install()
    with pytest.raises(GuardViolation):
        hooks[0]("os.system", ("true",))
    assert guard.violations == 1
    assert "guard violation callback failed for os.system" in caplog.text


def test_effector_context_is_per_thread(data: Path) -> None:
    guard = Guard([data], temp_dirs=[])
    other: list[bool] = []
    with guard.effector():
        worker = threading.Thread(target=lambda: other.append(guard.effector_running))
        worker.start()
        worker.join()
    assert other == [False]


def test_install_stops_bytecode(data: Path, natives: Natives, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    hooks: list[AuditHook] = []
    make_guard(data, hooks, natives).install()
    assert sys.dont_write_bytecode is True


def test_session_sockets_and_libraries_come_from_the_constructor(
    data: Path, hooks: list[AuditHook], natives: Natives
) -> None:
    guard = make_guard(
        data,
        hooks,
        natives,
        environ={"DBUS_SESSION_BUS_ADDRESS": "unix:abstract=bus"},
        libraries=[NativeLibrary(why="t", names=("libx.so",), symbols="x_")],
    )
    assert guard.rules.unix_sockets == {"\0bus"}
    assert [lib.symbols for lib in guard.rules.libraries] == ["x_"]
    assert check_event("socket.connect", (object(), "\0bus"), guard.rules) is None


# ---------------------------------------------------------------- SQLite connections
def _gate(natives: Natives) -> Any:
    return natives.calls[0][1]


def test_connections_get_the_authorizer(
    data: Path, outside: Path, hooks: list[AuditHook], natives: Natives
) -> None:
    seen: list[Violation] = []
    guard = make_guard(data, hooks, natives, on_violation=seen.append, disarmable=True)
    guard.install()
    gate = _gate(natives)
    with gate.opening():
        hooks[0]("sqlite3.connect/handle", (object(),))  # made by the wrapped connect: fine
    db = sqlite3.connect(data / "app.db")
    gate.opened(db)
    db.execute("create table t (x)")
    with pytest.raises(sqlite3.DatabaseError, match="authoriz"):
        db.execute(f"VACUUM INTO '{outside}/copy.db'")
    with pytest.raises(sqlite3.DatabaseError):
        db.execute("ATTACH ? AS other", (str(data / "other.db"),))  # a name computed at run time
    db.execute(f"ATTACH '{data}/side.db' AS side")
    db.execute("VACUUM")
    with guard.effector():
        db.execute(f"ATTACH '{outside}/gated.db' AS gated")
    guard.disable()
    db.execute(f"ATTACH '{outside}/off.db' AS off")
    db.close()
    assert [v.event for v in seen] == ["sqlite3.attach", "sqlite3.attach"]
    assert seen[0].reason == f"sqlite3.attach: database outside the data folder: {outside / 'copy.db'}"
    assert seen[1].reason == "sqlite3.attach: a database name computed at run time"
    assert guard.violations == 2


def test_connections_made_another_way_are_refused(
    data: Path, hooks: list[AuditHook], natives: Natives
) -> None:
    guard = make_guard(data, hooks, natives)
    guard.install()
    with pytest.raises(GuardViolation, match=r"not made by sqlite3\.connect"):
        hooks[0]("sqlite3.connect/handle", (object(),))
    with guard.effector():
        hooks[0]("sqlite3.connect/handle", (object(),))
    assert guard.violations == 1
