"""Edge cases of the chain walker, checkpoint and anchor checks and verify_log."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from audit_support import random_keys

from aether_qt.policy import audit_walker
from aether_qt.policy.audit_anchor import Anchor, AnchorStore, Checkpoint, sign_checkpoint
from aether_qt.policy.audit_chain import AuditLog
from aether_qt.policy.audit_records import record_from_row
from aether_qt.policy.audit_verify import ChainWalker, Failure, check_anchor, check_checkpoints, verify_log
from aether_qt.policy.contracts import AuditEntry, FakeClock
from aether_qt.policy.keys import AuditKeys


def build(
    tmp_path: Path, keys: AuditKeys, count: int, every: int = 256
) -> tuple[AuditLog, list[dict[str, Any]]]:
    anchors = AnchorStore(anchor_file=tmp_path / "anchor.json", keystore=None)
    log = AuditLog.open(
        tmp_path / "audit.db", keys=keys, anchor_store=anchors, clock=FakeClock(), checkpoint_every=every
    )
    for i in range(count):
        log.append(AuditEntry(actor="a", capability="c", resource=str(i), decision="allow"))
    return log, [record_from_row(r) for r in log.rows()]


def walk(
    log: AuditLog, keys: AuditKeys | None, records: list[dict[str, Any]], wanted: set[int] | None = None
) -> tuple[ChainWalker, Failure | None]:
    walker = ChainWalker(
        log_id=log.log_id,
        key_id=log.key_id,
        public_key=log.public_key,
        hmac_key=keys.hmac_key if keys else None,
        wanted=wanted or {len(records)},
    )
    try:
        for record in records:
            if not walker.feed_record(record):
                break
        return walker, walker.finish()
    finally:
        walker.close()


def legacy(records: list[dict[str, Any]], keys: AuditKeys) -> list[dict[str, Any]]:
    """The records as format 1 wrote them: each row signed on its own."""
    for record in records:
        record["signature"] = keys.signing_key.sign(bytes.fromhex(record["event_hash"])).signature.hex()
    return records


@pytest.fixture
def keys() -> AuditKeys:
    return random_keys()


@pytest.mark.parametrize(
    ("change", "reason", "seq"),
    [
        ({"seq": "3"}, "content_hash_mismatch", 3),
        ({"seq": True}, "content_hash_mismatch", 3),
        ({"prev_hash": "zz"}, "content_hash_mismatch", 3),
        ({"event_hash": None}, "content_hash_mismatch", 3),
        ({"record_hmac": None}, "hmac_mismatch", 3),
        ({"signature": "not hex"}, "signature_invalid", 3),
        ({"signature": "00" * 64}, "signature_invalid", 3),
        ({"signature": "AB" * 64}, "signature_invalid", 3),
    ],
)
def test_walker_row_failures(
    tmp_path: Path, keys: AuditKeys, change: dict[str, Any], reason: str, seq: int
) -> None:
    log, records = build(tmp_path, keys, 5)
    records = legacy(records, keys)
    records[2] = {**records[2], **change}
    _, failure = walk(log, keys, records)
    assert failure is not None and (failure.reason, failure.seq) == (reason, seq)
    log.close()


def test_walker_missing_column_and_gap_at_start(tmp_path: Path, keys: AuditKeys) -> None:
    log, records = build(tmp_path, keys, 3)
    broken = dict(records[1])
    del broken["detail"]
    _, failure = walk(log, keys, [records[0], broken])
    assert failure is not None and (failure.reason, failure.seq) == ("content_hash_mismatch", 2)
    _, failure = walk(log, keys, records[1:])
    assert failure is not None and (failure.reason, failure.seq) == ("seq_gap", 1)
    log.close()


def test_hmac_failing_on_first_rows_only_is_tampering(tmp_path: Path, keys: AuditKeys) -> None:
    log, records = build(tmp_path, keys, 4)
    for record in records[:2]:
        record["record_hmac"] = "00" * 32
    _, failure = walk(log, keys, records)
    assert failure is not None and (failure.reason, failure.seq) == ("hmac_mismatch", 1)
    log.close()


def test_hmac_failing_everywhere_plus_a_bad_signature_is_not_a_key_mismatch(
    tmp_path: Path, keys: AuditKeys
) -> None:
    log, records = build(tmp_path, keys, 3)
    for record in records:
        record["record_hmac"] = "00" * 32
    records[2]["signature"] = "00" * 64  # a format-1 signature that does not verify
    _, failure = walk(log, keys, records)
    assert failure is not None and (failure.reason, failure.seq) == ("hmac_mismatch", 1)
    log.close()


@pytest.mark.parametrize("cpus", [1, 2])
def test_batched_parallel_signature_checks(
    tmp_path: Path, keys: AuditKeys, monkeypatch: pytest.MonkeyPatch, cpus: int
) -> None:
    monkeypatch.setattr(audit_walker, "_BATCH", 8)
    monkeypatch.setattr(audit_walker, "_PARALLEL_MIN", 4)
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    log, records = build(tmp_path, keys, 30)
    records = legacy(records, keys)  # rows of format 1 carry their own signatures
    walker, failure = walk(log, keys, records)
    assert failure is None and walker.rows_checked == 30 and walker.hashes[30] == records[-1]["event_hash"]
    records[20]["signature"] = records[19]["signature"]
    _, failure = walk(log, keys, records)
    assert failure is not None and (failure.reason, failure.seq) == ("signature_invalid", 21)
    records[4]["signature"] = records[3]["signature"]  # in the first, already flushed batch
    _, failure = walk(log, keys, records)
    assert failure is not None and (failure.reason, failure.seq) == ("signature_invalid", 5)
    log.close()


def test_checkpoint_checks(tmp_path: Path, keys: AuditKeys) -> None:
    log, records = build(tmp_path, keys, 4)
    walker, _ = walk(log, keys, records)

    def ckpt(seq: int, head: str, *, signer: AuditKeys = keys, ckpt_no: int = 1) -> Checkpoint:
        return sign_checkpoint(
            log_id=log.log_id, ckpt_no=ckpt_no, seq=seq, head_hash=head, ts_wall_ms=1, kind="manual",
            signing_key=signer.signing_key, key_id=signer.key_id,
        )  # fmt: skip

    common: dict[str, Any] = {"log_id": log.log_id, "key_id": log.key_id, "public_key": log.public_key}
    good = ckpt(4, records[3]["event_hash"])
    assert check_checkpoints([good], walker=walker, **common) is None
    forged = ckpt(4, records[3]["event_hash"], signer=random_keys())
    failure = check_checkpoints([forged], walker=walker, **common)
    assert failure is not None and failure.reason == "signature_invalid"
    # Rows that do not match the signed checkpoint covering them: named from the interval's start.
    failure = check_checkpoints([ckpt(4, "ab" * 32)], walker=walker, **common)
    assert failure is not None and (failure.reason, failure.seq) == ("signature_invalid", 1)
    # A v1 anchor (a checkpoint) present in the database but different from it.
    legacy_ckpt = ckpt(4, records[3]["event_hash"], ckpt_no=1)
    legacy_anchor = Anchor.from_json(legacy_ckpt.to_json())
    other = Checkpoint(**{**legacy_ckpt.to_json(), "ts_wall_ms": 2})
    checks: dict[str, Any] = {"log_id": log.log_id, "walker": walker, "live": False}
    failure = check_anchor(legacy_anchor, [other], **checks)
    assert failure is not None and (failure.reason, failure.seq) == ("rollback", 4)
    failure = check_anchor(legacy_anchor, [], **checks)
    assert failure is not None and (failure.reason, failure.seq) == ("truncated", None)
    # Anchor past the end while the database holds a newer-numbered checkpoint: truncated.
    far = Anchor.from_json(ckpt(9, "ab" * 32, ckpt_no=1).to_json())
    failure = check_anchor(far, [ckpt(4, records[3]["event_hash"], ckpt_no=2)], **checks)
    assert failure is not None and (failure.reason, failure.seq) == ("truncated", 5)
    log.close()


def test_rows_after_the_anchor_or_an_open_session_are_never_intact_without_a_live_writer(
    tmp_path: Path, keys: AuditKeys
) -> None:
    log, records = build(tmp_path, keys, 6)
    walker, _ = walk(log, keys, records, wanted={3, 6})
    at3 = Anchor(log.log_id, keys.key_id, 1, 3, records[2]["event_hash"], 0, False, 3, "", "", 1)
    failure = check_anchor(at3, [], log_id=log.log_id, walker=walker, live=False)
    assert failure is not None and (failure.reason, failure.seq) == ("unvouched_tail", 4)
    assert check_anchor(at3, [], log_id=log.log_id, walker=walker, live=True) is None
    at6_open = Anchor(log.log_id, keys.key_id, 1, 6, records[5]["event_hash"], 0, True, 6, "", "", 1)
    failure = check_anchor(at6_open, [], log_id=log.log_id, walker=walker, live=False)
    assert failure is not None and (failure.reason, failure.seq) == ("unclosed_session", 7)
    assert check_anchor(at6_open, [], log_id=log.log_id, walker=walker, live=True) is None
    closed = Anchor(log.log_id, keys.key_id, 1, 6, records[5]["event_hash"], 0, False, 6, "", "", 1)
    assert check_anchor(closed, [], log_id=log.log_id, walker=walker, live=False) is None
    replaced = Anchor("another", keys.key_id, 1, 6, records[5]["event_hash"], 0, False, 6, "", "", 1)
    failure = check_anchor(replaced, [], log_id=log.log_id, walker=walker, live=False)
    assert failure is not None and failure.reason == "replaced"
    log.close()


def test_verify_log_on_a_directory_and_an_empty_log(tmp_path: Path, keys: AuditKeys) -> None:
    folder = tmp_path / "dir.db"
    folder.mkdir()
    report = verify_log(folder, keys=keys, anchor=None)
    assert report.status == "undecidable" and report.message.startswith("cannot open")
    log, _ = build(tmp_path, keys, 0)
    log.close()
    report = verify_log(log.path, keys=random_keys(), anchor=None)
    assert (report.status, report.first_bad_seq, report.reason) == ("undecidable", None, "key_mismatch")
    report = verify_log(log.path, keys=keys, anchor=None)
    assert (report.status, report.reason, report.rows_checked) == ("undecidable", "unanchored", 0)


def test_verify_reports_unparsable_json_columns(tmp_path: Path, keys: AuditKeys) -> None:
    import sqlite3

    log, _ = build(tmp_path, keys, 3)
    log.close()
    conn = sqlite3.connect(log.path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_log_no_UPDATE")
    conn.execute("UPDATE audit_log SET detail = '{' WHERE seq = 2")
    conn.execute("UPDATE audit_log SET stage_trace = 7 WHERE seq = 3")
    conn.close()
    report = verify_log(log.path, keys=keys, anchor=None)
    assert (report.first_bad_seq, report.reason) == (2, "content_hash_mismatch")
