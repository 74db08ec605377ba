"""The gate's decisions on the bus: one change id from request to audit row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest

from aether_qt.core.bus import EventBus
from aether_qt.core.events import Envelope
from aether_qt.core.paths import resolve_paths
from aether_qt.policy.approvals import TicketError
from aether_qt.policy.decisions import ActionRequest, ApprovalChoice, Ask
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.gate.gate_on_bus import GateOnBus


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[GateOnBus, list[Envelope], PolicyRuntime, Path]]:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    rt = PolicyRuntime.open(resolve_paths(tmp_path / "home"), allow_key_file=True)
    root = tmp_path / "docs"
    root.mkdir()
    rt.set_roots((root,))
    bus = EventBus()
    seen: list[Envelope] = []
    bus.subscribe("*", seen.append)

    def seq_of(audit_id: str) -> int | None:
        row = rt.audit.get(audit_id) if rt.audit else None
        return row.seq if row else None

    try:
        yield GateOnBus(gate=rt.gate, tickets=rt.tickets, bus=bus, audit_seq=seq_of), seen, rt, root
    finally:
        rt.close()
        keyring.set_keyring(previous)


def test_allow_chain_shares_the_request_change_id(
    rig: tuple[GateOnBus, list[Envelope], PolicyRuntime, Path],
) -> None:
    gob, seen, rt, root = rig
    request = ActionRequest("files.read", str(root / "a.txt"), turn_id="turn_1")
    decision = gob.evaluate(request)
    kinds = [e.kind for e in seen]
    assert kinds == ["gate.will_decide", "gate.did_decide", "grants.did_issue", "audit.did_append"]
    assert {e.change_id for e in seen} == {request.change_id}
    assert {e.turn_id for e in seen} == {"turn_1"}
    assert seen[-1].payload.audit_id == decision.audit_id  # type: ignore[attr-defined]
    assert rt.audit is not None and rt.audit.get(decision.audit_id) is not None
    assert [e.seq for e in seen] == sorted(e.seq for e in seen)


def test_ask_then_answer_publishes_ticket_events(
    rig: tuple[GateOnBus, list[Envelope], PolicyRuntime, Path],
) -> None:
    gob, seen, _, root = rig
    request = ActionRequest("files.create", str(root / "b.txt"))
    ask = gob.evaluate(request)
    assert isinstance(ask, Ask)
    assert "approvals.did_open_ticket" in [e.kind for e in seen]
    seen.clear()
    gob.answer(ask.ticket.ticket_id, ApprovalChoice.ALLOW_ONCE)
    assert [e.kind for e in seen][:2] == ["approvals.did_answer_ticket", "gate.did_decide"]
    assert {e.change_id for e in seen} == {request.change_id}
    with pytest.raises(TicketError):
        gob.answer(ask.ticket.ticket_id, ApprovalChoice.DENY)


def test_revocations_are_published(rig: tuple[GateOnBus, list[Envelope], PolicyRuntime, Path]) -> None:
    gob, seen, rt, root = rig
    for name in ("x", "y"):
        ask = gob.evaluate(ActionRequest("files.create", str(root / name / "f.txt")))
        assert isinstance(ask, Ask)
        gob.answer(ask.ticket.ticket_id, ApprovalChoice.ALWAYS_SCOPE)
    first, second = (g.grant_id for g in rt.ledger.active() if g.duration.value == "persistent")
    seen.clear()
    assert gob.revoke(first) is True
    assert gob.revoke(first) is False
    assert [e.kind for e in seen] == ["grants.did_revoke"]
    seen.clear()
    assert second in gob.revoke_all()
    revoked = [e for e in seen if e.kind == "grants.did_revoke"]
    assert revoked and len({e.change_id for e in revoked}) == 1
    assert gob.gate is rt.gate
