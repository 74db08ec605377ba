"""Decisions as plain data: every variant keeps the fields a user needs to act on it."""

from __future__ import annotations

from aether_qt.policy.decisions import (
    ActionRequest,
    ApprovalTicket,
    Deny,
    DenyReason,
    DraftOnly,
    NeedsUpgrade,
    StageResult,
    decision_as_dict,
)
from aether_qt.policy.decisions import Ask as AskDecision

TRACE = (StageResult("pre.audit", "pass"), StageResult("4.mode", "deny", "policy"))


def test_every_variant_keeps_its_fields() -> None:
    deny = decision_as_dict(Deny(DenyReason.POLICY_DENY, "aud_1", "no", TRACE))
    assert deny == {
        "decision": "deny",
        "audit_id": "aud_1",
        "trace": [
            {"stage": "pre.audit", "outcome": "pass", "detail": ""},
            {"stage": "4.mode", "outcome": "deny", "detail": "policy"},
        ],
        "reason": "policy_deny",
        "message": "no",
    }
    ticket = ApprovalTicket("tkt_1", ActionRequest("files.create", "/x"), "medium", 0)
    assert decision_as_dict(AskDecision(ticket, "aud_2"))["ticket_id"] == "tkt_1"
    assert decision_as_dict(DraftOnly("aud_3", "preset"))["source"] == "preset"
    upgrade = decision_as_dict(NeedsUpgrade("shell.exec", "Operator", "aud_4"))
    assert (upgrade["capability"], upgrade["suggested_preset"]) == ("shell.exec", "Operator")
