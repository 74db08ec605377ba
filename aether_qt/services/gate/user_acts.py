"""The user's own acts: a command they typed or a button they clicked is the approval of an Ask.

The command line (``aether audit export``, ``aether speak --out``...) and the
memory panel still ask the gate, with the user as the actor, so the decision
is audited and the approved folders, the pause switch and hard blocks apply;
an ``Ask`` is answered "allow once" on the user's behalf and audited as an
answered ticket.
"""

from __future__ import annotations

from aether_qt.policy.decisions import ActionRequest, ApprovalChoice, Ask, Decision
from aether_qt.policy.gate import Gate

USER = "user"


def decide_as_user(gate: Gate, capability: str, resource: str, *, target: str = "") -> Decision:
    """Evaluate ``capability`` on ``resource`` (and ``target``) for the user; an Ask is answered allow-once.

    ``target`` is where the act lands besides its resource (a download's destination),
    bound into the permit (see :class:`~aether_qt.policy.decisions.ActionRequest`).
    """
    decision = gate.evaluate(ActionRequest(capability, resource, actor_persona=USER, target=target))
    if isinstance(decision, Ask):
        decision = gate.answer(decision.ticket.ticket_id, ApprovalChoice.ALLOW_ONCE)
    return decision
