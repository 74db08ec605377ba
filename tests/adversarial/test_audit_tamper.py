"""Tampering with a closed copy of ``audit.db`` using plain sqlite3 (no app code).

Every case edits a copy of a cleanly closed log of 40 rows (checkpoints every
16 rows: #1 at 16, #2 shutdown at 20, #3 at 32, #4 shutdown at 40; the
external anchor is #4). ``old.db`` is the copy taken after the first close
(20 rows, checkpoints #1, #2). Expected verdicts:

=========================================================  ===============  ======================
tamper                                                     first_bad_seq    reason
=========================================================  ===============  ======================
none (untouched copy)                                      -                intact
edit a payload field of row 10                             10               content_hash_mismatch
edit row 10 and recompute the SHA-256 chain (no HMAC key)  10               hmac_mismatch
  ... checked with the public key only                     1                signature_invalid (rows 1..16
                                                                            do not match checkpoint #1)
same from row 1 (every HMAC fails, checkpoints disagree)   1                hmac_mismatch
delete middle row 20 (triggers dropped)                    20               seq_gap
swap the seq of rows 5 and 9                               5                content_hash_mismatch
replace row 20 by row 20 of another install's log          20               prev_hash_mismatch
rebuild the table without its key, duplicating row 7       7                duplicate_seq
delete the last 5 rows                                     36               truncated
delete the last 5 rows and the last checkpoint             36               truncated
restore the older copy (old.db)                            21               rollback
restore old.db, then keep writing to it                    40               rollback
replace the HMAC key in the keyring                        1                key_mismatch (undecidable)
replace the Ed25519 seed in the keyring                    1                key_mismatch (undecidable)
replace the public key in ``meta``                         1                key_mismatch (undecidable)
delete only the newest checkpoint the anchor knew           -                truncated
forge the anchor file (bad signature, or another key's)    -                anchor_invalid
anchor of another log                                      -                replaced
delete audit.db entirely                                   1                missing
no anchor at all                                           -                unanchored (undecidable)
=========================================================  ===============  ======================

Known limit (documented in ``audit_verify``): cutting rows back exactly to an
older checkpoint, and deleting the newer checkpoints, is indistinguishable from
restoring that older copy and is reported as ``rollback``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from audit_support import entry, random_keys
from keyring_support import MemoryKeyring

from aether_qt.policy.audit_anchor import Anchor, AnchorStore
from aether_qt.policy.audit_chain import AuditLog
from aether_qt.policy.audit_verify import VerifyReport, verify_log
from aether_qt.policy.contracts import FakeClock
from aether_qt.policy.keys import AuditKeys, KeyStore


def fill(path: Path, keys: AuditKeys, anchors: AnchorStore, first: int, count: int, every: int = 16) -> None:
    """Open the log at ``path``, append ``count`` entries, close it cleanly."""
    log = AuditLog.open(path, keys=keys, anchor_store=anchors, clock=FakeClock(), checkpoint_every=every)
    try:
        for i in range(first, first + count):
            log.append(entry(i))
    finally:
        log.close()


CONTENT = (
    "seq", "audit_id", "ts_wall_ms", "ts_mono_ns", "actor", "capability", "resource", "decision",
    "reason", "change_id", "turn_id", "stage_trace", "detail", "key_id",
)  # fmt: skip


@dataclass
class Original:
    """The pristine log every test copies."""

    folder: Path
    keys: AuditKeys
    keystore: KeyStore
    backend: MemoryKeyring
    anchor: Anchor

    @property
    def db(self) -> Path:
        return self.folder / "audit.db"


@pytest.fixture(scope="module")
def original(tmp_path_factory: pytest.TempPathFactory) -> Original:
    folder = tmp_path_factory.mktemp("audit-original")
    backend = MemoryKeyring()
    keystore = KeyStore(namespace="t", key_file=folder / "keys.json", backend=backend)
    keys = keystore.load_keys(log_exists=False, allow_key_file=False)
    anchors = AnchorStore(anchor_file=folder / "anchor.json", keystore=keystore)
    fill(folder / "audit.db", keys, anchors, 1, 20)
    shutil.copy(folder / "audit.db", folder / "old.db")
    fill(folder / "audit.db", keys, anchors, 21, 20)
    anchor = anchors.load(public_key=keys.public_key, key_id=keys.key_id)
    assert anchor is not None and anchor.ckpt_no == 4 and anchor.seq == 40 and not anchor.session_open
    return Original(folder, keys, keystore, backend, anchor)


@pytest.fixture
def copy(original: Original, tmp_path: Path) -> Path:
    target = tmp_path / "audit.db"
    shutil.copy(original.db, target)
    return target


@pytest.fixture
def sql(copy: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(copy, isolation_level=None)
    yield conn
    conn.close()


def drop_triggers(conn: sqlite3.Connection) -> None:
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")


def check(path: Path, original: Original, **kwargs: object) -> VerifyReport:
    options: dict[str, object] = {"keys": original.keys, "anchor": original.anchor}
    options.update(kwargs)
    return verify_log(path, **options)  # type: ignore[arg-type]


def recompute_chain(conn: sqlite3.Connection, from_seq: int) -> None:
    """Re-hash rows from ``from_seq`` on, the way an attacker without keys would."""
    cols = ", ".join(CONTENT)
    prev = conn.execute("SELECT prev_hash FROM audit_log WHERE seq = ?", (from_seq,)).fetchone()[0]
    for values in conn.execute(
        f"SELECT {cols} FROM audit_log WHERE seq >= ? ORDER BY seq", (from_seq,)
    ).fetchall():
        record = dict(zip(CONTENT, values, strict=True))
        record["stage_trace"] = json.loads(record["stage_trace"])
        record["detail"] = json.loads(record["detail"])
        body = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        digest = hashlib.sha256(bytes.fromhex(prev) + body).hexdigest()
        conn.execute(
            "UPDATE audit_log SET prev_hash = ?, event_hash = ? WHERE seq = ?", (prev, digest, record["seq"])
        )
        prev = digest


def test_untouched_copy_is_intact(copy: Path, original: Original) -> None:
    report = check(copy, original)
    assert report.intact and report.anchored and report.rows_checked == 40
    assert (report.first_bad_seq, report.reason) == (None, None)


def test_triggers_reject_update_and_delete(sql: sqlite3.Connection) -> None:
    for statement in (
        "UPDATE audit_log SET resource = 'x' WHERE seq = 1",
        "DELETE FROM audit_log WHERE seq = 1",
        "UPDATE checkpoints SET seq = 1",
        "DELETE FROM checkpoints",
        "UPDATE meta SET value = 'x'",
        "DELETE FROM meta",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            sql.execute(statement)


def test_edit_payload_field(sql: sqlite3.Connection, copy: Path, original: Original) -> None:
    drop_triggers(sql)
    sql.execute("UPDATE audit_log SET resource = '/etc/shadow' WHERE seq = 10")
    report = check(copy, original)
    assert (report.status, report.first_bad_seq, report.reason) == ("tampered", 10, "content_hash_mismatch")


def test_edit_detail_json_whitespace(sql: sqlite3.Connection, copy: Path, original: Original) -> None:
    drop_triggers(sql)
    sql.execute("UPDATE audit_log SET detail = replace(detail, ':', ': ') WHERE seq = 3")
    assert (check(copy, original).first_bad_seq, check(copy, original).reason) == (3, "content_hash_mismatch")


def test_edit_and_recompute_chain_without_hmac_key(
    sql: sqlite3.Connection, copy: Path, original: Original
) -> None:
    drop_triggers(sql)
    sql.execute("UPDATE audit_log SET decision = 'allow_everything' WHERE seq = 10")
    recompute_chain(sql, 10)
    report = check(copy, original)
    assert (report.status, report.first_bad_seq, report.reason) == ("tampered", 10, "hmac_mismatch")
    # Without the HMAC key the signatures still catch it.
    report = check(copy, original, keys=None)  # the public key alone: the signed checkpoint at 16 disagrees
    assert (report.first_bad_seq, report.reason) == (1, "signature_invalid")


def test_recompute_whole_chain_is_not_mistaken_for_a_wrong_key(
    sql: sqlite3.Connection, copy: Path, original: Original
) -> None:
    drop_triggers(sql)
    sql.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    recompute_chain(sql, 1)
    report = check(copy, original)
    assert (report.status, report.first_bad_seq, report.reason) == ("tampered", 1, "hmac_mismatch")


def test_delete_middle_row(sql: sqlite3.Connection, copy: Path, original: Original) -> None:
    drop_triggers(sql)
    sql.execute("DELETE FROM audit_log WHERE seq = 20")
    report = check(copy, original)
    assert (report.status, report.first_bad_seq, report.reason) == ("tampered", 20, "seq_gap")


def test_swap_two_rows_seq(sql: sqlite3.Connection, copy: Path, original: Original) -> None:
    drop_triggers(sql)
    sql.execute("UPDATE audit_log SET seq = -1 WHERE seq = 5")
    sql.execute("UPDATE audit_log SET seq = 5 WHERE seq = 9")
    sql.execute("UPDATE audit_log SET seq = 9 WHERE seq = -1")
    report = check(copy, original)
    assert (report.status, report.first_bad_seq, report.reason) == ("tampered", 5, "content_hash_mismatch")


def test_splice_valid_row_from_another_install(
    sql: sqlite3.Connection, copy: Path, original: Original, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other_anchors = AnchorStore(anchor_file=other / "anchor.json", keystore=None)
    fill(other / "audit.db", random_keys(), other_anchors, 1, 25)
    drop_triggers(sql)
    sql.execute("ATTACH DATABASE ? AS other", (str(other / "audit.db"),))
    sql.execute("DELETE FROM audit_log WHERE seq = 20")
    sql.execute("INSERT INTO audit_log SELECT * FROM other.audit_log WHERE seq = 20")
    report = check(copy, original)
    assert (report.status, report.first_bad_seq, report.reason) == ("tampered", 20, "prev_hash_mismatch")


def test_duplicate_seq_in_rebuilt_table(sql: sqlite3.Connection, copy: Path, original: Original) -> None:
    sql.execute("CREATE TABLE loose AS SELECT * FROM audit_log")
    sql.execute("INSERT INTO loose SELECT * FROM audit_log WHERE seq = 7")
    sql.execute("DROP TABLE audit_log")
    sql.execute("ALTER TABLE loose RENAME TO audit_log")
    report = check(copy, original)
    assert (report.status, report.first_bad_seq, report.reason) == ("tampered", 7, "duplicate_seq")


def test_delete_last_rows(sql: sqlite3.Connection, copy: Path, original: Original) -> None:
    drop_triggers(sql)
    sql.execute("DELETE FROM audit_log WHERE seq > 35")
    report = check(copy, original)
    assert (report.status, report.first_bad_seq, report.reason) == ("tampered", 36, "truncated")
    # Even with no external anchor the surviving checkpoint gives it away.
    report = check(copy, original, anchor=None)
    assert (report.first_bad_seq, report.reason) == (36, "truncated")


def test_delete_last_rows_and_last_checkpoint(
    sql: sqlite3.Connection, copy: Path, original: Original
) -> None:
    drop_triggers(sql)
    sql.execute("DELETE FROM audit_log WHERE seq > 35")
    sql.execute("DELETE FROM checkpoints WHERE ckpt_no = 4")
    report = check(copy, original)
    assert (report.status, report.first_bad_seq, report.reason) == ("tampered", 36, "truncated")
    # Without the external anchor nothing inside the file can tell: undecidable, never intact.
    report = check(copy, original, anchor=None)
    assert (report.status, report.reason) == ("undecidable", "unanchored")


def test_delete_only_the_anchored_checkpoint(sql: sqlite3.Connection, copy: Path, original: Original) -> None:
    drop_triggers(sql)
    sql.execute("DELETE FROM checkpoints WHERE ckpt_no = 4")
    report = check(copy, original)
    assert (report.status, report.first_bad_seq, report.reason) == ("tampered", None, "truncated")


def test_restore_older_copy(copy: Path, original: Original) -> None:
    shutil.copy(original.folder / "old.db", copy)
    report = check(copy, original)
    assert (report.status, report.first_bad_seq, report.reason) == ("tampered", 21, "rollback")


def test_restore_older_copy_then_keep_writing(copy: Path, original: Original) -> None:
    shutil.copy(original.folder / "old.db", copy)
    anchors = AnchorStore(anchor_file=copy.parent / "anchor.json", keystore=None)
    anchors.save(original.anchor, public_key=original.keys.public_key)
    log = AuditLog.open(
        copy, keys=original.keys, anchor_store=anchors, clock=FakeClock(), checkpoint_every=16
    )
    for i in range(100, 125):
        log.append(entry(i))
    log.close()
    kept = anchors.load(public_key=original.keys.public_key, key_id=original.keys.key_id)
    assert kept == original.anchor  # the anchor never moves back
    report = check(copy, original)
    assert (report.status, report.first_bad_seq, report.reason) == ("tampered", 40, "rollback")


def test_replace_hmac_key_in_keyring(copy: Path, original: Original) -> None:
    username = original.keystore.username("hmac-key")
    saved = original.backend.entries[("aether", username)]
    original.backend.entries[("aether", username)] = base64.b64encode(b"\x01" * 32).decode()
    try:
        wrong = original.keystore.load_keys(log_exists=True, allow_key_file=False)
    finally:
        original.backend.entries[("aether", username)] = saved
    report = check(copy, original, keys=wrong)
    assert (report.status, report.first_bad_seq, report.reason) == ("undecidable", 1, "key_mismatch")


def test_replace_seed_in_keyring(copy: Path, original: Original) -> None:
    username = original.keystore.username("ed25519-seed")
    saved = original.backend.entries[("aether", username)]
    original.backend.entries[("aether", username)] = base64.b64encode(b"\x02" * 32).decode()
    try:
        wrong = original.keystore.load_keys(log_exists=True, allow_key_file=False)
    finally:
        original.backend.entries[("aether", username)] = saved
    report = check(copy, original, keys=wrong)
    assert (report.status, report.first_bad_seq, report.reason) == ("undecidable", 1, "key_mismatch")


def test_replace_public_key_in_meta(sql: sqlite3.Connection, copy: Path, original: Original) -> None:
    drop_triggers(sql)
    sql.execute("UPDATE meta SET value = ? WHERE key = 'public_key'", (random_keys().public_key.hex(),))
    report = check(copy, original)
    assert (report.status, report.first_bad_seq, report.reason) == ("undecidable", 1, "key_mismatch")


def planted(tmp_path: Path, original: Original, data: object) -> VerifyReport:
    """Verify the untouched copy with ``data`` written as the anchor file."""
    anchors = AnchorStore(anchor_file=tmp_path / "anchor.json", keystore=None)
    (tmp_path / "anchor.json").write_text(json.dumps(data))
    reading = anchors.read(public_key=original.keys.public_key, key_id=original.keys.key_id)
    return verify_log(
        tmp_path / "audit.db", keys=original.keys, anchor=reading.anchor, invalid_anchors=reading.invalid
    )


def test_forged_anchor(copy: Path, original: Original, tmp_path: Path) -> None:
    forged = {**original.anchor.to_json(), "seq": 10**9}  # unsigned edit: a huge seq
    report = planted(tmp_path, original, forged)
    assert (report.status, report.first_bad_seq, report.reason) == ("tampered", None, "anchor_invalid")
    assert "not signed by this installation's key" in report.message


def test_another_installations_anchor(copy: Path, original: Original, tmp_path: Path) -> None:
    other_keys = random_keys()
    other = tmp_path / "other"
    anchors = AnchorStore(anchor_file=other / "anchor.json", keystore=None)
    fill(other / "audit.db", other_keys, anchors, 1, 3)
    report = planted(tmp_path, original, json.loads((other / "anchor.json").read_text()))
    assert (report.status, report.reason) == ("tampered", "anchor_invalid")


def test_anchor_of_another_log(copy: Path, original: Original, tmp_path: Path) -> None:
    other = tmp_path / "other"
    anchors = AnchorStore(anchor_file=other / "anchor.json", keystore=None)
    fill(other / "audit.db", original.keys, anchors, 1, 3)
    other_anchor = anchors.load(public_key=original.keys.public_key, key_id=original.keys.key_id)
    report = check(copy, original, anchor=other_anchor)
    assert (report.status, report.first_bad_seq, report.reason) == ("tampered", None, "replaced")


def test_database_deleted(copy: Path, original: Original) -> None:
    copy.unlink()
    report = check(copy, original)
    assert (report.status, report.first_bad_seq, report.reason) == ("tampered", 1, "missing")
    report = check(copy, original, anchor=None)
    assert (report.status, report.reason) == ("undecidable", None)


def test_no_anchor_is_never_plain_ok(copy: Path, original: Original) -> None:
    report = check(copy, original, anchor=None)
    assert (report.status, report.anchored, report.reason) == ("undecidable", False, "unanchored")
    assert report.rows_checked == 40


def test_without_keys_is_undecidable(copy: Path, original: Original) -> None:
    report = check(copy, original, keys=None)
    assert (report.status, report.reason) == ("undecidable", None)
    assert "HMAC not checked" in report.message


def test_garbage_file(copy: Path, original: Original) -> None:
    copy.write_bytes(b"not a database at all" * 100)
    report = check(copy, original)
    assert (report.status, report.reason) == ("undecidable", None)
    assert report.message.startswith("cannot read")
