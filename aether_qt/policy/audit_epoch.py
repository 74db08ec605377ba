"""``aether audit acknowledge``: the audited way out of a replaced, cut or rolled-back log.

When the log does not extend its anchor (:mod:`aether_qt.policy.audit_start`)
the gate stays deny-all. Only the user's acknowledgement re-arms it, and the
acknowledgement is itself a row of the log: it starts a new *epoch* that records
what was lost.

* The log's own chain is intact (a restored older copy, another log put in its
  place, an anchor copy that is not valid, an unanchored log): the log is kept
  and an ``audit_epoch`` row records the problem and, from the newest valid
  anchor, which log and rows it vouched for (``lost``).
* The log fails its own verification (edited or deleted rows): it is set aside
  as ``audit.db.tampered-<time>`` next to it, for anyone who wants to look, and a
  new log begins with the ``audit_epoch`` row.
* The log is gone: a new log begins with the ``audit_epoch`` row.

Then the log is verified in full and the anchor (keyring and file) vouches for
the new epoch; the next start is a normal start.
"""

from __future__ import annotations

import time
from typing import Any

from aether_qt.core.paths import AppPaths
from aether_qt.policy.audit_anchor import Anchor, AnchorReading
from aether_qt.policy.audit_chain import AuditLog
from aether_qt.policy.audit_home import (
    Acknowledged,
    anchor_store_for,
    keystore_for,
    load_home_keys,
    read_anchors,
)
from aether_qt.policy.audit_start import StartCheck, check_at_start, check_missing
from aether_qt.policy.audit_verify import verify_log
from aether_qt.policy.contracts import AuditEntry, Clock, PolicyError, SystemClock
from aether_qt.policy.effects import set_aside_own_file
from aether_qt.policy.grant_state import replay
from aether_qt.policy.keys import AuditKeys


class AcknowledgeError(PolicyError):
    """The acknowledgement cannot be made (no keys, the log cannot be written)."""


def _problem(paths: AppPaths, keys: AuditKeys, reading: AnchorReading) -> StartCheck | None:
    if not paths.audit_db.exists():
        return check_missing(reading)
    check = check_at_start(paths.audit_db, keys=keys, reading=reading, live=False)
    return None if check.ok else check


def _lost(anchor: Anchor | None) -> dict[str, Any]:
    if anchor is None:
        return {}
    return {
        "log_id": anchor.log_id,
        "epoch": anchor.epoch,
        "through_seq": anchor.seq,
        "head_hash": anchor.head_hash,
    }


def acknowledge(
    paths: AppPaths,
    *,
    allow_key_file: bool = False,
    clock: Clock | None = None,
    cause: dict[str, Any] | None = None,
) -> Acknowledged:
    """Start a new epoch if the log does not extend its anchor (see the module docstring).

    ``cause`` is recorded in the epoch row when the loss was the user's own act
    (a restored backup says which one), so the row names why history went back.

    Raises:
        AcknowledgeError: no keys, or the new epoch could not be written.
    """
    keys = load_home_keys(paths, allow_key_file=allow_key_file)
    if keys is None:
        raise AcknowledgeError("the audit keys are not available: nothing can be acknowledged or signed")
    reading = read_anchors(paths, keys)
    problem = _problem(paths, keys, reading)
    current = reading.anchor.epoch if reading.anchor is not None else 1
    if problem is None:
        return Acknowledged(
            False, current, "The audit log extends its anchor: there is nothing to acknowledge.", {}
        )
    epoch = max(current, 1) + 1
    lost = _lost(reading.anchor)
    detail: dict[str, Any] = {"event": "audit_epoch", "epoch": epoch, "reason": problem.problem, "lost": lost}
    if reading.invalid:
        detail["invalid_anchors"] = list(reading.invalid)
    if cause:
        detail["cause"] = cause
    if paths.audit_db.exists():
        chain = verify_log(paths.audit_db, keys=keys, anchor=None)
        if chain.status == "tampered" or chain.reason == "key_mismatch":
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
            moved = set_aside_own_file(paths.audit_db, f"tampered-{stamp}", roots=(paths.data_dir,))
            detail["set_aside"] = {
                "file": moved.name,
                "first_bad_seq": chain.first_bad_seq,
                "reason": chain.reason,
            }
    store = anchor_store_for(paths, keystore_for(paths))
    try:
        log = AuditLog.open(paths.audit_db, keys=keys, anchor_store=store, clock=clock or SystemClock())
    except PolicyError as exc:
        raise AcknowledgeError(f"the new epoch could not be written: {exc}") from exc
    try:
        row = log.append(AuditEntry("user", "", "", "audit_epoch", reason=problem.problem, detail=detail))
        full = verify_log(paths.audit_db, keys=keys, anchor=None)  # the whole chain, before it is anchored
        if full.reason != "unanchored":
            raise AcknowledgeError(f"the log still fails verification: {full.message}")
        digest = replay(log.grant_rows()).digest
        log.set_verified(
            epoch=epoch, verified_seq=row.seq, verified_hash=row.event_hash, grants_digest=digest
        )
        log.close(session_open=False)
    except PolicyError as exc:
        log.close_without_checkpoint()
        raise AcknowledgeError(f"the new epoch could not be written: {exc}") from exc
    what = f"epoch {epoch} begins at row {row.seq}"
    if lost:
        what += f"; the anchor had vouched for row {lost['through_seq']} of log {lost['log_id'][:8]}"
    return Acknowledged(True, epoch, f"Acknowledged ({problem.problem}): {what}.", detail)


__all__ = ["AcknowledgeError", "acknowledge"]
