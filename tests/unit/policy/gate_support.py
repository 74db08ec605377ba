"""Shared helpers for the gate tests: a list-backed audit sink, a database, a gate factory."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import peewee

from aether_qt.policy.approvals import TicketStore
from aether_qt.policy.contracts import AuditEntry, AuditRow, AuditWriteError, FakeClock
from aether_qt.policy.evaluator import PolicyConfig
from aether_qt.policy.gate import Gate
from aether_qt.policy.grants import GrantLedger
from aether_qt.policy.redaction import Redactor

REPO = Path(__file__).resolve().parents[3]
MIGRATIONS = REPO / "db"


class FakeSink:
    """An in-memory AuditSink that can be told to fail."""

    def __init__(self) -> None:
        self.rows: list[AuditRow] = []
        self.anchored: list[AuditEntry] = []  # entries the gate asked to anchor (its Allows)
        self.fail = False
        self._seq = itertools.count(1)

    @property
    def healthy(self) -> bool:
        return not self.fail

    def append(self, entry: AuditEntry, *, anchor: bool = False) -> AuditRow:
        if self.fail:
            raise AuditWriteError("disk full")
        if anchor:
            self.anchored.append(entry)
        seq = next(self._seq)
        row = AuditRow(
            seq=seq,
            audit_id=f"aud_{seq:06d}",
            ts_wall_ms=0,
            ts_mono_ns=0,
            actor=entry.actor,
            capability=entry.capability,
            resource=entry.resource,
            decision=entry.decision,
            reason=entry.reason,
            change_id=entry.change_id,
            turn_id=entry.turn_id,
            stage_trace=entry.stage_trace,
            detail=dict(entry.detail),
            key_id="k",
            prev_hash="",
            event_hash="",
            record_hmac="",
            signature="",
        )
        self.rows.append(row)
        return row


class FlakySink(FakeSink):
    """Reports healthy but fails the next ``fail_next`` appends."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next = 0

    @property
    def healthy(self) -> bool:
        return True

    def append(self, entry: AuditEntry, *, anchor: bool = False) -> AuditRow:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise AuditWriteError("transient")
        return super().append(entry, anchor=anchor)


def open_db(path: Path) -> peewee.SqliteDatabase:
    """The app database with migrations applied: the real storage when present."""
    try:
        from aether_qt.storage.database import open_database
    except ImportError:  # storage not merged yet: apply our migration by hand
        db = peewee.SqliteDatabase(str(path), pragmas={"journal_mode": "wal", "foreign_keys": 1})
        db.connect()
        db.connection().executescript((MIGRATIONS / "0002_policy.sql").read_text())
        return db
    return open_database(path, migrations=MIGRATIONS, backups_dir=path.parent / "backups")


@dataclass
class Rig:
    """A gate with its collaborators, for tests."""

    tmp: Path
    sink: FakeSink
    clock: FakeClock
    db: peewee.SqliteDatabase
    ledger: GrantLedger
    tickets: TicketStore
    gate: Gate
    roots: tuple[Path, ...] = field(default=())

    def reopen(self, **config: Any) -> Rig:
        """A new process over the same database and audit log."""
        return make_rig(self.tmp, sink=self.sink, clock=self.clock, db=self.db, **config)


def make_rig(
    tmp: Path,
    *,
    sink: FakeSink | None = None,
    clock: FakeClock | None = None,
    db: peewee.SqliteDatabase | None = None,
    redactor: Redactor | None = None,
    **config: Any,
) -> Rig:
    """Build a gate over ``tmp`` (root ``tmp/root``, home ``tmp/home``); ``redactor`` keys what it stores."""
    root = tmp / "root"
    home = tmp / "home"
    root.mkdir(exist_ok=True)
    home.mkdir(exist_ok=True)
    sink = sink or FakeSink()
    clock = clock or FakeClock()
    db = db or open_db(tmp / "aether.db")
    config.setdefault("approved_roots", (root,))
    config.setdefault("home", home)
    cfg = PolicyConfig(**config)
    ledger = GrantLedger(db, clock=clock)
    tickets = TicketStore(db, clock=clock)
    gate = Gate(audit=sink, ledger=ledger, tickets=tickets, config=cfg, clock=clock, redactor=redactor)
    return Rig(tmp, sink, clock, db, ledger, tickets, gate, (root,))
