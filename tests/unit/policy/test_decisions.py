"""Decisions as plain data: every variant keeps the fields a user needs to act on it."""

from __future__ import annotations

import pytest

from aether_qt.policy.decisions import (
    RESERVED_ACTORS,
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

    grant = Grant("grt_1", "files.read", "/x", "user", Duration.SESSION, "preset", "aud_5", 0)
    permit = Permit("pmt_1", "files.read", "/x", "", "user", "grt_1", "aud_5", once=False, token="t")
    allow = decision_as_dict(Allow(grant, permit, "aud_5"))
    assert (allow["grant_id"], allow["duration"]) == ("grt_1", "session")
    assert "t" not in allow.values() and "token" not in allow


def test_a_permit_never_shows_its_token() -> None:
    permit = Permit("pmt_1", "files.read", "/x", "/t", "pip", "grt_1", "aud_1", once=True, token="s3cret")
    assert "s3cret" not in repr(permit) and "pip" in repr(permit) and "/t" in repr(permit)


@pytest.mark.parametrize("actor", ["", "user", "system", "assistant", "default", "gate"])
def test_actor_ids_that_no_persona_may_take(actor: str) -> None:
    assert actor in RESERVED_ACTORS


def test_the_taint_of_the_request_is_part_of_the_decision() -> None:
    tainted = ActionRequest("files.create", "/x", provenance_tags=("file:/home/u/x.txt",))
    ticket = ApprovalTicket("tkt_1", tainted, "medium", 0)
    assert decision_as_dict(AskDecision(ticket, "aud_2"))["taint"] == ["file:/home/u/x.txt"]
    denied = Deny(DenyReason.PROVENANCE_TAINT, "aud_3", "file:/home/u/x.txt")
    assert decision_as_dict(denied, tainted)["taint"] == ["file:/home/u/x.txt"]
    assert decision_as_dict(denied)["taint"] == []


def test_an_allow_names_its_grant() -> None:
    grant = Grant("grt_1", "files.read", "*", "aether", Duration.SESSION, "preset", "aud_5", 0)
    permit = Permit("pmt_1", "files.read", "/x", "", "aether", "grt_1", "aud_5", once=False, token="t")
    data = decision_as_dict(Allow(grant, permit, "aud_5"), ActionRequest("files.read", "/x"))
    assert (data["grant_id"], data["duration"], data["taint"]) == ("grt_1", "session", [])
