"""Verified start: the log must extend its anchor, and grants come only from verified rows.

Every time the policy runtime opens a home (the app, and every command that
writes), :func:`check_at_start` compares ``audit.db`` with the anchor and
verifies what changed since the last verified point, so start stays fast
however long the log grows:

1. a copy of the anchor that is present but not valid for this log's key, no
   anchor for a log that has rows, an anchor of another log, a head behind the
   anchor or a different row at the anchor's seq: the log was replaced, cut or
   rolled back (:class:`StartCheck` ``problem``);
2. the row at the anchor's ``verified_seq`` still has the ``verified_hash``, and
   every row after it passes the chain, HMAC and checkpoint checks; no seq is
   missing anywhere (no seq below 1 and ``count(*) == max(seq)``, read without an index);
3. the grant state replayed from the grant rows up to ``verified_seq`` has the
   anchor's ``grants_digest`` (so an edit of an old grant row, hidden from the
   incremental walk, is still caught), and the grant state of the whole log is
   what the ledger is checked against and rebuilt from.

Any failure leaves the gate deny-all with the reason on the red banner until
the user acknowledges (:mod:`aether_qt.policy.audit_epoch`).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from aether_qt.policy.audit_anchor import Anchor, AnchorReading
from aether_qt.policy.audit_chain import GRANT_ROWS_SQL
from aether_qt.policy.audit_records import COLUMNS, record_from_db, row_from_record
from aether_qt.policy.audit_verify import (
    check_anchor,
    check_checkpoints,
    db_checkpoints,
    open_readonly,
    walk_db,
)
from aether_qt.policy.audit_walker import ChainWalker, Failure
from aether_qt.policy.contracts import AuditRow
from aether_qt.policy.grant_state import LedgerState, apply_row
from aether_qt.policy.keys import AuditKeys

BANNER = "Audit log replaced or rolled back"


@dataclass(frozen=True, slots=True)
class StartCheck:
    """What the start checks found.

    Attributes:
        problem: a verification reason (``missing``, ``replaced``, ``rollback``,
            ``anchor_invalid``, ``unanchored``, ``hmac_mismatch``…) or "" when the log is sound.
        message: a sentence for the banner and ``aether audit verify``.
        epoch: the epoch the anchor carries (1 for a new log).
        verified_seq: the log is verified up to this row now.
        verified_hash: that row's event hash.
        grants_digest: the digest of the grant state replayed from every verified row.
        grant_rows: those rows (the ledger is checked against them), in seq order.
        unclean: the previous session did not close and no other writer is alive.
        tail: rows found after the anchor (written after it by a session that then ended).
    """

    problem: str
    message: str
    epoch: int = 1
    verified_seq: int = 0
    verified_hash: str = ""
    grants_digest: str = ""
    grant_rows: tuple[AuditRow, ...] = field(default=(), repr=False)
    unclean: bool = False
    tail: int = 0

    @property
    def ok(self) -> bool:
        """The log extends its anchor and every new row verified."""
        return not self.problem


def _problem(reason: str, message: str) -> StartCheck:
    return StartCheck(reason, f"{BANNER}: {message}")


def check_missing(reading: AnchorReading) -> StartCheck | None:
    """No ``audit.db``: fine for a new installation, a loss when an anchor says there was a log."""
    if reading.invalid:
        return _problem("anchor_invalid", "; ".join(reading.invalid))
    if reading.anchor is not None:
        anchor = reading.anchor
        return _problem("missing", f"the audit database is gone (the anchor vouches for row {anchor.seq})")
    return None


def check_at_start(path: Path, *, keys: AuditKeys, reading: AnchorReading, live: bool) -> StartCheck:
    """Compare the log at ``path`` with its anchor and verify it from the last verified point.

    Args:
        path: an existing ``audit.db`` (opened read-only here).
        keys: the installation's keys (the caller checked they are the log's).
        reading: the anchor copies, checked against the keys.
        live: another writer (the running app) is alive on this home.
    """
    if reading.invalid:
        return _problem("anchor_invalid", "; ".join(reading.invalid))
    try:
        conn = open_readonly(path)
    except sqlite3.Error as exc:
        return _problem("missing", f"the audit database cannot be opened ({type(exc).__name__})")
    try:
        return check_connection(conn, keys=keys, reading=reading, live=live)
    finally:
        conn.close()


def check_connection(
    conn: sqlite3.Connection, *, keys: AuditKeys, reading: AnchorReading, live: bool
) -> StartCheck:
    """:func:`check_at_start` on an open connection (a backup's in-memory copy of the log)."""
    if reading.invalid:
        return _problem("anchor_invalid", "; ".join(reading.invalid))
    try:
        return _check(conn, keys, reading.anchor, live)
    except (sqlite3.Error, KeyError, TypeError, ValueError) as exc:
        return _problem("content_hash_mismatch", f"the audit database cannot be read ({type(exc).__name__})")


def _check(  # noqa: PLR0911 - one exit per rule of the module docstring
    conn: sqlite3.Connection, keys: AuditKeys, anchor: Anchor | None, live: bool
) -> StartCheck:
    log_id = str(conn.execute("SELECT value FROM meta WHERE key = 'log_id'").fetchone()[0])
    count, last, below = conn.execute(
        "SELECT count(*), coalesce(max(seq), 0), count(*) FILTER (WHERE seq < 1) FROM audit_log NOT INDEXED"
    ).fetchone()
    if anchor is None:
        if count:
            return _problem(
                "unanchored", f"the log has {count} rows but no anchor: it may have been cut short"
            )
        return StartCheck("", "", epoch=1)
    if anchor.log_id != log_id:
        return _problem("replaced", "the anchor belongs to another log: the database was replaced")
    if below:  # seqs are unique integers: none below 1 and count == max means exactly 1..max
        return _problem("seq_gap", f"{below} row(s) numbered below 1 are not part of the chain")
    if count != last:
        return _problem("seq_gap", f"{last - count} row(s) are missing from the log")
    if last < anchor.seq:
        message = f"the log ends at row {last}; the anchor vouches for row {anchor.seq} (older copy or cut)"
        return _problem("rollback", message)
    start = min(anchor.verified_seq, anchor.seq)
    start_hash = ""
    if start:
        found = conn.execute("SELECT event_hash FROM audit_log WHERE seq = ?", (start,)).fetchone()
        if found is None or found[0] != anchor.verified_hash:
            return _problem(
                "rollback", f"row {start}, verified at the last start, is not the same row any more"
            )
        start_hash = str(found[0])
    ckpts = db_checkpoints(conn, log_id)
    walker = ChainWalker(
        log_id=log_id, key_id=keys.key_id, public_key=keys.public_key, hmac_key=keys.hmac_key,
        wanted={anchor.seq, *(c.seq for c in ckpts)}, start_seq=start, start_hash=start_hash,
    )  # fmt: skip
    failure = walk_db(conn, walker) or check_checkpoints(
        ckpts, log_id=log_id, key_id=keys.key_id, public_key=keys.public_key, walker=walker
    )
    failure = failure or check_anchor(anchor, ckpts, log_id=log_id, walker=walker, live=True)
    if failure is not None:
        return _problem(failure.reason, _sentence(failure))
    grants = _grants(conn, anchor, start)
    if isinstance(grants, StartCheck):
        return grants
    digest, rows = grants
    return StartCheck(
        "", "", epoch=max(anchor.epoch, 1), verified_seq=walker.last_seq, verified_hash=walker.head_hash,
        grants_digest=digest, grant_rows=rows, unclean=anchor.session_open and not live,
        tail=walker.last_seq - anchor.seq,
    )  # fmt: skip


def _grants(
    conn: sqlite3.Connection, anchor: Anchor, verified: int
) -> tuple[str, tuple[AuditRow, ...]] | StartCheck:
    """Replay the grant rows; the state at ``verified`` must have the anchor's digest."""
    sql = f"SELECT {', '.join(COLUMNS)} FROM audit_log NOT INDEXED WHERE {GRANT_ROWS_SQL} ORDER BY seq"
    rows = tuple(row_from_record(record_from_db(values)) for values in conn.execute(sql))
    state = LedgerState()
    checked = not anchor.grants_digest  # an anchor of format 1 verified nothing yet
    for row in rows:
        if not checked and row.seq > verified:
            if state.digest != anchor.grants_digest:
                break
            checked = True
        apply_row(state, row)
    if not checked and state.digest == anchor.grants_digest:
        checked = True
    if not checked:
        message = f"a grant recorded before row {verified} was altered or hidden since the last start"
        return _problem("content_hash_mismatch", message)
    return state.digest, rows


def _sentence(failure: Failure) -> str:
    where = "" if failure.seq is None else f" (row {failure.seq})"
    return f"{failure.message}{where}"


__all__ = ["BANNER", "StartCheck", "check_at_start", "check_connection", "check_missing"]
