"""Verification of the audit chain: rows, checkpoints and the external anchor.

Rows are read with ``NOT INDEXED ... ORDER BY seq, rowid`` (no index is
trusted) and walked in seq order. For each row the checks run in this order
and the first that fails names the row:

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
``signature_invalid``       a row's ``key_id`` is not the log's, a per-row
                            signature (rows of format 1) is wrong, or rows do
                            not match the signed checkpoint that covers them
``key_mismatch``            the keys offered are not the log's: the public key
                            differs from ``meta``, or the HMAC fails on *every*
                            row while everything else holds (a replaced HMAC
                            key). Status ``undecidable``, not ``tampered``.
==========================  ==================================================

Then every checkpoint (signature; ``truncated`` if its seq is past the last
row), then the anchor (:mod:`aether_qt.policy.audit_anchor`):

* a copy of the anchor that is present but malformed or not signed by this
  log's key -> ``anchor_invalid`` (planted or another installation's);
* anchor of another log id -> ``replaced``; no database but an anchor -> ``missing``;
* anchor seq past the last row -> ``rollback`` when the database is a coherent
  older state (its newest checkpoint covers exactly its last row: a restored
  copy), else ``truncated``;
* head hash at the anchor's seq differs -> ``rollback`` (an older copy that
  was then written to); the newest checkpoint the anchor knew missing from the
  database -> ``truncated``; for a v1 anchor (a checkpoint), present but
  different -> ``rollback``;
* rows past the anchor, or an anchor that says a session is still open, when
  no writer is alive (``live=False``) -> ``undecidable`` with
  ``unvouched_tail`` / ``unclosed_session``: the rows written after the last
  anchor (or cut off after a crash) cannot be vouched for. With a live writer
  (the running app) they are its newest rows and are only counted in the note.

With no anchor a clean log is ``undecidable`` / ``unanchored``, never intact.
Without keys the HMAC cannot be checked and the public key comes from the
log itself, so a clean log is ``undecidable`` with no reason.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aether_qt.policy.audit_anchor import Anchor, Checkpoint
from aether_qt.policy.audit_records import CHECKPOINT_COLUMNS, COLUMNS, content_bytes
from aether_qt.policy.audit_walker import ChainWalker, Failure
from aether_qt.policy.keys import AuditKeys

REASONS = (
    "duplicate_seq", "seq_gap", "content_hash_mismatch", "prev_hash_mismatch", "hmac_mismatch",
    "signature_invalid", "key_mismatch", "truncated", "rollback", "replaced", "missing",
    "anchor_invalid", "unvouched_tail", "unclosed_session", "unanchored",
)  # fmt: skip
UNDECIDABLE = frozenset({"key_mismatch", "unvouched_tail", "unclosed_session", "unanchored"})
_ORDER = {reason: index for index, reason in enumerate(REASONS)}


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


def check_checkpoints(
    checkpoints: Iterable[Checkpoint], *, log_id: str, key_id: str, public_key: bytes, walker: ChainWalker
) -> Failure | None:
    """Check each checkpoint's signature and that the rows it covers are the ones it signed."""
    previous = walker.start_seq
    last_seq = 0
    for ckpt in sorted(checkpoints, key=lambda c: c.ckpt_no):
        if ckpt.log_id != log_id or ckpt.key_id != key_id or not ckpt.signature_ok(public_key):
            return Failure(ckpt.seq, "signature_invalid", f"checkpoint {ckpt.ckpt_no} has a bad signature")
        if ckpt.seq < last_seq:
            message = f"checkpoint {ckpt.ckpt_no} goes back to row {ckpt.seq} after row {last_seq}"
            return Failure(ckpt.seq, "rollback", message)
        last_seq = ckpt.seq
        if ckpt.seq > walker.last_seq:
            first = walker.last_seq + 1
            return Failure(
                first, "truncated", f"checkpoint {ckpt.ckpt_no} covers rows from {first} that are gone"
            )
        if ckpt.seq <= walker.start_seq:
            continue  # before the walked range (incremental verification)
        if walker.hashes.get(ckpt.seq) != ckpt.head_hash:
            first = previous + 1
            message = f"rows {first}..{ckpt.seq} do not match signed checkpoint {ckpt.ckpt_no}"
            return Failure(first, "signature_invalid", message)
        previous = max(previous, ckpt.seq)
    return None


