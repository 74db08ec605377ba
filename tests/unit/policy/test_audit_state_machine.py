"""A hypothesis state machine over the audit log, its anchor and an attacker with file access.

Writers append (some rows anchored, as the gate does for an Allow), checkpoint,
reopen and close; a second writer (another connection, as a second process
has) appends between them. The attacker edits a row, cuts the newest rows,
deletes the database or restores an older copy of it.

Invariants, checked by ``verify`` and by the start check the runtime runs:

* nothing attacked and every writer closed: intact and anchored, and a start
  passes;
* writers still open: sound up to the tail (``live``), never "intact" for an
  outsider who cannot know whether more rows existed;
* after any attack: never intact, and a start refuses the log (the gate would
  be deny-all); a content edit names exactly the edited row.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

import nacl.utils
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from aether_qt.policy.audit_anchor import AnchorStore
from aether_qt.policy.audit_chain import AuditLog, connect_audit_db
from aether_qt.policy.audit_start import check_at_start, check_missing
from aether_qt.policy.audit_verify import verify_log
from aether_qt.policy.contracts import AuditEntry, FakeClock
from aether_qt.policy.keys import AuditKeys


def fast_connect(path: Path) -> sqlite3.Connection:
    """The log's connection without fsync: the machine checks logic, not durability (the kill test does)."""
    conn = connect_audit_db(path)
    conn.execute("PRAGMA synchronous=OFF")
    return conn


text = st.text(st.characters(codec="utf-8"), max_size=12)
EXAMPLES = 500 if os.environ.get("CI", "").lower() in {"1", "true", "yes"} else 60


