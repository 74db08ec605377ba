"""Pure grant-ledger state: records, the look-up index, the digest, audit replay.

:class:`LedgerState` is what :class:`~aether_qt.policy.grants.GrantLedger`
keeps in memory; :func:`replay` builds the same state from audit rows, which
is how the ledger is rebuilt and verified. No storage here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from aether_qt.policy.contracts import AuditRow
from aether_qt.policy.decisions import Duration, Grant


@dataclass(frozen=True, slots=True)
class GrantRecord:
    """A grant as the durable record knows it (no process-local monotonic time).

    Attributes:
        grant: the grant; ``revoked_at_ms`` is set once it has ended.
        end_cause: why it ended (``revoked``, ``spent``, ``persona_swap``, ...).
    """

    grant: Grant
    end_cause: str | None = None


def grant_facts(grant: Grant) -> dict[str, Any]:
    """The JSON facts of a grant written into an audit row's ``detail``."""
    return {
        "grant_id": grant.grant_id,
        "capability": grant.capability,
        "resource_pattern": grant.resource_pattern,
        "persona": grant.persona,
        "duration": grant.duration.value,
        "issued_by": grant.issued_by,
        "issued_wall_ms": grant.issued_wall_ms,
        "ttl_s": grant.ttl_s,
        "expires_wall_ms": grant.expires_wall_ms,
        "task_id": grant.task_id,
    }


def grant_from_facts(facts: dict[str, Any], *, audit_ref: str) -> Grant:
    """Rebuild a grant from :func:`grant_facts` output and its audit row id."""
    return Grant(
        grant_id=str(facts["grant_id"]),
        capability=str(facts["capability"]),
        resource_pattern=str(facts["resource_pattern"]),
        persona=str(facts["persona"]),
        duration=Duration(facts["duration"]),
        issued_by=str(facts["issued_by"]),
        audit_ref=audit_ref,
        issued_wall_ms=int(facts["issued_wall_ms"]),
        ttl_s=float_or_none(facts.get("ttl_s")),
        expires_wall_ms=facts.get("expires_wall_ms"),
        task_id=facts.get("task_id"),
    )


def _record_hash(record: GrantRecord) -> int:
    facts = grant_facts(record.grant)
    facts.update(audit_ref=record.grant.audit_ref, revoked_at_ms=record.grant.revoked_at_ms)
    facts["end_cause"] = record.end_cause
    blob = json.dumps(facts, sort_keys=True, separators=(",", ":")).encode()
    return int.from_bytes(hashlib.sha256(blob).digest(), "big")


class LedgerState:
    """The pure, in-memory part of the ledger: records, index and digest."""

    def __init__(self) -> None:
        """Start empty."""
        self.records: dict[str, GrantRecord] = {}
        self.active: dict[str, Grant] = {}
        self._buckets: dict[tuple[str, str], dict[str, dict[str, Grant]]] = {}
        self._digest = 0

    @property
    def digest(self) -> str:
        """Order-independent digest of every record (equal states, equal digests)."""
        return f"{self._digest:064x}"

    def add(self, grant: Grant, end_cause: str | None = None) -> None:
        """Insert a grant (ended when ``end_cause`` is set); replaces a same-id record."""
        self._drop(grant.grant_id)
        record = GrantRecord(replace(grant, expires_mono_ns=None), end_cause)
        self.records[grant.grant_id] = record
        self._digest ^= _record_hash(record)
        if end_cause is None:
            self.active[grant.grant_id] = grant
            bucket = self._buckets.setdefault((grant.capability, grant.persona), {})
            bucket.setdefault(grant.resource_pattern, {})[grant.grant_id] = grant

    def _drop(self, grant_id: str) -> None:
        record = self.records.pop(grant_id, None)
        if record is None:
            return
        self._digest ^= _record_hash(record)
        grant = self.active.pop(grant_id, None)
        if grant is not None:
            self._buckets[(grant.capability, grant.persona)][grant.resource_pattern].pop(grant_id)

    def end(self, grant_id: str, at_ms: int, cause: str) -> bool:
        """End an active grant; False (and no change) if unknown or already ended."""
        grant = self.active.get(grant_id)
        if grant is None:
            return False
        self.add(replace(grant, revoked_at_ms=at_ms), end_cause=cause)
        return True

    def candidates(self, capability: str, persona: str, patterns: Iterable[str]) -> Iterator[Grant]:
        """Active grants of ``(capability, persona)`` whose pattern is one of ``patterns``."""
        bucket = self._buckets.get((capability, persona), {})
        for pattern in patterns:
            yield from bucket.get(pattern, {}).values()


def replay(rows: Iterable[AuditRow]) -> LedgerState:
    """Rebuild ledger state from audit rows (``grant_issued`` facts, revocations, spends).

    Rows the gate did not write (no ``detail["event"]``) are ignored.
    """
    state = LedgerState()
    for row in rows:
        apply_row(state, row)
    return state


def apply_row(state: LedgerState, row: AuditRow) -> None:
    """Apply one audit row's grant facts to ``state`` (rows without grant facts change nothing).

    Raises:
        KeyError, TypeError, ValueError: the row says it carries grant facts but they are malformed.
    """
    detail = row.detail
    issued = detail.get("grant_issued")
    if isinstance(issued, dict):
        state.add(grant_from_facts(issued, audit_ref=row.audit_id))
    event = detail.get("event")
    if event in ("grant_revoked", "cascade"):
        for grant_id in detail["grant_ids"]:
            state.end(grant_id, int(detail["revoked_at_ms"]), str(detail["cause"]))
    elif event == "grant_spent":
        state.end(str(detail["grant_id"]), int(detail["spent_at_ms"]), "spent")


def float_or_none(value: Any) -> float | None:
    """``float(value)``, keeping None (TTLs read back from SQLite or JSON)."""
    return None if value is None else float(value)