def check_anchor(  # noqa: PLR0911 - one exit per rule of the module docstring
    anchor: Anchor, checkpoints: Sequence[Checkpoint], *, log_id: str, walker: ChainWalker, live: bool
) -> Failure | None:
    """Compare the database with a valid external anchor (rules in the module docstring)."""
    if anchor.log_id != log_id:
        return Failure(None, "replaced", "the anchor belongs to another log: the database was replaced")
    last = walker.last_seq
    if anchor.seq > last:
        newest = max(checkpoints, key=lambda c: c.ckpt_no, default=None)
        older = newest is not None and newest.ckpt_no < max(anchor.ckpt_no, 1)
        if newest is not None and newest.seq == last and older:
            return Failure(
                last + 1, "rollback", f"the database is an older copy (anchor at row {anchor.seq})"
            )
        return Failure(last + 1, "truncated", f"rows {last + 1}..{anchor.seq} were cut off")
    if walker.hashes.get(anchor.seq, walker.genesis if anchor.seq == 0 else None) != anchor.head_hash:
        return Failure(anchor.seq, "rollback", f"row {anchor.seq} is not the one the anchor vouches for")
    if anchor.ckpt_no:
        same = next((c for c in checkpoints if c.ckpt_no == anchor.ckpt_no), None)
        if same is None:
            return Failure(None, "truncated", f"checkpoint {anchor.ckpt_no} is missing from the database")
        if anchor.legacy is not None and same != anchor.legacy:
            return Failure(anchor.seq, "rollback", f"checkpoint {anchor.ckpt_no} differs from the anchor")
    if live:
        return None
    if last > anchor.seq:
        message = (
            f"rows {anchor.seq + 1}..{last} were written after the last anchor and cannot be vouched for"
        )
        return Failure(anchor.seq + 1, "unvouched_tail", message)
    if anchor.session_open:
        message = f"Aether did not close cleanly: rows it wrote after row {anchor.seq} may be missing"
        return Failure(anchor.seq + 1, "unclosed_session", message)
    return None


def report_for(
    failure: Failure | None, *, rows: int, clean: tuple[str, str | None, bool], note: str
) -> VerifyReport:
    """Turn the first failure into a report; with none, use ``clean`` (status, reason, anchored)."""
    if failure is None:
        status, reason, anchored = clean
        return VerifyReport(status, anchored, None, reason, rows, note)
    status = "undecidable" if failure.reason in UNDECIDABLE else "tampered"
    where = "" if failure.seq is None else f" at seq {failure.seq}"
    message = f"{failure.reason}{where}: {failure.message}"
    return VerifyReport(status, False, failure.seq, failure.reason, rows, message)


def _read_meta(conn: sqlite3.Connection) -> dict[str, str]:
    return {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta").fetchall()}


def db_rows(conn: sqlite3.Connection, after_seq: int = 0) -> Iterable[tuple[Any, ...]]:
    """Row tuples in :data:`COLUMNS` order, by seq, without trusting an index."""
    return conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM audit_log NOT INDEXED WHERE seq > ? ORDER BY seq, rowid",
        (after_seq,),
    )


def db_checkpoints(conn: sqlite3.Connection, log_id: str) -> list[Checkpoint]:
    """Every checkpoint row (read without an index)."""
    sql = f"SELECT {', '.join(CHECKPOINT_COLUMNS)} FROM checkpoints NOT INDEXED"
    return [Checkpoint(log_id, *values) for values in conn.execute(sql)]


