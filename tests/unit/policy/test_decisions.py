"""Decisions as plain data: every variant keeps the fields a user needs to act on it."""

from __future__ import annotations

from aether_qt.policy.decisions import (
    ActionRequest,
    Allow,
    ApprovalTicket,
    Deny,
    DenyReason,
    DraftOnly,
    Duration,
    Grant,
    NeedsUpgrade,
    Permit,
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
        "taint": [],
        "reason": "policy_deny",
        "message": "no",
    }
    ticket = ApprovalTicket("tkt_1", ActionRequest("files.create", "/x"), "medium", 0)
    assert decision_as_dict(AskDecision(ticket, "aud_2"))["ticket_id"] == "tkt_1"
    assert decision_as_dict(DraftOnly("aud_3", "preset"))["source"] == "preset"
    upgrade = decision_as_dict(NeedsUpgrade("shell.exec", "Operator", "aud_4"))
    assert (upgrade["capability"], upgrade["suggested_preset"]) == ("shell.exec", "Operator")


def test_the_taint_of_the_request_is_part_of_the_decision() -> None:
    tainted = ActionRequest("files.create", "/x", provenance_tags=("file:/home/u/x.txt",))
    ticket = ApprovalTicket("tkt_1", tainted, "medium", 0)
    assert decision_as_dict(AskDecision(ticket, "aud_2"))["taint"] == ["file:/home/u/x.txt"]
    denied = Deny(DenyReason.PROVENANCE_TAINT, "aud_3", "file:/home/u/x.txt")
    assert decision_as_dict(denied, tainted)["taint"] == ["file:/home/u/x.txt"]
    assert decision_as_dict(denied)["taint"] == []


def test_an_allow_names_its_grant() -> None:
    grant = Grant("grt_1", "files.read", "*", "aether", Duration.SESSION, "preset", "aud_5", 0)
    permit = Permit("pmt_1", "files.read", "/x", "grt_1", "aud_5", once=False, token="t")
    data = decision_as_dict(Allow(grant, permit, "aud_5"), ActionRequest("files.read", "/x"))
    assert (data["grant_id"], data["duration"], data["taint"]) == ("grt_1", "session", [])
