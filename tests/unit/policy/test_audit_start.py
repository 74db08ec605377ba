"""The verified start (aether_qt/policy/audit_start.py): every problem it reports, and a sound start.

A :class:`Home` writes its log the way the runtime does: a start check, rows
(anchored, as the gate anchors its Allows), and a close that verifies the
session before the closing anchor vouches for it. The tests then change the
files the way someone with access to them can, and check what the next start
says.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from audit_support import entry, forge_row, random_keys, tamper

from aether_qt.policy.audit_anchor import AnchorReading, AnchorStore
from aether_qt.policy.audit_chain import AuditLog
from aether_qt.policy.audit_start import BANNER, StartCheck, check_at_start, check_missing
from aether_qt.policy.canonical import canonical_json
from aether_qt.policy.contracts import AuditRow, FakeClock
from aether_qt.policy.grant_state import replay


def issued(grant_id: str, pattern: str = "/home/u/notes/*") -> dict[str, Any]:
    """The detail of a row that issues a grant."""
    facts = {
        "grant_id": grant_id, "capability": "files.read", "resource_pattern": pattern, "persona": "user",
        "duration": "persistent", "issued_by": "user", "issued_wall_ms": 1_700_000_000_000, "ttl_s": None,
        "expires_wall_ms": None, "task_id": None,
    }  # fmt: skip
    return {"grant_issued": facts}


def verified(log: AuditLog, check: StartCheck) -> None:
    """What the runtime does with a passed check: the next anchors carry its verified point."""
    assert check.ok, check.message
    log.set_verified(
        epoch=check.epoch,
        verified_seq=check.verified_seq,
        verified_hash=check.verified_hash,
        grants_digest=check.grants_digest,
    )


class Home:
    """One audit log with its keys and anchor, in a folder."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.db = folder / "audit.db"
        self.keys = random_keys()
        self.store = AnchorStore(anchor_file=folder / "audit-anchor.json", keystore=None, durable=False)
        self.clock = FakeClock()
        self.every = 3  # checkpoint_every
        self.count = 0

    def open(self, store: AnchorStore | None = None) -> AuditLog:
        return AuditLog.open(
            self.db,
            keys=self.keys,
            anchor_store=store or self.store,
            clock=self.clock,
            checkpoint_every=self.every,
        )

    def reading(self) -> AnchorReading:
        return self.store.read(public_key=self.keys.public_key, key_id=self.keys.key_id)

    def check(self, *, live: bool = False) -> StartCheck:
        return check_at_start(self.db, keys=self.keys, reading=self.reading(), live=live)

    def append(self, log: AuditLog, details: tuple[dict[str, Any], ...], *, anchor: bool = True) -> None:
        for detail in details:
            self.count += 1
            log.append(entry(self.count, **detail), anchor=anchor)

    def session(self, *details: dict[str, Any]) -> None:
        """A runtime session: checked start, rows, verified close."""
        log = self.open()
        verified(log, self.check())
        self.append(log, details)
        verified(log, self.check(live=True))
        log.close()

    def crashed(self, *details: dict[str, Any], anchored: bool = True) -> None:
        """A session that checked its start and wrote rows, then died before its verified close."""
        log = self.open()
        verified(log, self.check(live=True))
        log.vouch(keyring=True, session_open=True)  # as a session start does
        self.append(log, details, anchor=anchored)
        log.close_without_checkpoint()

    def rows(self) -> list[AuditRow]:
        log = self.open()
        try:
            return log.rows()
        finally:
            log.close_without_checkpoint()

    def copy(self, name: str) -> Path:
        """A copy of the closed database (an older copy someone can put back)."""
        return Path(shutil.copy(self.db, self.folder / name))

    def restore(self, copy: Path) -> None:
        for suffix in ("-wal", "-shm"):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)
        shutil.copy(copy, self.db)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path / "home")