def open_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to a database file (it must exist).

    Raises:
        sqlite3.Error: the file cannot be opened.
    """
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10.0)


def verify_log(
    path: Path,
    *,
    keys: AuditKeys | None,
    anchor: Anchor | None,
    invalid_anchors: Sequence[str] = (),
    live: bool = False,
) -> VerifyReport:
    """Verify ``audit.db`` at ``path`` against ``keys`` and the external ``anchor``.

    Args:
        path: the database file; it is opened read-only, so a closed copy can be checked.
        keys: the installation's keys (None: chain and signatures only, never intact).
        anchor: the newest valid anchor (see :meth:`AnchorStore.read`).
        invalid_anchors: copies of the anchor that were present but not valid.
        live: a writer (the running app) is alive, so rows past the anchor are its newest.
    """
    if invalid_anchors:
        message = "; ".join(invalid_anchors)
        return report_for(Failure(None, "anchor_invalid", message), rows=0, clean=("", None, False), note="")
    if not path.exists():
        if anchor is not None:
            gone = Failure(
                1, "missing", f"the audit database is gone (the anchor vouches for row {anchor.seq})"
            )
            return report_for(gone, rows=0, clean=("", None, False), note="")
        return VerifyReport("undecidable", False, None, None, 0, "no audit database")
    try:
        conn = open_readonly(path)
    except sqlite3.Error as exc:
        return VerifyReport("undecidable", False, None, None, 0, f"cannot open: {type(exc).__name__}")
    try:
        return verify_connection(conn, keys=keys, anchor=anchor, live=live)
    finally:
        conn.close()


def verify_connection(
    conn: sqlite3.Connection, *, keys: AuditKeys | None, anchor: Anchor | None, live: bool = False
) -> VerifyReport:
    """:func:`verify_log` on an open connection (a backup's in-memory copy of the log, checked in full)."""
    try:
        return _verify_conn(conn, keys, anchor, live)
    except (sqlite3.Error, KeyError, ValueError) as exc:
        return VerifyReport("undecidable", False, None, None, 0, f"cannot read: {type(exc).__name__}: {exc}")


def walk_db(conn: sqlite3.Connection, walker: ChainWalker) -> Failure | None:
    """Feed every row after the walker's start to it; the first row failure, if any."""
    try:
        walker.feed_db_rows(db_rows(conn, walker.start_seq))
        return walker.finish()
    finally:
        walker.close()


def _verify_conn(
    conn: sqlite3.Connection, keys: AuditKeys | None, anchor: Anchor | None, live: bool
) -> VerifyReport:
    meta = _read_meta(conn)
    log_id, public_hex, key_id = meta["log_id"], meta["public_key"], meta["key_id"]
    if keys is not None and (keys.public_key.hex() != public_hex or keys.key_id != key_id):
        first = conn.execute("SELECT min(seq) FROM audit_log NOT INDEXED").fetchone()[0]
        mismatch = Failure(first, "key_mismatch", "the signing key offered is not this log's key")
        return report_for(mismatch, rows=0, clean=("undecidable", None, False), note="")
    ckpts = db_checkpoints(conn, log_id)
    public_key = bytes.fromhex(public_hex)
    walker = ChainWalker(
        log_id=log_id,
        key_id=key_id,
        public_key=public_key,
        hmac_key=keys.hmac_key if keys is not None else None,
        wanted={c.seq for c in ckpts} | ({anchor.seq} if anchor is not None else set()),
    )
    failure = walk_db(conn, walker)
    signed = check_checkpoints(ckpts, log_id=log_id, key_id=key_id, public_key=public_key, walker=walker)
    if failure is not None and failure.reason == "key_mismatch" and signed is not None:
        # every HMAC fails *and* the rows are not the ones the checkpoints signed: not a wrong key,
        # a chain recomputed by someone without it
        failure = Failure(failure.seq, "hmac_mismatch", f"row {failure.seq} has a wrong HMAC")
    failure = failure or signed
    if failure is None and anchor is not None:
        failure = check_anchor(anchor, ckpts, log_id=log_id, walker=walker, live=live)
    rows = walker.rows_checked
    if anchor is None:
        note = f"chain of {rows} rows intact but unanchored: truncation or rollback cannot be ruled out"
        return report_for(failure, rows=rows, clean=("undecidable", "unanchored", False), note=note)
    if keys is None:
        note = "no keys: HMAC not checked and the public key comes from the log itself"
        return report_for(failure, rows=rows, clean=("undecidable", None, False), note=note)
    newer = walker.last_seq - anchor.seq
    note = f"{rows} rows intact, anchored at row {anchor.seq} (epoch {anchor.epoch})"
    if newer > 0:
        note += f"; {newer} newer row(s) written by the running app"
    return report_for(failure, rows=rows, clean=("intact", None, True), note=note)


def feed_records(walker: ChainWalker, records: Iterable[Mapping[str, Any]]) -> Failure | None:
    """Feed parsed records (bundle rows) in order; the first row failure, if any."""
    try:
        for record in records:
            if not walker.feed_record(record):
                break
        return walker.finish()
    finally:
        walker.close()


__all__ = [
    "REASONS",
    "ChainWalker",
    "Failure",
    "VerifyReport",
    "check_anchor",
    "check_checkpoints",
    "content_bytes",
    "db_checkpoints",
    "db_rows",
    "feed_records",
    "open_readonly",
    "report_for",
    "verify_connection",
    "verify_log",
    "walk_db",
]
