"""Tests of approval tickets: storage, planning answers, answering through the gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gate_support import FlakySink, make_rig

from aether_qt.policy.approvals import (
    AnswerPlan,
    TicketError,
    TicketUnreadableError,
    plan_answer,
    request_from_json,
    request_to_json,
)
from aether_qt.policy.capabilities import ResourceKind
from aether_qt.policy.decisions import (
    ActionRequest,
    Allow,
    ApprovalChoice,
    Ask,
    Deny,
    DenyReason,
    DraftOnly,
    Duration,
    TicketState,
)
from aether_qt.policy.grants import LedgerError

C = ApprovalChoice
P, U, T = ResourceKind.PATH, ResourceKind.URL, ResourceKind.TEXT


def test_request_json_round_trip() -> None:
    req = ActionRequest("files.read", "/x", provenance_tags=("web",), task_id="t")
    assert request_from_json(request_to_json(req)) == req


def test_plan_answer_choices() -> None:
    assert plan_answer(C.DENY, None, "/r/a", P) == AnswerPlan("deny")
    assert plan_answer(C.DRAFT_ONLY, None, "/r/a", P) == AnswerPlan("draft")
    assert plan_answer(C.ALLOW_ONCE, "/ignored/**", "/r/a", P) == AnswerPlan("allow", Duration.ONCE, "/r/a")
    assert plan_answer(C.ALLOW_SESSION, None, "/r/a", P) == AnswerPlan("allow", Duration.SESSION, "/r/a")
    assert plan_answer(C.ALWAYS_SCOPE, None, "/r/d/a", P) == AnswerPlan(
        "allow", Duration.PERSISTENT, "/r/d/**"
    )
    assert plan_answer(C.ALWAYS_SCOPE, None, "https://a.com/x", U).pattern == "https://a.com:443"
    assert plan_answer(C.ALWAYS_SCOPE, None, "openai", T).pattern == "openai"
    assert plan_answer(C.ALWAYS_SCOPE, "/r/**", "/r/d/a", P).pattern == "/r/**"


def test_plan_answer_rejects_scopes_that_do_not_fit() -> None:
    with pytest.raises(TicketError, match="does not cover"):
        plan_answer(C.ALWAYS_SCOPE, "/other/**", "/r/d/a", P)
    with pytest.raises(TicketError, match="not a valid"):
        plan_answer(C.ALWAYS_SCOPE, "ftp://x", "https://a.com/x", U)


def _ask(tmp_path: Path, resource: str = "") -> tuple[object, Ask]:
    rig = make_rig(tmp_path)
    target = resource or str(rig.roots[0] / "docs" / "a.txt")
    decision = rig.gate.evaluate(ActionRequest("files.delete", target))
    assert isinstance(decision, Ask)
    return rig, decision


def test_ask_opens_a_durable_pending_ticket(tmp_path: Path) -> None:
    rig, ask = _ask(tmp_path)
    assert [t.ticket_id for t in rig.tickets.pending()] == [ask.ticket.ticket_id]
    assert ask.ticket.risk == "high" and ask.ticket.state is TicketState.PENDING
    rig.clock.advance(365 * 86400)  # never auto-denied, even after a year and a restart
    again = rig.reopen()
    assert [t.ticket_id for t in again.tickets.pending()] == [ask.ticket.ticket_id]


def test_answer_allow_once_then_reject_twice(tmp_path: Path) -> None:
    rig, ask = _ask(tmp_path)
    decision = rig.gate.answer(ask.ticket.ticket_id, C.ALLOW_ONCE)
    assert isinstance(decision, Allow) and decision.permit.once
    assert decision.grant.issued_by == f"approval:{ask.ticket.ticket_id}"
    answered = rig.tickets.get(ask.ticket.ticket_id)
    assert answered.state is TicketState.ANSWERED and answered.choice is C.ALLOW_ONCE
    assert rig.sink.rows[-1].detail["event"] == "ticket_answered"
    with pytest.raises(TicketError, match="already answered"):
        rig.gate.answer(ask.ticket.ticket_id, C.DENY)
    with pytest.raises(TicketError, match="already answered"):
        rig.tickets.mark_answered(ask.ticket.ticket_id, choice=C.DENY, scope=None, audit_ref="x")
    with pytest.raises(TicketError, match="no approval ticket"):
        rig.gate.answer("tkt_nope", C.DENY)
    assert rig.tickets.pending() == []


def test_answer_always_scope_covers_siblings(tmp_path: Path) -> None:
    rig, ask = _ask(tmp_path)
    decision = rig.gate.answer(ask.ticket.ticket_id, C.ALWAYS_SCOPE, ttl_s=60)
    assert isinstance(decision, Allow) and decision.grant.duration is Duration.PERSISTENT
    assert decision.grant.ttl_s == 60
    sibling = rig.gate.evaluate(ActionRequest("files.delete", str(rig.roots[0] / "docs" / "b.txt")))
    assert isinstance(sibling, Allow) and sibling.grant.grant_id == decision.grant.grant_id


def test_answer_allow_session_draft_and_deny(tmp_path: Path) -> None:
    rig, ask = _ask(tmp_path)
    session = rig.gate.answer(ask.ticket.ticket_id, C.ALLOW_SESSION)
    assert isinstance(session, Allow) and session.grant.duration is Duration.SESSION
    second = rig.gate.evaluate(ActionRequest("files.delete", str(rig.roots[0] / "docs" / "x")))
    assert isinstance(second, Ask)
    draft = rig.gate.answer(second.ticket.ticket_id, C.DRAFT_ONLY)
    assert isinstance(draft, DraftOnly) and draft.source == "user"
    third = rig.gate.evaluate(ActionRequest("files.delete", str(rig.roots[0] / "docs" / "y")))
    assert isinstance(third, Ask)
    denied = rig.gate.answer(third.ticket.ticket_id, C.DENY)
    assert isinstance(denied, Deny) and denied.reason is DenyReason.USER_DENIED
    assert rig.tickets.pending() == []


def test_answer_rechecks_and_keeps_ticket_pending(tmp_path: Path) -> None:
    rig, ask = _ask(tmp_path)
    rig.gate.pause(True)
    decision = rig.gate.answer(ask.ticket.ticket_id, C.ALLOW_ONCE)
    assert isinstance(decision, Deny) and decision.reason is DenyReason.PAUSED
    assert rig.tickets.get(ask.ticket.ticket_id).state is TicketState.PENDING
    rig.gate.pause(False)
    assert isinstance(rig.gate.answer(ask.ticket.ticket_id, C.ALLOW_ONCE), Allow)


def test_answer_with_audit_failure_keeps_ticket_pending(tmp_path: Path) -> None:
    sink = FlakySink()
    rig = make_rig(tmp_path, sink=sink)
    ask = rig.gate.evaluate(ActionRequest("files.delete", str(rig.roots[0] / "a")))
    assert isinstance(ask, Ask)
    sink.fail_next = 2
    decision = rig.gate.answer(ask.ticket.ticket_id, C.DENY)
    assert isinstance(decision, Deny) and decision.reason is DenyReason.AUDIT_UNAVAILABLE
    assert decision.audit_id == ""
    assert rig.tickets.get(ask.ticket.ticket_id).state is TicketState.PENDING


def test_ticket_store_failures(tmp_path: Path) -> None:
    rig, _ = _ask(tmp_path)
    rig.db.execute_sql("DROP TABLE approval_tickets")
    with pytest.raises(LedgerError):
        rig.tickets.pending()
    assert not rig.tickets.intact
    denied = rig.gate.evaluate(ActionRequest("files.delete", str(rig.roots[0] / "z")))
    assert isinstance(denied, Deny) and denied.reason is DenyReason.LEDGER_CORRUPT


def _answers_not_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Ask]:
    """An Ask whose store then fails to record any answer."""
    rig, ask = _ask(tmp_path)

    def broken(*args: object, **kwargs: object) -> None:
        raise LedgerError("disk gone")

    monkeypatch.setattr(rig.tickets, "mark_answered", broken)
    return rig, ask


def test_answer_store_failure_is_logged_not_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    rig, ask = _answers_not_stored(tmp_path, monkeypatch)
    decision = rig.gate.answer(ask.ticket.ticket_id, C.DENY)
    assert isinstance(decision, Deny) and decision.reason is DenyReason.USER_DENIED
    assert "could not be stored" in caplog.text


def test_tickets_answered_in_the_audit_log_are_closed(tmp_path: Path) -> None:
    rig, ask = _ask(tmp_path)
    second = rig.gate.evaluate(ActionRequest("files.delete", str(rig.roots[0] / "b.txt")))
    third = rig.gate.evaluate(ActionRequest("files.delete", str(rig.roots[0] / "c.txt")))
    assert isinstance(second, Ask) and isinstance(third, Ask)
    # the ticket table refuses updates: the state a crash between the grant and the ticket leaves
    rig.db.execute_sql(
        "CREATE TRIGGER stuck BEFORE UPDATE ON approval_tickets BEGIN SELECT RAISE(ABORT, 'stuck'); END"
    )
    assert isinstance(rig.gate.answer(ask.ticket.ticket_id, C.ALWAYS_SCOPE), Deny)  # audited, not stored
    rig = rig.reopen()  # a failed ticket write leaves the store not intact until the next start
    assert isinstance(rig.gate.answer(second.ticket.ticket_id, C.DENY), Deny)
    rig.db.execute_sql("DROP TRIGGER stuck")
    rig = rig.reopen()
    assert len(rig.tickets.pending()) == 3  # audited (and granted), yet still asking

    closed = rig.tickets.close_answered(rig.sink.rows)

    assert closed == [ask.ticket.ticket_id, second.ticket.ticket_id]
    healed = rig.tickets.get(ask.ticket.ticket_id)
    assert healed.state is TicketState.ANSWERED and healed.choice is C.ALWAYS_SCOPE
    assert rig.tickets.get(second.ticket.ticket_id).choice is C.DENY
    assert [t.ticket_id for t in rig.tickets.pending()] == [third.ticket.ticket_id]  # never answered
    assert rig.tickets.close_answered(rig.sink.rows) == []  # once only


def test_an_allow_whose_answer_is_not_stored_takes_no_effect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig, ask = _answers_not_stored(tmp_path, monkeypatch)
    decision = rig.gate.answer(ask.ticket.ticket_id, C.ALLOW_ONCE)
    assert isinstance(decision, Deny) and decision.reason is DenyReason.LEDGER_CORRUPT
    allow, refused = rig.sink.rows[-2:]  # the allow was audited; so is why it takes no effect
    assert allow.decision == "allow" and refused.detail["event"] == "ticket_answer_not_stored"
    assert refused.decision == "deny" and refused.detail["ticket_id"] == ask.ticket.ticket_id
    assert [t.ticket_id for t in rig.tickets.pending()] == [ask.ticket.ticket_id]  # the card stays open


def test_an_unreadable_ticket_is_a_ticket_error_and_a_ledger_error(tmp_path: Path) -> None:
    rig, ask = _ask(tmp_path)
    rig.db.execute_sql("ALTER TABLE approval_tickets RENAME TO gone")
    with pytest.raises(TicketUnreadableError, match="cannot be read or written now") as caught:
        rig.gate.answer(ask.ticket.ticket_id, C.ALLOW_ONCE)
    assert isinstance(caught.value, TicketError) and isinstance(caught.value, LedgerError)
    assert not rig.tickets.intact