def test_a_sound_log_is_verified_and_its_grants_replayed(home: Home) -> None:
    home.session({"event": "session_start"}, issued("g1"))
    home.session(issued("g2"), {"event": "session_start"})
    check = home.check()
    assert check.ok and check.message == ""
    assert (check.epoch, check.verified_seq, check.unclean, check.tail) == (1, 4, False, 0)
    assert check.verified_hash == home.rows()[-1].event_hash
    assert [r.detail["grant_issued"]["grant_id"] for r in check.grant_rows] == ["g1", "g2"]
    assert check.grants_digest == replay(check.grant_rows).digest
    # a grant issued after the verified point (by a session that did not close) joins the state
    home.crashed(issued("g3"))
    check = home.check()
    assert check.ok and check.verified_seq == 5
    assert [r.detail["grant_issued"]["grant_id"] for r in check.grant_rows] == ["g1", "g2", "g3"]
    assert check.grants_digest == replay(check.grant_rows).digest


def test_a_new_empty_log_without_an_anchor_starts_epoch_one(home: Home) -> None:
    home.open().close_without_checkpoint()
    check = home.check()
    assert check.ok and check.epoch == 1 and check.verified_seq == 0


def test_an_anchor_of_the_first_format_is_read_as_epoch_one_and_the_whole_log_is_walked(home: Home) -> None:
    home.session(issued("g1"), {"event": "session_start"}, {"event": "x"})  # row 3 is checkpointed
    log = home.open()
    [ckpt] = log.checkpoints()
    log.close_without_checkpoint()
    home.store.anchor_file.write_bytes(canonical_json(ckpt.to_json()))  # what an earlier release wrote
    check = home.check()
    assert check.ok and check.epoch == 1
    assert check.verified_seq == 3 and len(check.grant_rows) == 1


@pytest.mark.parametrize(
    ("reading", "problem"),
    [
        (AnchorReading(None, ("the anchor file is malformed",)), "anchor_invalid"),
        (AnchorReading(None), None),
    ],
)
def test_check_missing_without_an_anchor(reading: AnchorReading, problem: str | None) -> None:
    found = check_missing(reading)
    assert (found.problem if found else None) == problem


def test_a_missing_database_with_an_anchor_is_missing(home: Home) -> None:
    home.session({"event": "session_start"})
    found = check_missing(home.reading())
    assert found is not None and found.problem == "missing"
    assert found.message == f"{BANNER}: the audit database is gone (the anchor vouches for row 1)"


def test_an_invalid_anchor_copy_is_reported_before_the_log_is_read(home: Home) -> None:
    home.session({"event": "session_start"})
    home.store.anchor_file.write_text("{}", encoding="utf-8")
    check = home.check()
    assert check.problem == "anchor_invalid" and "the anchor file is malformed" in check.message


def test_rows_without_an_anchor_are_unanchored(home: Home) -> None:
    home.session({"event": "session_start"}, {"event": "x"})
    home.store.anchor_file.unlink()
    check = home.check()
    assert check.problem == "unanchored"
    assert "the log has 2 rows but no anchor" in check.message


def test_another_log_in_place_is_replaced(home: Home, tmp_path: Path) -> None:
    home.session({"event": "session_start"})
    other = Home(tmp_path / "other")
    other.keys = home.keys  # another log of this installation
    other.session({"event": "session_start"})
    home.restore(other.db)
    assert home.check().problem == "replaced"


def test_a_deleted_row_is_a_seq_gap(home: Home) -> None:
    home.session({"event": "session_start"}, {"event": "x"}, {"event": "y"})
    tamper(home.db, "DELETE FROM audit_log WHERE seq = 2")
    check = home.check()
    assert check.problem == "seq_gap" and "1 row(s) are missing" in check.message


def test_a_deleted_row_is_a_seq_gap_even_with_a_row_numbered_zero_in_its_place(home: Home) -> None:
    home.session({"event": "session_start"}, {"event": "x"}, {"event": "y"})
    tamper(home.db, "DELETE FROM audit_log WHERE seq = 2")  # before the verified point
    forge_row(home.db, seq=0)  # keeps count(*) == max(seq)
    check = home.check()
    assert check.problem == "seq_gap"
    assert "1 row(s) numbered below 1 are not part of the chain" in check.message


