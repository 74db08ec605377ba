"""A hypothesis state machine over append / checkpoint / reopen / tamper / verify.

The model keeps the acknowledged rows. Invariants: an untampered log always
verifies (intact once anchored, else unanchored); after a tamper the verdict is
never intact, and a content edit names exactly the edited row.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

import nacl.utils
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from aether_qt.policy.audit_anchor import AnchorStore
from aether_qt.policy.audit_chain import AuditLog
from aether_qt.policy.audit_verify import verify_log
from aether_qt.policy.contracts import AuditEntry, FakeClock
from aether_qt.policy.keys import AuditKeys

text = st.text(st.characters(codec="utf-8"), max_size=12)


class AuditMachine(RuleBasedStateMachine):
    """Drives one audit log and a model of what it must contain."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="audit-sm-"))
        self.keys = AuditKeys.from_secrets(nacl.utils.random(32), nacl.utils.random(32), source="test")
        self.anchors = AnchorStore(anchor_file=self.folder / "anchor.json", keystore=None)
        self.clock = FakeClock()
        self.log: AuditLog | None = self._open()
        self.acked: list[str] = []
        self.tampered_seq: int | None = None
        self.tampered = False

    def _open(self) -> AuditLog:
        return AuditLog.open(
            self.folder / "audit.db",
            keys=self.keys,
            anchor_store=self.anchors,
            clock=self.clock,
            checkpoint_every=5,
        )

    @precondition(lambda self: self.log is not None and not self.tampered)
    @rule(resource=text, decision=st.sampled_from(["allow", "deny", "ask"]), n=st.integers(-(2**40), 2**40))
    def append(self, resource: str, decision: str, n: int) -> None:
        assert self.log is not None
        self.clock.advance(0.01)
        row = self.log.append(
            AuditEntry(
                actor="gate", capability="files.read", resource=resource, decision=decision, detail={"n": n}
            )
        )
        assert row.seq == len(self.acked) + 1
        self.acked.append(row.audit_id)

    @precondition(lambda self: self.log is not None and not self.tampered)
    @rule()
    def checkpoint(self) -> None:
        assert self.log is not None
        ckpt = self.log.checkpoint()
        assert ckpt.seq == len(self.acked)

    @precondition(lambda self: self.log is not None and not self.tampered)
    @rule()
    def reopen(self) -> None:
        assert self.log is not None
        self.log.close()
        self.log = self._open()
        assert self.log.head().seq == len(self.acked)

    @precondition(lambda self: self.log is not None and not self.tampered and len(self.acked) > 0)
    @rule(data=st.data())
    def tamper(self, data: st.DataObject) -> None:
        assert self.log is not None
        self.log.close()
        self.log = None
        seq = data.draw(st.integers(1, len(self.acked)))
        conn = sqlite3.connect(self.folder / "audit.db", isolation_level=None)
        conn.execute("DROP TRIGGER audit_log_no_UPDATE")
        conn.execute("UPDATE audit_log SET resource = resource || '!' WHERE seq = ?", (seq,))
        conn.close()
        self.tampered, self.tampered_seq = True, seq

    @rule()
    def verify(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None
        report = verify_log(self.folder / "audit.db", keys=self.keys, anchor=self.anchors.load())
        if self.tampered:
            assert (report.status, report.first_bad_seq, report.reason) == (
                "tampered",
                self.tampered_seq,
                "content_hash_mismatch",
            )
            return
        assert report.intact or (report.status, report.reason) == ("undecidable", "unanchored"), report
        self.log = self._open()

    @invariant()
    def acknowledged_rows_are_present(self) -> None:
        if self.log is not None:
            assert [self.log.get(a) is not None for a in self.acked[-3:]] == [True] * len(self.acked[-3:])

    def teardown(self) -> None:
        if self.log is not None:
            self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


AuditMachine.TestCase.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)
TestAuditMachine = AuditMachine.TestCase