class AuditMachine(RuleBasedStateMachine):
    """Drives one audit log, a second writer, an attacker, and a model of what must hold."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="audit-sm-"))
        self.db = self.folder / "audit.db"
        self.keys = AuditKeys.from_secrets(nacl.utils.random(32), nacl.utils.random(32), source="test")
        self.anchors = AnchorStore(anchor_file=self.folder / "anchor.json", keystore=None, durable=False)
        self.clock = FakeClock()
        self.writers: list[AuditLog] = [self._open()]
        self.acked: list[str] = []
        self.attack = ""  # what the attacker did ("" = nothing)
        self.edited_seq: int | None = None
        self.snapshots: list[tuple[int, Path]] = []

    # ------------------------------------------------------------ writers

    def _open(self) -> AuditLog:
        return AuditLog.open(
            self.db, keys=self.keys, anchor_store=self.anchors, clock=self.clock, checkpoint_every=5,
            connect=fast_connect,
        )  # fmt: skip

    def _close_all(self) -> None:
        for log in self.writers:
            log.close()
        self.writers = []

    @precondition(lambda self: self.writers and not self.attack)
    @rule(
        resource=text,
        decision=st.sampled_from(["allow", "deny", "ask"]),
        n=st.integers(-(2**40), 2**40),
        which=st.integers(0, 1),
    )
    def append(self, resource: str, decision: str, n: int, which: int) -> None:
        log = self.writers[which % len(self.writers)]
        self.clock.advance(0.01)
        entry = AuditEntry(
            actor="gate", capability="files.read", resource=resource, decision=decision, detail={"n": n}
        )
        row = log.append(entry, anchor=decision == "allow")
        assert row.seq == len(self.acked) + 1  # one linear chain whichever writer appends
        self.acked.append(row.audit_id)

    @precondition(lambda self: self.writers and not self.attack)
    @rule()
    def checkpoint(self) -> None:
        assert self.writers[0].checkpoint().seq == len(self.acked)

    @precondition(lambda self: len(self.writers) == 1 and not self.attack)
    @rule()
    def second_writer(self) -> None:
        self.writers.append(self._open())

    @precondition(lambda self: not self.attack)
    @rule()
    def close_and_reopen(self) -> None:
        self._close_all()
        self.writers = [self._open()]
        assert self.writers[0].head().seq == len(self.acked)

    @precondition(lambda self: self.writers and not self.attack)
    @rule()
    def snapshot(self) -> None:
        self._close_all()
        copy = self.folder / f"snap{len(self.snapshots)}.db"
        shutil.copy(self.db, copy)
        self.snapshots.append((len(self.acked), copy))
        self.writers = [self._open()]

    # ------------------------------------------------------------ the attacker (with every writer stopped)

    def _sql(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db, isolation_level=None)
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
            conn.execute(f"DROP TRIGGER {name}")
        return conn

    @precondition(lambda self: not self.attack and len(self.acked) > 0)
    @rule(data=st.data())
    def edit_a_row(self, data: st.DataObject) -> None:
        self._close_all()
        seq = data.draw(st.integers(1, len(self.acked)))
        conn = self._sql()
        conn.execute("UPDATE audit_log SET resource = resource || '!' WHERE seq = ?", (seq,))
        conn.close()
        self.attack, self.edited_seq = "edit", seq

    @precondition(lambda self: not self.attack and len(self.acked) > 0)
    @rule(data=st.data())
    def cut_the_newest_rows(self, data: st.DataObject) -> None:
        self._close_all()
        rows = data.draw(st.integers(1, len(self.acked)))
        conn = self._sql()
        conn.execute("DELETE FROM audit_log WHERE seq > ?", (len(self.acked) - rows,))
        if data.draw(st.booleans()):  # and the checkpoints that would give it away
            conn.execute("DELETE FROM checkpoints WHERE seq > ?", (len(self.acked) - rows,))
        conn.close()
        self.attack = "cut"

    @precondition(lambda self: not self.attack and len(self.acked) > 0)
    @rule()
    def delete_the_database(self) -> None:
        self._close_all()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)
        self.attack = "delete"

    @precondition(
        lambda self: not self.attack and any(count < len(self.acked) for count, _ in self.snapshots)
    )
    @rule(data=st.data())
    def restore_an_older_copy(self, data: st.DataObject) -> None:
        self._close_all()
        older = [(count, path) for count, path in self.snapshots if count < len(self.acked)]
        _, path = data.draw(st.sampled_from(older))
        for suffix in ("-wal", "-shm"):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)
        shutil.copy(path, self.db)
        self.attack = "restore"

    # ------------------------------------------------------------ what must hold

    @rule()
    def verify(self) -> None:
        open_writers = bool(self.writers)
        anchor = self.anchors.load(public_key=self.keys.public_key, key_id=self.keys.key_id)
        report = verify_log(self.db, keys=self.keys, anchor=anchor)
        if self.attack:
            assert not report.intact, (self.attack, report)
            if self.attack == "edit":
                assert (report.first_bad_seq, report.reason) == (self.edited_seq, "content_hash_mismatch")
            return
        if open_writers:
            assert not report.intact or (
                anchor is not None and anchor.seq == len(self.acked) and not anchor.session_open
            )
            assert verify_log(self.db, keys=self.keys, anchor=anchor, live=True).status != "tampered"
            return
        assert report.intact or (report.status, report.reason) == ("undecidable", "unanchored"), report

    @rule()
    def start_check(self) -> None:
        """What the runtime does at every start: a sound log passes, an attacked one is refused."""
        self._close_all()
        reading = self.anchors.read(public_key=self.keys.public_key, key_id=self.keys.key_id)
        if not self.db.exists():
            assert self.attack == "delete"
            assert check_missing(reading) is not None  # never a fresh log over the evidence
            return
        check = check_at_start(self.db, keys=self.keys, reading=reading, live=False)
        if self.attack:
            assert not check.ok, self.attack
            return
        assert check.ok, check.message
        assert check.verified_seq == len(self.acked)
        self.writers = [self._open()]

    @invariant()
    def acknowledged_rows_are_present(self) -> None:
        if self.writers:
            recent = self.acked[-3:]
            assert [self.writers[0].get(a) is not None for a in recent] == [True] * len(recent)

    def teardown(self) -> None:
        for log in self.writers:
            log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


AuditMachine.TestCase.settings = settings(max_examples=EXAMPLES, stateful_step_count=25, deadline=None)
TestAuditMachine = AuditMachine.TestCase
