"""The gate on the bus: every evaluation, answer and revocation becomes events.

The policy layer imports no Qt and knows nothing of the bus; this adapter,
built by the composition root, calls the gate and publishes the causal chain
under the request's ``change_id``: ``gate.will_decide`` -> ``gate.did_decide``
-> ``approvals.did_open_ticket`` or ``grants.did_issue`` -> ``audit.did_append``.
Events carry ids and names only, never file contents or secrets.
"""

from __future__ import annotations

from collections.abc import Callable

from aether_qt.core.bus import EventBus
from aether_qt.core.events import (
    ActionRequested,
    AuditAppended,
    DecisionMade,
    GrantIssued,
    GrantRevoked,
    Payload,
    TicketAnswered,
    TicketOpened,
)
from aether_qt.policy.approvals import TicketStore
from aether_qt.policy.decisions import ActionRequest, Allow, ApprovalChoice, Ask, Decision, Deny
from aether_qt.policy.gate import Gate

SOURCE = "L5"
AuditSeq = Callable[[str], int | None]


class GateOnBus:
    """Calls the gate and publishes what happened.

    Args:
        gate: the policy gate.
        tickets: the approval tickets (to find the request an answer belongs to).
        bus: where events go.
        audit_seq: maps an audit id to its row's seq (None when unknown).
    """

    def __init__(self, *, gate: Gate, tickets: TicketStore, bus: EventBus, audit_seq: AuditSeq) -> None:
        self._gate = gate
        self._tickets = tickets
        self._bus = bus
        self._audit_seq = audit_seq

    @property
    def gate(self) -> Gate:
        """The wrapped gate (for read-only state such as ``paused``)."""
        return self._gate

    def evaluate(self, request: ActionRequest) -> Decision:
        """Evaluate ``request`` and publish the chain of events it caused."""
        self._bus.publish(
            ActionRequested(
                request_id=request.request_id,
                capability=request.capability,
                resource=request.resource,
                actor_persona=request.actor_persona,
            ),
            source_layer=SOURCE,
            change_id=request.change_id,
            turn_id=request.turn_id,
        )
        decision = self._gate.evaluate(request)
        self._publish(request, decision)
        return decision

    def answer(self, ticket_id: str, choice: ApprovalChoice, scope: str | None = None) -> Decision:
        """Answer a ticket through the gate; publish the answer and its decision.

        Raises:
            TicketError: unknown or already answered ticket (nothing is published).
        """
        request = self._tickets.get(ticket_id).request
        decision = self._gate.answer(ticket_id, choice, scope)
        self._bus.publish(
            TicketAnswered(ticket_id=ticket_id, choice=choice.value, audit_id=decision.audit_id),
            source_layer=SOURCE,
            change_id=request.change_id,
            turn_id=request.turn_id,
        )
        self._publish(request, decision)
        return decision

    def revoke(self, grant_id: str) -> bool:
        """Revoke one grant; publish it when something changed."""
        changed = self._gate.revoke(grant_id)
        if changed:
            self._bus.publish(
                GrantRevoked(grant_id=grant_id, cause="revoked", audit_id=""), source_layer=SOURCE
            )
        return changed

    def revoke_all(self) -> list[str]:
        """Emergency revoke-all; one event per revoked grant under one change id."""
        revoked = self._gate.revoke_all()
        change_id: str | None = None
        for grant_id in revoked:
            env = self._bus.publish(
                GrantRevoked(grant_id=grant_id, cause="emergency", audit_id=""),
                source_layer=SOURCE,
                change_id=change_id,
            )
            change_id = env.change_id
        return revoked

    def _publish(self, request: ActionRequest, decision: Decision) -> None:
        reason = decision.reason.value if isinstance(decision, Deny) else ""

        def publish(payload: Payload) -> None:
            self._bus.publish(
                payload, source_layer=SOURCE, change_id=request.change_id, turn_id=request.turn_id
            )

        publish(
            DecisionMade(
                request_id=request.request_id,
                capability=request.capability,
                resource=request.resource,
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
                    resource=request.resource,
                    risk=decision.ticket.risk,
                    audit_id=decision.audit_id,
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
