"""Tests of the audit log: appends, checkpoints, anchors, failures and key checks."""

from __future__ import annotations

import logging
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from audit_support import forge_row, random_keys, tamper

from aether_qt.policy.audit_anchor import AnchorStore, Checkpoint
from aether_qt.policy.audit_chain import AuditKeyMismatchError, AuditLog, connect_audit_db
from aether_qt.policy.audit_verify import verify_log
from aether_qt.policy.canonical import genesis_hash
from aether_qt.policy.contracts import AuditEntry, AuditSink, AuditWriteError, FakeClock
from aether_qt.policy.keys import AuditKeys
from aether_qt.storage.statement_hook import HookedConnection


def entry(i: int = 0, **detail: Any) -> AuditEntry:
    return AuditEntry(
        actor="gate",
        capability="files.read",
        resource=f"/home/u/{i}.txt",
        decision="allow",
        stage_trace=({"stage": "scope", "outcome": "pass"},),
        detail={"i": i, **detail},
    )


class BrokenConn:
    """Wraps a real connection; once ``broken``, INSERTs (and optionally ROLLBACK) raise."""

    def __init__(self, conn: sqlite3.Connection, *, rollback_fails: bool = False) -> None:
        self.conn = conn
        self.rollback_fails = rollback_fails
        self.broken = False

    @property
    def in_transaction(self) -> bool:
        return self.conn.in_transaction

    def execute(self, sql: str, *args: Any) -> Any:
        if self.broken and sql.startswith("INSERT"):
            raise sqlite3.OperationalError("disk I/O error")
        if self.broken and sql == "ROLLBACK" and self.rollback_fails:
            raise sqlite3.OperationalError("cannot rollback")
        return self.conn.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> Any:
        return self.conn.executemany(sql, *args)

    def close(self) -> None:
        self.conn.close()


class Connections:
    """A ``connect`` for :meth:`AuditLog.open`: real connections, wrapped and kept for the test."""

    def __init__(self, *, rollback_fails: bool = False) -> None:
        self.rollback_fails = rollback_fails
        self.opened: list[BrokenConn] = []

    def __call__(self, path: Path) -> BrokenConn:
        conn = BrokenConn(connect_audit_db(path), rollback_fails=self.rollback_fails)
        self.opened.append(conn)
        return conn


@pytest.fixture
def keys() -> AuditKeys:
    return random_keys()


