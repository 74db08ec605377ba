"""The gate on the bus: every evaluation, answer and policy change becomes events.

The policy layer imports no Qt and knows nothing of the bus; this adapter,
built by the composition roots over the :class:`~aether_qt.policy.runtime.PolicyRuntime`,
calls the gate and publishes the causal chain under one ``change_id``:

* a request: ``gate.will_decide`` -> ``gate.did_decide`` ->
  ``approvals.did_open_ticket`` or ``grants.did_issue`` -> ``audit.did_append``
  (under the request's own change id);
* the user's controls: ``grants.did_revoke`` (revoke, revoke all),
  ``policy.did_change_preset`` / ``policy.did_change_roots`` followed by the
  revocations of their cascade, ``policy.did_change_pause``; then
  ``audit.did_append``. A fresh change id is written on the control's audit
  row too, so each event carries the real audit id of the row that records it.

It holds the runtime rather than the bare gate because the preset and the
approved folders are persisted by the runtime (its ``set_preset`` and
``set_roots`` audit through the gate). Events carry ids and names only, never
file contents or secrets: resources are published in the gate's redacted form
(query strings, user-info and key-like values as keyed hashes, the same as in
the audit row).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from aether_qt.core.bus import EventBus, new_change_id
from aether_qt.core.events import (
    ActionRequested,
    AuditAppended,
    DecisionMade,
    GrantIssued,
    GrantRevoked,
    PauseChanged,
    Payload,
    PresetChanged,
    RootsChanged,
    TicketAnswered,
    TicketOpened,
)
from aether_qt.policy.capabilities import Preset
from aether_qt.policy.contracts import AuditRow, AuditWriteError
from aether_qt.policy.decisions import ActionRequest, Allow, ApprovalChoice, Ask, Decision, Deny
from aether_qt.policy.gate import Gate
from aether_qt.policy.runtime import PolicyRuntime

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

SOURCE = "L5"


@dataclass(frozen=True, slots=True)
class _Change:
    """One control action: its change id and the audit rows written under it."""

    change_id: str
    rows: tuple[AuditRow, ...]

    @property
    def audit_id(self) -> str:
        """The row that records the action ('' when the audit could not write it)."""
        return self.rows[0].audit_id if self.rows else ""


class GateOnBus:
    """Calls the gate (and the runtime's audited settings) and publishes what happened.

    Satisfies the widgets' :class:`~aether_qt.widgets.ports.PolicyControls` port.

    Args:
        runtime: the policy layer (gate, tickets, audit, persisted preset and folders).
        bus: where events go.
    """

    def __init__(self, *, runtime: PolicyRuntime, bus: EventBus) -> None:
        self._runtime = runtime
        self._bus = bus

    @property
    def gate(self) -> Gate:
        """The wrapped gate (for read-only state such as ``paused``)."""
        return self._runtime.gate

    # ------------------------------------------------------------------ requests

    def evaluate(self, request: ActionRequest) -> Decision:
        """Evaluate ``request`` and publish the chain of events it caused."""
        self._bus.publish(
            ActionRequested(
                request_id=request.request_id,
                capability=request.capability,
                resource=self.gate.redact(request.capability, request.resource),
                actor_persona=request.actor_persona,
            ),
            source_layer=SOURCE,
            change_id=request.change_id,
            turn_id=request.turn_id,
        )
        decision = self.gate.evaluate(request)
        self._publish(request, decision)
        return decision

    def record_route(self, *, turn_id: str, resource: str, route: str, reason: str) -> str:
        """Write a turn's route and its reason to the audit (see :meth:`Gate.record_route`)."""
        return self.gate.record_route(turn_id=turn_id, resource=resource, route=route, reason=reason)

    def answer(self, ticket_id: str, choice: ApprovalChoice, scope: str | None = None) -> Decision:
        """Answer a ticket through the gate; publish the answer and its decision.

        Raises:
            TicketError: unknown or already answered ticket (nothing is published).
        """
        request = self._runtime.tickets.get(ticket_id).request
        decision = self.gate.answer(ticket_id, choice, scope)
        self._bus.publish(
            TicketAnswered(ticket_id=ticket_id, choice=choice.value, audit_id=decision.audit_id),
            source_layer=SOURCE,
            change_id=request.change_id,
            turn_id=request.turn_id,
        )
        self._publish(request, decision)
        return decision

    def request_of(self, ticket_id: str) -> ActionRequest:
        """The request an open ticket waits on.

        Raises:
            TicketError: unknown ticket.
        """
        return self._runtime.tickets.get(ticket_id).request

    def roots(self) -> tuple[Path, ...]:
        """The approved folders now."""
        return self._runtime.approved_roots()

    # ------------------------------------------------------------------ the user's controls

    def revoke(self, grant_id: str) -> bool:
        """Revoke one grant; publish ``grants.did_revoke`` when something changed."""
        changed, change = self._audited(lambda change_id: self.gate.revoke(grant_id, change_id=change_id))
        self._finish(change, _revocations([grant_id] if changed else [], "revoked", change))
        return changed

    def revoke_all(self) -> list[str]:
        """Emergency revoke-all; one ``grants.did_revoke`` per grant, all under one change id."""
        revoked, change = self._audited(lambda change_id: self.gate.revoke_all(change_id=change_id))
        self._finish(change, _revocations(revoked, "emergency", change))
        return revoked

    def set_preset(self, preset: Preset) -> list[str]:
        """Persist and apply ``preset``; publish the change, then the grants its cascade ended."""
        previous = self._runtime.preset()
        revoked, change = self._audited(
            lambda change_id: self._runtime.set_preset(preset, change_id=change_id)
        )
        changed = PresetChanged(preset=preset.value, previous=previous.value, audit_id=change.audit_id)
        self._finish(change, [changed, *_revocations(revoked, "preset_change", change)])
        return revoked

    def set_roots(self, roots: tuple[Path, ...]) -> list[str]:
        """Persist and apply the approved folders; publish the change, then the grants it ended."""
        revoked, change = self._audited(lambda change_id: self._runtime.set_roots(roots, change_id=change_id))
        changed = RootsChanged(roots=tuple(str(root) for root in roots), audit_id=change.audit_id)
        self._finish(change, [changed, *_revocations(revoked, "config_change", change)])
        return revoked

    def pause(self, paused: bool) -> None:
        """Pause (True) or resume every side effect; publish ``policy.did_change_pause``."""
        _, change = self._audited(lambda change_id: self.gate.pause(paused, change_id=change_id))
        self._finish(change, [PauseChanged(paused=paused, audit_id=change.audit_id)])

    # ------------------------------------------------------------------ helpers

    def _audited(self, act: Callable[[str], _T]) -> tuple[_T, _Change]:
        """Run ``act(change_id)`` with a fresh change id; find the audit rows it wrote under it.

        Only rows appended after the call began are read, and only those stamped
        with this change id count, so a decision audited meanwhile by another
        thread is never mistaken for this one.
        """
        change_id = new_change_id()
        audit = self._runtime.audit
        before = audit.head().seq if audit is not None else 0
        result = act(change_id)
        return result, _Change(change_id, tuple(self._rows_since(before, change_id)))

    def _rows_since(self, seq: int, change_id: str) -> list[AuditRow]:
        audit = self._runtime.audit
        if audit is None:
            return []
        try:
            rows = audit.rows(after_seq=seq)
        except (AuditWriteError, sqlite3.Error) as exc:  # closed or unreadable: the events go out without ids
            _log.warning("could not read the audit rows of change %s: %s", change_id, exc)
            return []
        return [row for row in rows if row.change_id == change_id]

    def _finish(self, change: _Change, payloads: Iterable[Payload]) -> None:
        """Publish ``payloads`` and then one ``audit.did_append`` per row, all under the change id."""
        for payload in payloads:
            self._bus.publish(payload, source_layer=SOURCE, change_id=change.change_id)
        for row in change.rows:
            self._bus.publish(
                AuditAppended(seq=row.seq, audit_id=row.audit_id),
                source_layer=SOURCE,
                change_id=change.change_id,
            )

    def _audit_seq(self, audit_id: str) -> int | None:
        audit = self._runtime.audit
        try:
            row = audit.get(audit_id) if audit is not None else None
        except (AuditWriteError, sqlite3.Error) as exc:  # the decision stands; its event has no seq
            _log.warning("could not read back audit row %s: %s", audit_id, exc)
            return None
        return row.seq if row is not None else None

    def _publish(self, request: ActionRequest, decision: Decision) -> None:
        reason = decision.reason.value if isinstance(decision, Deny) else ""
        resource = self.gate.redact(request.capability, request.resource)

        def publish(payload: Payload) -> None:
            self._bus.publish(
                payload, source_layer=SOURCE, change_id=request.change_id, turn_id=request.turn_id
            )

        publish(
            DecisionMade(
                request_id=request.request_id,
                capability=request.capability,
                resource=resource,
                decision=decision.kind,
                reason=reason,
                audit_id=decision.audit_id,
            )
        )
        if isinstance(decision, Ask):
            publish(
                TicketOpened(
                    ticket_id=decision.ticket.ticket_id,
                    request_id=request.request_id,
                    capability=request.capability,
                    resource=resource,
                    risk=decision.ticket.risk,
                    audit_id=decision.audit_id,
                    taint=request.provenance_tags,
                )
            )
        elif isinstance(decision, Allow) and decision.grant.audit_ref == decision.audit_id:
            grant = decision.grant
            publish(
                GrantIssued(
                    grant_id=grant.grant_id,
                    capability=grant.capability,
                    resource_pattern=grant.resource_pattern,
                    persona=grant.persona,
                    duration=grant.duration.value,
                    audit_id=decision.audit_id,
                )
            )
        seq = self._audit_seq(decision.audit_id) if decision.audit_id else None
        if seq is not None:
            publish(AuditAppended(seq=seq, audit_id=decision.audit_id))


def _revocations(grant_ids: Iterable[str], cause: str, change: _Change) -> list[Payload]:
    """One ``grants.did_revoke`` per grant, naming the audit row of the change that ended it."""
    return [GrantRevoked(grant_id=grant_id, cause=cause, audit_id=change.audit_id) for grant_id in grant_ids]