def test_an_older_copy_put_back_is_a_rollback(home: Home) -> None:
    home.session({"event": "session_start"}, {"event": "x"})
    older = home.copy("older.db")
    home.session({"event": "session_start"})
    home.restore(older)
    check = home.check()
    assert check.problem == "rollback"
    assert "the log ends at row 2; the anchor vouches for row 3" in check.message


def test_an_older_copy_written_on_past_the_verified_row_is_a_rollback(home: Home) -> None:
    home.session({"event": "session_start"}, {"event": "x"})
    older = home.copy("older.db")
    home.session({"event": "session_start"}, {"event": "y"})  # verified through row 4
    home.restore(older)
    elsewhere = AnchorStore(anchor_file=home.folder / "elsewhere.json", keystore=None, durable=False)
    log = home.open(store=elsewhere)  # a writer that never saw the anchor
    home.append(log, ({"event": "z"}, {"event": "z"}, {"event": "z"}))
    log.close()
    check = home.check()
    assert check.problem == "rollback"
    assert "row 4, verified at the last start, is not the same row any more" in check.message


def test_an_edit_after_the_verified_point_fails_the_walk(home: Home) -> None:
    home.session({"event": "session_start"})
    home.crashed({"event": "x"}, {"event": "y"})
    tamper(home.db, "UPDATE audit_log SET resource = '/etc/shadow' WHERE seq = 2")
    check = home.check()
    assert check.problem == "content_hash_mismatch"
    assert check.message == f"{BANNER}: row 2 was edited (row 2)"


def test_a_deleted_checkpoint_the_anchor_knew_is_truncated(home: Home) -> None:
    home.session({"event": "session_start"}, {"event": "x"}, {"event": "y"})
    tamper(home.db, "DELETE FROM checkpoints")
    check = home.check()
    assert check.problem == "truncated"
    assert check.message.endswith("is missing from the database")  # no row to name


@pytest.mark.parametrize("later_grant", [False, True])
@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("/home/u/notes/*", "/*"),  # altered: a wider grant than the one issued
        ('"grant_issued":', '"grant_withheld":'),  # hidden from the grant rows
    ],
)
def test_a_grant_row_before_the_verified_point_altered_or_hidden(
    home: Home, later_grant: bool, old: str, new: str
) -> None:
    home.session(issued("g1"), {"event": "session_start"})
    if later_grant:
        home.crashed(issued("g2"))  # the first grant row past the verified point
    tamper(home.db, "UPDATE audit_log SET detail = replace(detail, ?, ?) WHERE seq = 1", (old, new))
    check = home.check()
    assert check.problem == "content_hash_mismatch"
    assert "a grant recorded before row 2 was altered or hidden since the last start" in check.message


def test_an_unopenable_database_is_missing(home: Home) -> None:
    home.db.mkdir(parents=True)  # a folder where the database should be
    check = check_at_start(home.db, keys=home.keys, reading=AnchorReading(None), live=False)
    assert check.problem == "missing"
    assert "the audit database cannot be opened (OperationalError)" in check.message


def test_an_unreadable_database_is_a_failed_check(home: Home) -> None:
    home.db.parent.mkdir(parents=True, exist_ok=True)
    home.db.write_bytes(b"not a database" * 100)
    check = check_at_start(home.db, keys=home.keys, reading=AnchorReading(None), live=False)
    assert check.problem == "content_hash_mismatch"
    assert "the audit database cannot be read (DatabaseError)" in check.message


def test_a_crashed_writer_leaves_an_unclean_session_and_a_tail(home: Home) -> None:
    home.every = 100
    home.session({"event": "session_start"})
    home.crashed({"event": "x"}, {"event": "y"}, anchored=False)
    alone = home.check(live=False)
    assert alone.ok and alone.unclean and alone.tail == 2
    assert alone.verified_seq == 3  # the tail is verified, just not vouched for by the anchor
    beside_a_writer = home.check(live=True)
    assert beside_a_writer.ok and not beside_a_writer.unclean and beside_a_writer.tail == 2