@pytest.fixture
def anchors(tmp_path: Path) -> AnchorStore:
    return AnchorStore(anchor_file=tmp_path / "config" / "audit-anchor.json", keystore=None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def open_log(
    tmp_path: Path,
    keys: AuditKeys,
    anchors: AnchorStore,
    clock: FakeClock,
    every: int = 4,
    connect: Connections | None = None,
) -> AuditLog:
    return AuditLog.open(
        tmp_path / "data" / "audit.db",
        keys=keys,
        anchor_store=anchors,
        clock=clock,
        checkpoint_every=every,
        connect=connect or connect_audit_db,
    )


def test_is_an_audit_sink_with_durable_settings(
    tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock
) -> None:
    connections = Connections()
    log = open_log(tmp_path, keys, anchors, clock, connect=connections)
    assert isinstance(log, AuditSink) and log.healthy
    [conn] = connections.opened  # synchronous is a setting of the connection, not of the file
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    reader = sqlite3.connect(f"file:{log.path}?mode=ro", uri=True)
    assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reader.close()
    assert log.head().seq == 0 and log.head().event_hash == genesis_hash(log.log_id)
    assert log.public_key == keys.public_key and log.key_id == keys.key_id
    log.close()


def test_append_get_rows_head(
    tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock
) -> None:
    log = open_log(tmp_path, keys, anchors, clock)
    rows = []
    for i in range(6):
        clock.advance(1.5)
        rows.append(log.append(entry(i, ttl_s=3600.5)))
    assert [r.seq for r in rows] == [1, 2, 3, 4, 5, 6]
    assert all(r.audit_id.startswith("aud_") and len(r.audit_id) == 36 for r in rows)
    assert rows[0].ts_mono_ns == 2_500_000_000 and rows[0].ts_wall_ms == 1_700_000_001_500
    assert rows[1].prev_hash == rows[0].event_hash
    assert log.get(rows[2].audit_id) == rows[2]
    assert log.get("aud_missing") is None
    assert log.rows(after_seq=4) == rows[4:]
    assert log.rows(after_seq=0, limit=2) == rows[:2]
    assert log.head().seq == 6 and log.head().event_hash == rows[-1].event_hash
    assert [c.seq for c in log.checkpoints()] == [4]  # every 4 rows
    anchor = anchors.load(public_key=keys.public_key, key_id=keys.key_id)
    assert anchor is not None and (anchor.seq, anchor.head_hash) == (4, log.checkpoints()[0].head_hash)
    assert rows[0].signature == ""  # rows are signed through checkpoints, not one by one
    log.close()
    log.close()  # idempotent
    assert not log.healthy


def test_close_writes_a_shutdown_checkpoint_only_when_needed(
    tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock
) -> None:
    log = open_log(tmp_path, keys, anchors, clock)
    for i in range(5):
        log.append(entry(i))
    log.close()
    log = open_log(tmp_path, keys, anchors, clock)
    kinds = [(c.ckpt_no, c.seq, c.kind) for c in log.checkpoints()]
    assert kinds == [(1, 4, "periodic"), (2, 5, "shutdown")]
    log.close()  # nothing new: no extra checkpoint
    log = open_log(tmp_path, keys, anchors, clock)
    assert len(log.checkpoints()) == 2
    manual = log.checkpoint()
    assert (manual.ckpt_no, manual.kind, manual.seq) == (3, "manual", 5)
    log.close()
    anchor = anchors.load(public_key=keys.public_key, key_id=keys.key_id)
    report = verify_log(log.path, keys=keys, anchor=anchor)
    assert report.intact, report


def test_closed_log_refuses_everything(
    tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock
) -> None:
    log = open_log(tmp_path, keys, anchors, clock)
    log.close()
    for call in (
        lambda: log.append(entry()),
        log.checkpoint,
        log.rows,
        log.checkpoints,
        lambda: log.get("x"),
    ):
        with pytest.raises(AuditWriteError, match="closed"):
            call()


def test_unrepresentable_entry_is_refused_but_log_stays_healthy(
    tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock
) -> None:
    log = open_log(tmp_path, keys, anchors, clock)
    with pytest.raises(AuditWriteError, match="not representable"):
        log.append(entry(0, bad=math.nan))
    assert log.healthy and log.head().seq == 0
    log.close()


@pytest.mark.parametrize("rollback_fails", [False, True])
def test_write_failure_turns_the_log_unhealthy(
    tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock, rollback_fails: bool
) -> None:
    connections = Connections(rollback_fails=rollback_fails)
    log = open_log(tmp_path, keys, anchors, clock, connect=connections)
    log.append(entry(1))
    [conn] = connections.opened
    conn.broken = True
    with pytest.raises(AuditWriteError, match="audit row not committed: OperationalError"):
        log.append(entry(2))
    assert not log.healthy
    assert ("rollback failed" in log.last_error) is rollback_fails
    with pytest.raises(AuditWriteError, match="unhealthy"):
        log.append(entry(3))
    log.close()
    # Reopening with a working connection makes it healthy again; the failed row never existed.
    log = open_log(tmp_path, keys, anchors, clock)
    assert log.healthy and log.head().seq == 1
    log.close()


def test_checkpoint_failure_and_failed_shutdown_checkpoint(
    tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    connections = Connections()
    log = open_log(tmp_path, keys, anchors, clock, connect=connections)
    log.append(entry(1))
    [conn] = connections.opened
    conn.broken = True
    with caplog.at_level(logging.ERROR):
        log.close()
    assert "no shutdown checkpoint written" in caplog.text
    assert not log.healthy
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        conn.conn.execute("SELECT 1")  # closed regardless


def test_anchor_write_failure_marks_unhealthy_but_keeps_the_row(
    tmp_path: Path, keys: AuditKeys, clock: FakeClock
) -> None:
    blocked = tmp_path / "config" / "audit-anchor.json"
    blocked.mkdir(parents=True)  # a directory where the file should go
    anchors = AnchorStore(anchor_file=blocked, keystore=None)
    log = open_log(tmp_path, keys, anchors, clock, every=2)
    log.append(entry(1))
    row = log.append(entry(2))
    assert row.seq == 2 and not log.healthy
    assert "anchor file not written" in log.last_error
    log.close()


def test_an_unreadable_row_under_the_anchor_marks_unhealthy_but_keeps_the_row(
    tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock
) -> None:
    def disk_fails_on_read_back(_db: str, sql: str) -> None:
        if sql.startswith("SELECT event_hash FROM audit_log WHERE seq"):
            raise sqlite3.OperationalError("disk I/O error")

    def connect(path: Path) -> HookedConnection:
        return HookedConnection(connect_audit_db(path), disk_fails_on_read_back, path.name)

    log = AuditLog.open(tmp_path / "audit.db", keys=keys, anchor_store=anchors, clock=clock, connect=connect)
    log.append(entry(1), anchor=True)  # the first anchor has no earlier row to read back
    row = log.append(entry(2), anchor=True)  # committed before the anchor is moved: it stays
    assert row.seq == 2 and not log.healthy
    assert "audit anchor not stored" in log.last_error and "disk I/O error" in log.last_error
    log.close()


def test_open_rejects_other_keys(
    tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock
) -> None:
    log = open_log(tmp_path, keys, anchors, clock)
    log.close()  # empty log: only the public key can be checked
    with pytest.raises(AuditKeyMismatchError, match="signing key"):
        open_log(tmp_path, random_keys(), anchors, clock)
    log = open_log(tmp_path, keys, anchors, clock)
    log.append(entry(1))
    log.close()
    seed = bytes(keys.signing_key)
    wrong_hmac = AuditKeys.from_secrets(b"\x00" * 32, seed, source="test")
    with pytest.raises(AuditKeyMismatchError, match="HMAC key"):
        open_log(tmp_path, wrong_hmac, anchors, clock)


def test_open_errors(tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="checkpoint_every"):
        open_log(tmp_path, keys, anchors, clock, every=0)
    (tmp_path / "data" / "audit.db").mkdir(parents=True)
    with pytest.raises(AuditWriteError, match="audit database unusable"):
        open_log(tmp_path, keys, anchors, clock)
    odd = tmp_path / "odd"
    odd.mkdir()
    conn = sqlite3.connect(odd / "audit.db")
    conn.execute("CREATE TABLE meta (x)")
    conn.close()
    with pytest.raises(AuditWriteError, match="audit database unusable"):
        AuditLog.open(odd / "audit.db", keys=keys, anchor_store=anchors, clock=clock)
    clash = tmp_path / "clash"
    clash.mkdir()
    conn = sqlite3.connect(clash / "audit.db")
    conn.execute("CREATE TABLE audit_log (x)")
    conn.close()
    with pytest.raises(AuditWriteError, match="already exists"):
        AuditLog.open(clash / "audit.db", keys=keys, anchor_store=anchors, clock=clock)


def test_sign_export_only_signs_bundles(
    tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock
) -> None:
    log = open_log(tmp_path, keys, anchors, clock)
    with pytest.raises(ValueError, match="only export bundles"):
        log.sign_export(b"\x00" * 32)
    assert len(bytes.fromhex(log.sign_export(b"aether-audit-bundle-v1:{}"))) == 64
    log.close()


# ---------------------------------------------------------------- anchors


@pytest.mark.parametrize(
    "data",
    [[], {"log_id": "x"}, {**dict.fromkeys(("log_id", "head_hash", "key_id", "kind", "signature"), "s"),
                           "ckpt_no": True, "seq": 1, "ts_wall_ms": 1},
     {**dict.fromkeys(("log_id", "head_hash", "key_id", "kind", "signature"), "s"),
      "ckpt_no": 1, "seq": "1", "ts_wall_ms": 1}],
)  # fmt: skip
def test_checkpoint_parsing_rejects_malformed(data: object) -> None:
    with pytest.raises(ValueError):
        Checkpoint.from_json(data)


def test_close_tolerates_a_concurrent_close(
    tmp_path: Path,
    keys: AuditKeys,
    anchors: AnchorStore,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = open_log(tmp_path, keys, anchors, clock)
    log.append(entry(1))
    real_checkpoint = log.checkpoint
    raced: list[str] = []

    def racing_checkpoint(kind: str = "manual", **options: Any) -> Checkpoint:
        if not raced:  # another thread's close() runs to the end just before our checkpoint
            raced.append(kind)
            log.close()
        return real_checkpoint(kind, **options)

    monkeypatch.setattr(log, "checkpoint", racing_checkpoint)
    with caplog.at_level(logging.ERROR):
        log.close()
    assert raced == ["shutdown"]
    assert "no shutdown checkpoint written: audit log is closed" in caplog.text
    assert not log.healthy
    with pytest.raises(AuditWriteError, match="closed"):
        log.rows()
    log = open_log(tmp_path, keys, anchors, clock)
    assert [c.kind for c in log.checkpoints()] == ["shutdown"]  # the other close wrote it, once
    log.close()


# ---------------------------------------------------------------- a database changed from outside


@pytest.mark.parametrize(
    ("forge", "what"),
    [
        (lambda db: forge_row(db, event_hash="x"), "ValueError"),  # a newest row the log never writes
        (lambda db: forge_row(db, event_hash="zz" * 32), "ValueError"),  # not hex: no HMAC to compare
        (lambda db: forge_row(db, event_hash="ab"), "ValueError"),  # hex, but not a SHA-256
        (lambda db: (forge_row(db, seq=-1), tamper(db, "DELETE FROM audit_log WHERE seq > 0")), "ValueError"),
        (lambda db: tamper(db, "DELETE FROM meta WHERE key = 'log_id'"), "KeyError"),
    ],
)
def test_a_database_edited_beyond_recognition_is_unusable_not_a_crash(
    tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock, forge: Any, what: str
) -> None:
    log = open_log(tmp_path, keys, anchors, clock)
    log.append(entry(1))
    log.close()
    forge(log.path)
    connections = Connections()
    with pytest.raises(AuditWriteError, match=f"audit database unusable: {what}"):
        open_log(tmp_path, keys, anchors, clock, connect=connections)
    [conn] = connections.opened
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        conn.conn.execute("SELECT 1")  # not left open


def test_a_malformed_head_written_by_another_process_turns_the_log_unhealthy(
    tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock
) -> None:
    appender = open_log(tmp_path, keys, anchors, clock)
    voucher = open_log(tmp_path, keys, anchors, clock)
    appender.append(entry(1))
    forge_row(appender.path, event_hash="x")
    with pytest.raises(AuditWriteError, match="audit head unreadable: ValueError"):
        appender.append(entry(2))
    with pytest.raises(AuditWriteError, match="audit head unreadable: ValueError"):
        voucher.vouch()
    assert not appender.healthy and not voucher.healthy
    assert [row.seq for row in voucher.rows()] == [1, 2]  # nothing was chained onto the forged row
    appender.close()
    voucher.close()


def test_vouch_moves_the_anchor_to_rows_written_by_another_writer(
    tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock
) -> None:
    log = open_log(tmp_path, keys, anchors, clock, every=100)
    other = open_log(tmp_path, keys, anchors, clock, every=100)
    log.append(entry(1))
    other.append(entry(2))
    other.checkpoint()
    assert log.head().seq == 1  # what this writer has seen
    head = log.vouch(keyring=False, session_open=False)
    assert head.seq == 2 and log.head() == head
    anchor = anchors.load(public_key=keys.public_key, key_id=keys.key_id)
    assert anchor is not None
    assert (anchor.seq, anchor.head_hash, anchor.ckpt_no) == (2, head.event_hash, 1)
    assert not anchor.session_open
    other.close()
    log.close()


def test_vouch_fails_when_the_anchor_cannot_be_written(
    tmp_path: Path, keys: AuditKeys, clock: FakeClock
) -> None:
    blocked = tmp_path / "config" / "audit-anchor.json"
    blocked.mkdir(parents=True)  # a directory where the file should go
    log = open_log(tmp_path, keys, AnchorStore(anchor_file=blocked, keystore=None), clock)
    log.append(entry(1))  # not anchored: nothing to write yet
    assert log.healthy
    with pytest.raises(AuditWriteError, match="audit anchor not stored: AnchorWriteError"):
        log.vouch()
    assert not log.healthy
    log.close()


def test_close_without_checkpoint_writes_nothing(
    tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock
) -> None:
    log = open_log(tmp_path, keys, anchors, clock)
    log.append(entry(1), anchor=True)
    before = anchors.anchor_file.read_bytes()
    log.close_without_checkpoint()
    log.close_without_checkpoint()  # idempotent
    log.close()  # and a later close has nothing left to write with
    assert not log.healthy
    assert anchors.anchor_file.read_bytes() == before
    anchor = anchors.load(public_key=keys.public_key, key_id=keys.key_id)
    assert anchor is not None and anchor.session_open  # what a crashed writer leaves
    log = open_log(tmp_path, keys, anchors, clock)
    assert log.checkpoints() == []
    log.close()


def test_grant_rows_are_the_rows_carrying_grant_facts(
    tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock
) -> None:
    log = open_log(tmp_path, keys, anchors, clock)
    details: list[dict[str, Any]] = [
        {"event": "session_start"},
        {"grant_issued": {"grant_id": "g1"}},
        {"note": "grant_issued"},  # the word alone is not a grant fact
        {"event": "grant_revoked", "grant_ids": ["g1"]},
        {"event": "cascade", "grant_ids": []},
        {"event": "grant_spent", "grant_id": "g2"},
    ]
    for i, detail in enumerate(details):
        log.append(entry(i, **detail))
    assert [row.seq for row in log.grant_rows()] == [2, 4, 5, 6]
    log.close()


def test_first_seq_since_finds_the_first_row_written_at_or_after_a_time(
    tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock
) -> None:
    log = open_log(tmp_path, keys, anchors, clock)
    start = clock.wall_ms()
    assert log.first_seq_since(start) == 1  # an empty log: the next row
    for i in range(9):
        log.append(entry(i))
        clock.advance(60)
    assert log.first_seq_since(start) == 1
    assert log.first_seq_since(start + 1) == 2
    assert log.first_seq_since(start + 4 * 60_000) == 5
    assert log.first_seq_since(start + 100 * 60_000) == 10
    log.close()


def test_a_checkpoint_is_never_signed_over_a_row_that_fails_verification(
    tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock
) -> None:
    """A row forged into the file while the log is open (no HMAC key) is not signed by the next checkpoint."""
    from audit_support import forge_row

    log = open_log(tmp_path, keys, anchors, clock, every=4)
    for i in range(2):
        log.append(entry(i))
    forge_row(log.path, resource="/forged")  # row 3, chained correctly but with a wrong HMAC
    with pytest.raises(AuditWriteError, match="checkpoint refused"):
        log.append(entry(3))  # row 4 would be checkpointed: the walk since checkpoint 0 finds row 3
    assert not log.healthy and log.checkpoints() == []
    with pytest.raises(AuditWriteError):
        log.checkpoint()
    log.close()
    reader = sqlite3.connect(log.path)
    try:
        assert reader.execute("SELECT count(*) FROM checkpoints").fetchone()[0] == 0
        assert reader.execute("SELECT max(seq) FROM audit_log").fetchone()[0] == 3  # row 4 rolled back
    finally:
        reader.close()


def test_a_checkpoint_is_refused_after_a_forged_previous_checkpoint(
    tmp_path: Path, keys: AuditKeys, anchors: AnchorStore, clock: FakeClock
) -> None:
    from audit_support import tamper

    from aether_qt.policy.audit_anchor import sign_checkpoint

    log = open_log(tmp_path, keys, anchors, clock, every=100)
    log.append(entry(1))
    log.checkpoint()
    tamper(log.path, "UPDATE checkpoints SET signature = ? WHERE ckpt_no = 1", ("00" * 64,))
    with pytest.raises(AuditWriteError, match="previous checkpoint's signature is invalid"):
        log.checkpoint()
    log.close()
    # A previous checkpoint validly signed (by someone holding the key) for another head at the same row.
    log = open_log(tmp_path / "b", keys, anchors, clock, every=100)
    row = log.append(entry(1))
    other = sign_checkpoint(
        log_id=log.log_id, ckpt_no=1, seq=row.seq, head_hash="ab" * 32, ts_wall_ms=1, kind="manual",
        signing_key=keys.signing_key, key_id=keys.key_id,
    )  # fmt: skip
    tamper(
        log.path,
        "INSERT INTO checkpoints (ckpt_no, seq, head_hash, ts_wall_ms, key_id, kind, signature) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            other.ckpt_no,
            other.seq,
            other.head_hash,
            other.ts_wall_ms,
            other.key_id,
            other.kind,
            other.signature,
        ),
    )
    with pytest.raises(AuditWriteError, match="the head is not the row walked to"):
        log.checkpoint()
    log.close()
