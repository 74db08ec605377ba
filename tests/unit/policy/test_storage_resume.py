"""Resuming after a full disk, unit by unit: the audit log, the ledger, the tickets, the gate, the runtime.

A full disk is made here by the fault hooks the code takes as parameters: the
audit log's ``connect`` (a connection whose INSERTs fail with SQLite's "database
or disk is full") and the runtime's ``measure_space`` (fixed numbers). The real
thing, a home on a filled tmpfs, is ``tests/adversarial/test_disk_full_tmpfs.py``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from audit_support import forge_row, random_keys
from gate_support import FakeSink, make_rig
from keyring_support import no_keyring

from aether_qt.core.paths import AppPaths, resolve_paths
from aether_qt.policy.audit_anchor import AnchorStore
from aether_qt.policy.audit_chain import AuditLog, connect_audit_db
from aether_qt.policy.contracts import AuditEntry, AuditWriteError, FakeClock
from aether_qt.policy.decisions import ActionRequest, Allow, Ask, Deny, DenyReason
from aether_qt.policy.gate import Gate
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.storage.space import FreeSpace

FULL = "database or disk is full"


class Conn:
    """A real audit connection whose INSERTs fail while its disk is ``full``."""

    def __init__(self, conn: sqlite3.Connection, disk: Disk) -> None:
        self.conn, self.disk = conn, disk

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("INSERT") and self.disk.error is not None:
            raise self.disk.error
        return self.conn.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        return self.conn.executemany(sql, *args)

    def close(self) -> None:
        self.conn.close()


class Disk:
    """The ``connect`` hook: ``error`` fails INSERTs; ``refuse`` fails new connections; ``path`` redirects."""

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self.refuse = False
        self.path: Path | None = None
        self.connections = 0

    def fill(self, message: str = FULL) -> None:
        self.error = sqlite3.OperationalError(message)

    def __call__(self, path: Path) -> Conn:
        self.connections += 1
        if self.refuse:
            raise sqlite3.OperationalError("unable to open database file")
        return Conn(connect_audit_db(self.path or path), self)


def entry(i: int = 0) -> AuditEntry:
    return AuditEntry(actor="gate", capability="files.read", resource=f"/r/{i}", decision="allow")


# ---------------------------------------------------------------- the audit log


@pytest.fixture
def log_parts(tmp_path: Path) -> tuple[Disk, AuditLog]:
    disk = Disk()
    anchors = AnchorStore(anchor_file=tmp_path / "config" / "audit-anchor.json", keystore=None)
    log = AuditLog.open(
        tmp_path / "data" / "audit.db",
        keys=random_keys(),
        anchor_store=anchors,
        clock=FakeClock(),
        connect=disk,
    )
    return disk, log


def test_a_log_that_failed_for_want_of_space_resumes_on_a_new_connection(
    log_parts: tuple[Disk, AuditLog],
) -> None:
    disk, log = log_parts
    log.append(entry(1))
    log.resume()  # healthy: nothing to do
    assert disk.connections == 1
    disk.fill()
    with pytest.raises(AuditWriteError, match="disk is full"):
        log.append(entry(2))
    assert not log.healthy and log.out_of_space
    disk.error = None
    log.resume()
    assert log.healthy and not log.out_of_space and log.last_error == ""
    assert disk.connections == 2
    assert log.append(entry(3)).seq == 2  # the failed row left no trace; the chain goes on
    log.close()


def test_any_other_failure_is_not_resumed(log_parts: tuple[Disk, AuditLog]) -> None:
    disk, log = log_parts
    disk.fill("disk I/O error")
    with pytest.raises(AuditWriteError):
        log.append(entry())
    assert not log.out_of_space
    disk.error = None
    with pytest.raises(AuditWriteError, match="unhealthy"):
        log.resume()
    log.close()
    with pytest.raises(AuditWriteError, match="closed"):
        log.resume()


def test_a_log_that_cannot_be_opened_again_stays_unhealthy(
    log_parts: tuple[Disk, AuditLog], tmp_path: Path
) -> None:
    disk, log = log_parts
    disk.fill()
    with pytest.raises(AuditWriteError):
        log.append(entry())
    disk.error, disk.refuse = None, True
    with pytest.raises(AuditWriteError, match="unusable"):
        log.resume()
    disk.refuse = False
    other = tmp_path / "other.db"
    AuditLog.open(
        other, keys=random_keys(), anchor_store=AnchorStore(anchor_file=tmp_path / "a.json", keystore=None),
        clock=FakeClock(),
    ).close()  # fmt: skip
    disk.path = other  # a log of other keys where ours was
    with pytest.raises(AuditWriteError, match="unusable"):
        log.resume()
    assert not log.healthy and log.out_of_space
    log.close()


def test_a_log_replaced_while_full_is_not_resumed(tmp_path: Path) -> None:
    keys = random_keys()
    disk = Disk()
    anchors = AnchorStore(anchor_file=tmp_path / "anchor.json", keystore=None)
    log = AuditLog.open(tmp_path / "a.db", keys=keys, anchor_store=anchors, clock=FakeClock(), connect=disk)
    AuditLog.open(tmp_path / "b.db", keys=keys, anchor_store=anchors, clock=FakeClock()).close()
    disk.fill()
    with pytest.raises(AuditWriteError):
        log.append(entry())
    disk.error, disk.path = None, tmp_path / "b.db"  # same keys, another log
    with pytest.raises(AuditWriteError, match="replaced"):
        log.resume()
    assert not log.healthy
    log.close()


# ---------------------------------------------------------------- the gate


def test_the_gate_asks_its_resume_hook_only_while_stopped(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    calls: list[bool] = []
    answer = [False]

    def hook() -> bool:
        calls.append(True)
        if answer[0]:
            sink.fail = False
        return answer[0]

    sink = FakeSink()
    gate = Gate(
        audit=sink,
        ledger=rig.ledger,
        tickets=rig.tickets,
        config=rig.gate.config,
        clock=rig.clock,
        resume=hook,
    )
    request = ActionRequest("notify.send", "hi")
    assert isinstance(gate.evaluate(request), Allow) and calls == []
    assert gate.resume() and calls == []  # nothing stopped it
    sink.fail = True
    denied = gate.evaluate(request)
    assert isinstance(denied, Deny) and denied.reason is DenyReason.AUDIT_UNAVAILABLE and gate.degraded
    assert not gate.resume()
    answer[0] = True
    assert gate.resume() and not gate.degraded
    assert sink.rows[-1].decision == "audit_resumed" and sink.rows[-1].detail["cause"] == "storage"
    assert sink.anchored[-1].decision == "audit_resumed"
    assert isinstance(gate.evaluate(request), Allow)


# ---------------------------------------------------------------- the runtime


@pytest.fixture(autouse=True)
def _no_keyring() -> Iterator[None]:
    with no_keyring():
        yield


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return resolve_paths(tmp_path / "home")


class Space:
    """The ``measure_space`` hook: fixed numbers (``free=None`` cannot be measured)."""

    def __init__(self, free: int | None = 1 << 30) -> None:
        self.free = free

    def __call__(self, folder: Path) -> FreeSpace | None:
        return None if self.free is None else FreeSpace(folder, self.free, 1 << 20)


def open_runtime(paths: AppPaths, disk: Disk, space: Space) -> PolicyRuntime:
    return PolicyRuntime.open(paths, allow_key_file=True, connect_audit=disk, measure_space=space)


def flags(rt: PolicyRuntime) -> list[str]:
    return [f.flag for f in rt.posture()]


def fill(rt: PolicyRuntime, disk: Disk, space: Space) -> None:
    """The disk fills: the next decision cannot be audited."""
    disk.fill()
    space.free = 4096
    denied = rt.gate.evaluate(ActionRequest("notify.send", "hi"))
    assert isinstance(denied, Deny) and denied.reason is DenyReason.AUDIT_UNAVAILABLE


def test_the_runtime_names_a_full_disk_and_resumes_when_there_is_room(paths: AppPaths) -> None:
    disk, space = Disk(), Space()
    with open_runtime(paths, disk, space) as rt:
        assert "storage_full" not in flags(rt)
        fill(rt, disk, space)
        [flag] = [f for f in rt.posture() if f.flag == "storage_full"]
        assert flag.priority == 0 and "every action is refused" in flag.message
        assert flag.space == FreeSpace(paths.data_dir, 4096, 1 << 20) and "audit_broken" not in flags(rt)
        disk.error = None
        assert not rt.check_storage()  # the space is not back yet
        space.free = None
        assert not rt.check_storage() and "storage_full" not in flags(rt)  # unknown is not full
        space.free = 1 << 30
        assert rt.check_storage() and flags(rt) == ["keys_on_disk"]
        assert isinstance(rt.gate.evaluate(ActionRequest("notify.send", "hi")), Allow)
    assert PolicyRuntime.open(paths).verify().status == "intact"


def test_little_room_is_shown_before_anything_fails(paths: AppPaths) -> None:
    with open_runtime(paths, Disk(), Space(free=1000)) as rt:
        [flag] = [f for f in rt.posture() if f.flag == "storage_full"]
        assert flag.priority == 1 and "almost full" in flag.message and "1000 B is free" in flag.message
        assert rt.check_storage()


def test_other_failures_are_not_resumed(paths: AppPaths) -> None:
    disk, space = Disk(), Space()
    with open_runtime(paths, disk, space) as rt:
        disk.fill("disk I/O error")
        assert isinstance(rt.gate.evaluate(ActionRequest("notify.send", "hi")), Deny)
        disk.error = None
        assert not rt.check_storage()
        assert flags(rt)[0] == "audit_broken" and "storage_full" not in flags(rt)
    other = resolve_paths(paths.data_dir.parent.parent / "keyless")
    with PolicyRuntime.open(other) as keyless:  # no keys, no log: nothing to resume
        assert keyless.audit is None and not keyless.check_storage()


def test_a_log_changed_while_full_is_refused_not_resumed(paths: AppPaths) -> None:
    disk, space = Disk(), Space()
    with open_runtime(paths, disk, space) as rt:
        fill(rt, disk, space)
        disk.error, space.free = None, 1 << 30
        forge_row(paths.audit_db, resource="/forged")
        assert not rt.check_storage()
        assert flags(rt)[0] == "audit_broken" and "acknowledge" in rt.posture()[0].message


def test_a_log_that_does_not_open_again_is_not_resumed(paths: AppPaths) -> None:
    disk, space = Disk(), Space()
    with open_runtime(paths, disk, space) as rt:
        fill(rt, disk, space)
        disk.error, disk.refuse, space.free = None, True, 1 << 30
        assert not rt.check_storage()
        disk.refuse = False
        assert rt.check_storage()


def grant_a_read(rt: PolicyRuntime, paths: AppPaths) -> Path:
    """Approve a folder and read in it: the preset issues a session grant; return the folder."""
    docs = paths.data_dir.parent / "docs"
    rt.set_roots((docs,))
    assert isinstance(rt.gate.evaluate(ActionRequest("files.read", str(docs / "a.txt"))), Allow)
    return docs


def test_the_ledger_is_checked_and_rebuilt_from_the_log_on_resume(paths: AppPaths) -> None:
    disk, space = Disk(), Space()
    with open_runtime(paths, disk, space) as rt:
        grant_a_read(rt, paths)
        fill(rt, disk, space)
        rt.database.execute_sql("DELETE FROM grants")  # the table no longer matches the log
        disk.error, space.free = None, 1 << 30
        assert rt.check_storage()
        assert rt.ledger.intact and rt.ledger.active()


def test_a_ledger_that_cannot_be_read_or_rebuilt_keeps_the_gate_stopped(paths: AppPaths) -> None:
    disk, space = Disk(), Space()
    with open_runtime(paths, disk, space) as rt:
        grant_a_read(rt, paths)
        fill(rt, disk, space)
        disk.error, space.free = None, 1 << 30
        rt.database.execute_sql("ALTER TABLE grants RENAME TO grants_away")
        assert not rt.check_storage()  # the grants cannot be read: nothing was resumed
        assert rt.audit is not None and not rt.audit.healthy
        rt.database.execute_sql("ALTER TABLE grants_away RENAME TO grants")
        rt.database.execute_sql("DELETE FROM grants")
        rt.database.execute_sql(
            "CREATE TRIGGER no_grants BEFORE INSERT ON grants BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
        assert not rt.check_storage()  # they differ from the log and cannot be rebuilt
        rt.database.execute_sql("DROP TRIGGER no_grants")
        assert not rt.check_storage()  # a failure that is not a full disk lasts until restart
        denied = rt.gate.evaluate(ActionRequest("notify.send", "hi"))
        assert isinstance(denied, Deny) and denied.reason is DenyReason.AUDIT_UNAVAILABLE


def refuse_writes(rt: PolicyRuntime, table: str) -> None:
    """Writes to ``table`` fail with SQLite's words for a full disk (the unit's stand-in for one)."""
    rt.database.execute_sql(
        f"CREATE TRIGGER full_{table} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, '{FULL}'); END"
    )


def test_ledger_and_ticket_failures_for_want_of_space_are_resumed(paths: AppPaths) -> None:
    space = Space()
    with open_runtime(paths, Disk(), space) as rt:
        docs = paths.data_dir.parent / "docs"
        rt.set_roots((docs,))
        refuse_writes(rt, "approval_tickets")
        space.free = 4096
        decision = rt.gate.evaluate(ActionRequest("files.create", str(docs / "x.txt")))
        assert isinstance(decision, Deny) and decision.reason is DenyReason.LEDGER_CORRUPT
        assert rt.tickets.out_of_space and flags(rt)[0] == "storage_full"
        rt.database.execute_sql("DROP TRIGGER full_approval_tickets")
        space.free = 1 << 30
        assert rt.check_storage()
        assert not rt.tickets.out_of_space and rt.tickets.intact
        assert isinstance(rt.gate.evaluate(ActionRequest("files.create", str(docs / "x.txt"))), Ask)
        rt.database.execute_sql("DROP TABLE approval_tickets")
        assert not rt.tickets.recheck()


def test_a_grant_write_that_fails_for_want_of_space_is_marked(paths: AppPaths) -> None:
    with open_runtime(paths, Disk(), Space()) as rt:
        docs = paths.data_dir.parent / "docs"
        rt.set_roots((docs,))
        refuse_writes(rt, "grants")
        decision = rt.gate.evaluate(ActionRequest("files.read", str(docs / "a.txt")))
        assert isinstance(decision, Deny) and decision.reason is DenyReason.LEDGER_CORRUPT
        assert rt.ledger.out_of_space and not rt.ledger.intact
        rt.database.execute_sql("DROP TRIGGER full_grants")
        assert rt.check_storage() and rt.ledger.intact and not rt.ledger.out_of_space
        assert isinstance(rt.gate.evaluate(ActionRequest("files.read", str(docs / "a.txt"))), Allow)


def test_a_failed_start_closes_what_it_opened(paths: AppPaths) -> None:
    class Boom(Disk):
        def __call__(self, path: Path) -> Conn:
            raise RuntimeError("a bug while opening the log")

    with pytest.raises(RuntimeError):
        PolicyRuntime.open(paths, allow_key_file=True, connect_audit=Boom())
    disk = Disk()
    disk.error = RuntimeError("a bug while writing the first row")
    with pytest.raises(RuntimeError):
        open_runtime(paths, disk, Space())
    with open_runtime(paths, Disk(), Space()) as rt:  # nothing was left locked or half-open
        assert rt.audit is not None and rt.audit.healthy


def test_a_ledger_that_cannot_be_rebuilt_at_start_keeps_the_gate_stopped(
    paths: AppPaths, caplog: pytest.LogCaptureFixture
) -> None:
    with open_runtime(paths, Disk(), Space()) as rt:
        grant_a_read(rt, paths)
        rt.database.execute_sql("DELETE FROM grants")
        rt.database.execute_sql(
            "CREATE TRIGGER no_grants BEFORE INSERT ON grants BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
    caplog.set_level(logging.ERROR)
    with open_runtime(paths, Disk(), Space()) as rt:
        assert "grant ledger not rebuilt" in caplog.text
        assert not rt.ledger.intact
        denied = rt.gate.evaluate(ActionRequest("notify.send", "hi"))
        assert isinstance(denied, Deny) and denied.reason is DenyReason.LEDGER_CORRUPT
