"""The chain walker (aether_qt/policy/audit_walker.py) over database rows: the fast loop hands odd rows on.

SQLite stores whatever type it is given, so someone with the file can put text
where an integer belongs; the fast loop must not trip over such a row but hand
it to the careful path, which names it. (Record-level cases are in
``test_audit_verify.py``.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from audit_support import entry, random_keys, tamper

from aether_qt.policy.audit_anchor import AnchorStore
from aether_qt.policy.audit_chain import AuditLog
from aether_qt.policy.audit_records import record_from_row
from aether_qt.policy.audit_verify import feed_records, open_readonly, verify_log, walk_db
from aether_qt.policy.audit_walker import ChainWalker
from aether_qt.policy.contracts import AuditRow, FakeClock
from aether_qt.policy.keys import AuditKeys


@pytest.fixture
def keys() -> AuditKeys:
    return random_keys()


def written(tmp_path: Path, keys: AuditKeys, count: int) -> tuple[AuditLog, list[AuditRow]]:
    """A closed log of ``count`` rows, and those rows."""
    log = AuditLog.open(
        tmp_path / "audit.db",
        keys=keys,
        anchor_store=AnchorStore(anchor_file=tmp_path / "anchor.json", keystore=None, durable=False),
        clock=FakeClock(),
    )
    for i in range(count):
        log.append(entry(i))
    rows = log.rows()
    log.close()
    return log, rows


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("ts_wall_ms", "'soon'", "content_hash_mismatch"),  # no canonical bytes at all
        ("actor", "7", "content_hash_mismatch"),
        ("prev_hash", "'not hex'", "content_hash_mismatch"),
        ("record_hmac", "7", "hmac_mismatch"),  # a number where the hex MAC belongs
    ],
)
@pytest.mark.parametrize("with_keys", [True, False])
def test_a_column_of_the_wrong_type_is_named_at_its_row(
    tmp_path: Path, keys: AuditKeys, column: str, value: str, reason: str, with_keys: bool
) -> None:
    log, _ = written(tmp_path, keys, 5)
    tamper(log.path, f"UPDATE audit_log SET {column} = {value} WHERE seq = 3")
    report = verify_log(log.path, keys=keys if with_keys else None, anchor=None)
    if reason == "hmac_mismatch" and not with_keys:
        assert report.reason == "unanchored"  # the MAC is only read by whoever holds its key
        return
    assert (report.status, report.first_bad_seq, report.reason) == ("tampered", 3, reason)
    assert report.rows_checked == 2


@pytest.mark.parametrize("with_keys", [True, False])
def test_rows_sealed_under_another_key_id_are_signature_invalid(
    tmp_path: Path, keys: AuditKeys, with_keys: bool
) -> None:
    log, _ = written(tmp_path, keys, 3)
    walker = ChainWalker(
        log_id=log.log_id,
        key_id="0123456789abcdef",  # not the key id the rows carry
        public_key=keys.public_key,
        hmac_key=keys.hmac_key if with_keys else None,
        wanted=(),
    )
    conn = open_readonly(log.path)
    try:
        failure = walk_db(conn, walker)
    finally:
        conn.close()
    assert failure is not None and (failure.seq, failure.reason) == (1, "signature_invalid")
    assert failure.message == "row 1 is not sealed by this log's key"
    assert walker.rows_checked == 0


@pytest.mark.parametrize("signature", ["ab" * 63, "AB" * 64, "not hex", 7])
def test_a_malformed_row_signature_stops_the_walk_at_its_row(
    tmp_path: Path, keys: AuditKeys, signature: object
) -> None:
    log, rows = written(tmp_path, keys, 5)
    records = [record_from_row(row) for row in rows]
    records[2]["signature"] = signature  # not even a candidate for the batch check
    walker = ChainWalker(
        log_id=log.log_id, key_id=keys.key_id, public_key=keys.public_key, hmac_key=keys.hmac_key, wanted=()
    )
    failure = feed_records(walker, records)
    assert failure is not None and (failure.seq, failure.reason) == (3, "signature_invalid")
    assert failure.message == "row 3 is not signed by this log's key"
    assert walker.rows_checked == 2  # the walk stopped there
