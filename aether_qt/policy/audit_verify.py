"""Verification of the audit chain: rows, checkpoints and the external anchor.

Rows are read with ``NOT INDEXED ... ORDER BY seq, rowid`` (SQLite sorts
them itself; no index is trusted) and walked in seq order. For each row the
checks run in this order and the first that fails names the row:

==========================  ==================================================
reason                      rule
==========================  ==================================================
``duplicate_seq``           the seq was already seen
``seq_gap``                 the seq skips ahead; ``first_bad_seq`` is the first
                            missing seq
``content_hash_mismatch``   ``SHA-256(prev_hash || canonical)`` differs from the
                            stored ``event_hash`` (any content column edited)
``prev_hash_mismatch``      ``prev_hash`` is not the previous row's
                            ``event_hash`` (genesis for the first row): a row
                            from another history was spliced in
``hmac_mismatch``           ``record_hmac`` is wrong (chain recomputed by
                            someone without the HMAC key)
``signature_invalid``       Ed25519 signature wrong, or ``key_id`` not the log's
``key_mismatch``            the keys offered are not the log's: the public key
                            differs from ``meta``, or the HMAC fails on *every*
                            row while everything else holds (a replaced HMAC
                            key). Status ``undecidable``, not ``tampered``.
==========================  ==================================================

Then every checkpoint (signature; ``truncated`` if its seq is past the last
row; ``rollback`` if its head hash is not the row's hash), then the anchor:

* anchor signature invalid -> ``signature_invalid`` (forged anchor);
* anchor of another log id -> ``rollback`` (the database was replaced);
* anchor seq past the last row -> ``rollback`` when the database is a coherent
  older state (its newest checkpoint covers exactly its last row and is older
  than the anchor: a restored copy), else ``truncated`` (rows cut off the
  end, with or without their checkpoint). Cutting rows exactly back to an
  older checkpoint is indistinguishable from restoring that copy and is
  reported as ``rollback``;
* head hash at the anchor's seq differs -> ``rollback`` (an older copy that
  was then written to);
* the anchor's checkpoint missing from the database -> ``truncated``; present
  but different -> ``rollback``.

With no anchor a clean log is ``undecidable`` / ``unanchored``, never intact.
Without keys the HMAC cannot be checked and the public key comes from the
log itself, so a clean log is ``undecidable`` with no reason.

Ed25519 checks dominate the cost; they run in batches on a thread pool
(libsodium releases the GIL).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.signing

from aether_qt.policy.audit_anchor import Checkpoint
from aether_qt.policy.audit_records import CHECKPOINT_COLUMNS, COLUMNS, content_bytes, record_from_db
from aether_qt.policy.canonical import event_hash, genesis_hash, hmac_equal, record_hmac
from aether_qt.policy.contracts import PolicyError
from aether_qt.policy.keys import AuditKeys

REASONS = (
    "duplicate_seq", "seq_gap", "content_hash_mismatch", "prev_hash_mismatch", "hmac_mismatch",
    "signature_invalid", "key_mismatch", "truncated", "rollback", "unanchored",
)  # fmt: skip
_ORDER = {reason: index for index, reason in enumerate(REASONS)}
_BATCH = 16384
_PARALLEL_MIN = 1024


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of a verification.

    Attributes:
        status: ``intact``, ``tampered`` or ``undecidable``.
        anchored: an external anchor (or, for bundles, the bundle signature)
            vouched for the head.
        first_bad_seq: the first bad row, when one can be named.
        reason: one of :data:`REASONS`, or ``None``.
        rows_checked: rows that passed every row check.
        message: a sentence for the user.
    """

    status: str
    anchored: bool
    first_bad_seq: int | None
    reason: str | None
    rows_checked: int
    message: str

    @property
    def intact(self) -> bool:
        """True only for a fully verified log."""
        return self.status == "intact"


@dataclass(frozen=True, slots=True)
class Failure:
    """The first problem found: ``reason`` at ``seq`` (``None`` if no row can be named)."""

    seq: int | None
    reason: str
    message: str


def _first_bad(verify_key: nacl.signing.VerifyKey, batch: Sequence[tuple[int, bytes, bytes]]) -> int | None:
    for seq, message, signature in batch:
        try:
            verify_key.verify(message, signature)
        except (nacl.exceptions.BadSignatureError, ValueError):
            return seq
    return None


