"""The user's own acts on the wizard's pages, through the gate, and refusals in plain words.

Pressing "Test microphone", "Download" or "Test connection" is the user's
approval of that one act: an ``Ask`` is answered "allow once" on their behalf
(audited like any answer), exactly as for a command they typed
(:mod:`aether_qt.services.gate.user_acts`). Nothing is granted for later.
"""

from __future__ import annotations

from typing import Protocol

from aether_qt.policy.decisions import ActionRequest, Allow, ApprovalChoice, Ask, Decision, Deny, DenyReason

USER = "user"


class GateLike(Protocol):
    """The gate, or the gate publishing on the bus (``GateOnBus``)."""

    def evaluate(self, request: ActionRequest) -> Decision:
        """Decide ``request`` (audited)."""
        ...

    def answer(self, ticket_id: str, choice: ApprovalChoice, scope: str | None = None) -> Decision:
        """Answer an approval ticket (audited)."""
        ...


_WORDS = {
    DenyReason.PAUSED: "Aether is paused. Resume it in the trust centre, then try again.",
    DenyReason.AUDIT_UNAVAILABLE: "Aether's safety record is not available yet, so it cannot do this now.",
    DenyReason.KEYS_UNAVAILABLE: "Aether has no keys yet (see the keys step), so it cannot do this now.",
    DenyReason.LEDGER_CORRUPT: "Aether's permission records are damaged, so it cannot do this now.",
}


def refusal_words(decision: Decision, what: str) -> str:
    """Why ``decision`` did not allow ``what`` ("the microphone test"), as a sentence for the user."""
    if isinstance(decision, Deny) and decision.reason in _WORDS:
        return _WORDS[decision.reason]
    return f"Your permission settings do not allow {what}."


def allow_once(
    gate: GateLike, capability: str, resource: str, *, target: str = "", route: str = ""
) -> Decision:
    """Evaluate ``capability`` on ``resource`` as the user; an Ask is answered allow-once (see the module)."""
    request = ActionRequest(
        capability, resource, actor_persona=USER, target=target, intended_route=route or "local"
    )
    decision = gate.evaluate(request)
    if isinstance(decision, Ask):
        decision = gate.answer(decision.ticket.ticket_id, ApprovalChoice.ALLOW_ONCE)
    return decision


__all__ = ["USER", "Allow", "GateLike", "allow_once", "refusal_words"]