class ChainWalker:
    """Checks rows fed in seq order; see the module docstring for the rules.

    Args:
        log_id: the log's id (genesis and HMAC input).
        key_id: fingerprint every row must carry.
        public_key: Ed25519 key the signatures must verify under.
        hmac_key: the secret HMAC key, or ``None`` to skip the HMAC check.
        wanted: seqs whose event hash the caller needs afterwards (checkpoints).
    """

    def __init__(
        self, *, log_id: str, key_id: str, public_key: bytes, hmac_key: bytes | None, wanted: Iterable[int]
    ) -> None:
        self._log_id = log_id
        self._key_id = key_id
        self._public_key = public_key
        self._hmac_key = hmac_key
        self._wanted = set(wanted)
        self._prev = genesis_hash(log_id)
        self._verify_key = nacl.signing.VerifyKey(public_key)
        self._pending: list[tuple[int, bytes, bytes]] = []
        self._workers = max(1, os.cpu_count() or 1)
        self._pool: ThreadPoolExecutor | None = None
        self._failure: Failure | None = None
        self._sig_fail: int | None = None
        self._hmac_fail: int | None = None
        self._hmac_ok_seen = False
        self.last_seq = 0
        self.rows_checked = 0
        self.hashes: dict[int, str] = {0: self._prev}

    def _stop(self, seq: int, reason: str, message: str) -> bool:
        self._failure = Failure(seq, reason, message)
        return False

    def feed(self, record: Mapping[str, Any]) -> bool:  # noqa: PLR0911 - one exit per check, in order
        """Check one row; return False once walking further is pointless."""
        seq = record.get("seq")
        expected = self.last_seq + 1
        if not isinstance(seq, int) or isinstance(seq, bool):
            return self._stop(expected, "content_hash_mismatch", "a row has no integer seq")
        if self.rows_checked and seq <= self.last_seq:
            return self._stop(seq, "duplicate_seq", f"seq {seq} appears twice or out of order")
        if seq != expected:
            return self._stop(expected, "seq_gap", f"rows {expected}..{seq - 1} are missing")
        try:
            digest = event_hash(record["prev_hash"], content_bytes(record))
        except (KeyError, ValueError, TypeError, PolicyError):
            digest = ""
        stored = record.get("event_hash")
        if digest != stored or not isinstance(stored, str):
            return self._stop(seq, "content_hash_mismatch", f"row {seq} was edited")
        if record["prev_hash"] != self._prev:
            return self._stop(seq, "prev_hash_mismatch", f"row {seq} does not follow row {seq - 1}")
        if self._hmac_key is not None and not self._check_hmac(seq, stored, record.get("record_hmac")):
            return False
        text = str(record.get("signature"))
        try:
            signature = bytes.fromhex(text) if text == text.lower() else b""
        except ValueError:
            signature = b""
        if record["key_id"] != self._key_id or len(signature) != 64:
            return self._stop(seq, "signature_invalid", f"row {seq} is not signed by this log's key")
        self._pending.append((seq, bytes.fromhex(stored), signature))
        self._prev = stored
        self.last_seq = seq
        self.rows_checked += 1
        if seq in self._wanted:
            self.hashes[seq] = stored
        if len(self._pending) >= _BATCH:
            return self._flush()
        return True

    def _check_hmac(self, seq: int, digest: str, stored: Any) -> bool:
        assert self._hmac_key is not None
        expected = record_hmac(self._hmac_key, self._log_id, seq, digest)
        ok = isinstance(stored, str) and hmac_equal(expected, stored)
        if ok:
            if self._hmac_fail is not None:
                return self._stop(self._hmac_fail, "hmac_mismatch", f"row {self._hmac_fail} has a wrong HMAC")
            self._hmac_ok_seen = True
            return True
        if self._hmac_ok_seen:
            return self._stop(seq, "hmac_mismatch", f"row {seq} has a wrong HMAC")
        if self._hmac_fail is None:
            self._hmac_fail = seq
        return True

    def _flush(self) -> bool:
        """Check the pending signatures, on all cores when there are many.

        libsodium releases the GIL, so the chunks run in parallel; the walk
        waits meanwhile (overlapping it with the checks measured slower on
        two cores: the threads fight over the GIL).
        """
        batch, self._pending = self._pending, []
        if len(batch) < _PARALLEL_MIN or self._workers < 2:
            found = [_first_bad(self._verify_key, batch)]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="audit-verify")
            size = -(-len(batch) // self._workers)
            chunks = [batch[start : start + size] for start in range(0, len(batch), size)]
            found = list(self._pool.map(_first_bad, [self._verify_key] * len(chunks), chunks))
        bad = min((seq for seq in found if seq is not None), default=None)
        if bad is not None:
            self._sig_fail = bad
        return bad is None

    def close(self) -> None:
        """Stop the signature threads (idempotent)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def finish(self) -> Failure | None:
        """Check the remaining signatures and return the first failure, if any."""
        if self._pending:
            self._flush()
        found = [f for f in (self._failure,) if f is not None]
        if self._sig_fail is not None:
            found.append(Failure(self._sig_fail, "signature_invalid", f"row {self._sig_fail}: bad signature"))
        if self._hmac_fail is not None:
            if not found:
                return Failure(
                    self._hmac_fail,
                    "key_mismatch",
                    "the HMAC key fails on every row while the chain and signatures hold: wrong key",
                )
            found.append(Failure(self._hmac_fail, "hmac_mismatch", f"row {self._hmac_fail} has a wrong HMAC"))
        if not found:
            return None
        return min(found, key=lambda f: (f.seq or 0, _ORDER[f.reason]))


def check_checkpoints(
    checkpoints: Iterable[Checkpoint], *, log_id: str, key_id: str, public_key: bytes, walker: ChainWalker
) -> Failure | None:
    """Check each checkpoint's signature and that it matches the rows."""
    for ckpt in sorted(checkpoints, key=lambda c: c.ckpt_no):
        if ckpt.log_id != log_id or ckpt.key_id != key_id or not ckpt.signature_ok(public_key):
            return Failure(ckpt.seq, "signature_invalid", f"checkpoint {ckpt.ckpt_no} has a bad signature")
        if ckpt.seq > walker.last_seq:
            first = walker.last_seq + 1
            message = f"checkpoint {ckpt.ckpt_no} covers rows from {first} that are gone"
            return Failure(first, "truncated", message)
        if walker.hashes.get(ckpt.seq) != ckpt.head_hash:
            return Failure(ckpt.seq, "rollback", f"checkpoint {ckpt.ckpt_no} vouches for another history")
    return None


def check_anchor(  # noqa: PLR0911 - one exit per rule of the module docstring
    anchor: Checkpoint,
    checkpoints: Sequence[Checkpoint],
    *,
    log_id: str,
    key_id: str,
    public_key: bytes,
    walker: ChainWalker,
) -> Failure | None:
    """Compare the database with the external anchor (rules in the module docstring)."""
    if anchor.key_id != key_id or not anchor.signature_ok(public_key):
        return Failure(None, "signature_invalid", "the external anchor's signature is invalid")
    if anchor.log_id != log_id:
        return Failure(None, "rollback", "the anchor belongs to another log: the database was replaced")
    last = walker.last_seq
    if anchor.seq > last:
        newest = max(checkpoints, key=lambda c: c.ckpt_no, default=None)
        if newest is not None and newest.seq == last and newest.ckpt_no < anchor.ckpt_no:
            message = f"the database is an older copy (anchor at row {anchor.seq})"
            return Failure(last + 1, "rollback", message)
        return Failure(last + 1, "truncated", f"rows {last + 1}..{anchor.seq} were cut off")
    if walker.hashes.get(anchor.seq) != anchor.head_hash:
        return Failure(anchor.seq, "rollback", f"row {anchor.seq} is not the one the anchor vouches for")
    same = next((c for c in checkpoints if c.ckpt_no == anchor.ckpt_no), None)
    if same is None:
        return Failure(None, "truncated", f"checkpoint {anchor.ckpt_no} is missing from the database")
    if same != anchor:
        return Failure(anchor.seq, "rollback", f"checkpoint {anchor.ckpt_no} differs from the anchor")
    return None


def report_for(
    failure: Failure | None, *, rows: int, clean: tuple[str, str | None, bool], note: str
) -> VerifyReport:
    """Turn the first failure into a report; with none, use ``clean`` (status, reason, anchored)."""
    if failure is None:
        status, reason, anchored = clean
        return VerifyReport(status, anchored, None, reason, rows, note)
    status = "undecidable" if failure.reason == "key_mismatch" else "tampered"
    where = "" if failure.seq is None else f" at seq {failure.seq}"
    message = f"{failure.reason}{where}: {failure.message}"
    return VerifyReport(status, False, failure.seq, failure.reason, rows, message)


def _read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta").fetchall()}


def _db_records(conn: sqlite3.Connection) -> Iterable[dict[str, Any]]:
    cursor = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM audit_log NOT INDEXED ORDER BY seq, rowid")
    for values in cursor:
        try:
            yield record_from_db(values, strict=True)
        except (ValueError, TypeError):
            yield dict(zip(COLUMNS, values, strict=True))  # not canonical JSON text: fails the content hash


def verify_log(path: Path, *, keys: AuditKeys | None, anchor: Checkpoint | None) -> VerifyReport:
    """Verify ``audit.db`` at ``path`` against ``keys`` and the external ``anchor``.

    Opens its own read-only connection, so it can check a closed copy.
    """
    if not path.exists():
        if anchor is not None:
            return VerifyReport("tampered", False, 1, "truncated", 0, "truncated: the audit database is gone")
        return VerifyReport("undecidable", False, None, None, 0, "no audit database")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return VerifyReport("undecidable", False, None, None, 0, f"cannot open: {type(exc).__name__}")
    try:
        return _verify_conn(conn, keys, anchor)
    except (sqlite3.Error, KeyError, ValueError) as exc:
        return VerifyReport("undecidable", False, None, None, 0, f"cannot read: {type(exc).__name__}: {exc}")
    finally:
        conn.close()


def _verify_conn(conn: sqlite3.Connection, keys: AuditKeys | None, anchor: Checkpoint | None) -> VerifyReport:
    meta = _read_meta(conn)
    log_id, public_hex, key_id = meta["log_id"], meta["public_key"], meta["key_id"]
    if keys is not None and (keys.public_key.hex() != public_hex or keys.key_id != key_id):
        first = conn.execute("SELECT min(seq) FROM audit_log NOT INDEXED").fetchone()[0]
        mismatch = Failure(first, "key_mismatch", "the signing key offered is not this log's key")
        return report_for(mismatch, rows=0, clean=("undecidable", None, False), note="")
    ckpts = [
        Checkpoint(log_id, *values)
        for values in conn.execute(f"SELECT {', '.join(CHECKPOINT_COLUMNS)} FROM checkpoints NOT INDEXED")
    ]
    wanted = {c.seq for c in ckpts} | ({anchor.seq} if anchor is not None else set())
    public_key = bytes.fromhex(public_hex)
    walker = ChainWalker(
        log_id=log_id,
        key_id=key_id,
        public_key=public_key,
        hmac_key=keys.hmac_key if keys is not None else None,
        wanted=wanted,
    )
    try:
        for record in _db_records(conn):
            if not walker.feed(record):
                break
        failure: Failure | None = walker.finish()
    finally:
        walker.close()
    failure = failure or check_checkpoints(
        ckpts, log_id=log_id, key_id=key_id, public_key=public_key, walker=walker
    )
    if failure is None and anchor is not None:
        failure = check_anchor(
            anchor, ckpts, log_id=log_id, key_id=key_id, public_key=public_key, walker=walker
        )
    rows = walker.rows_checked
    if anchor is None:
        note = f"chain of {rows} rows intact but unanchored: truncation or rollback cannot be ruled out"
        return report_for(failure, rows=rows, clean=("undecidable", "unanchored", False), note=note)
    if keys is None:
        note = "no keys: HMAC not checked and the public key comes from the log itself"
        return report_for(failure, rows=rows, clean=("undecidable", None, False), note=note)
    note = f"{rows} rows intact, anchored at checkpoint {anchor.ckpt_no} (row {anchor.seq})"
    return report_for(failure, rows=rows, clean=("intact", None, True), note=note)


__all__ = [
    "REASONS",
    "ChainWalker",
    "Failure",
    "VerifyReport",
    "check_anchor",
    "check_checkpoints",
    "report_for",
    "verify_log",
]
