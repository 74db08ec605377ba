"""The gate's decisions on the bus: one change id from request to audit row."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring_support import key_file_runtime

from aether_qt.core.bus import EventBus
from aether_qt.core.events import (
    AuditAppended,
    Envelope,
    GrantRevoked,
    PauseChanged,
    PresetChanged,
    RootsChanged,
    envelope_to_json,
)
from aether_qt.policy.approvals import TicketError
from aether_qt.policy.capabilities import Preset
from aether_qt.policy.contracts import AuditRow
from aether_qt.policy.decisions import ActionRequest, Allow, ApprovalChoice, Ask, DenyReason
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.gate.gate_on_bus import GateOnBus

Rig = tuple[GateOnBus, list[Envelope], PolicyRuntime, Path]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with key_file_runtime(tmp_path / "home") as rt:
        root = tmp_path / "docs"
        root.mkdir()
        rt.set_roots((root,))
        bus = EventBus()
        seen: list[Envelope] = []
        bus.subscribe("*", seen.append)
        yield GateOnBus(runtime=rt, bus=bus), seen, rt, root


def always_grants(gob: GateOnBus, rt: PolicyRuntime, root: Path, *names: str) -> list[str]:
    """Persistent grants for folders under ``root`` (answered through the adapter), by folder."""
    for name in names:
        ask = gob.evaluate(ActionRequest("files.create", str(root / name / "f.txt")))
        assert isinstance(ask, Ask)
        gob.answer(ask.ticket.ticket_id, ApprovalChoice.ALWAYS_SCOPE)
    return [g.grant_id for g in rt.ledger.active() if g.duration.value == "persistent"]


def row(rt: PolicyRuntime, audit_id: str) -> AuditRow:
    assert rt.audit is not None
    found = rt.audit.get(audit_id)
    assert found is not None, audit_id
    return found


def test_allow_chain_shares_the_request_change_id(
    rig: Rig,
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
    rig: Rig,
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


def test_revocations_are_published(rig: Rig) -> None:
    gob, seen, rt, root = rig
    first, second = always_grants(gob, rt, root, "x", "y")
    seen.clear()
    assert gob.revoke(first) is True
    assert gob.revoke(first) is False
    assert [e.kind for e in seen] == ["grants.did_revoke", "audit.did_append"]
    seen.clear()
    assert second in gob.revoke_all()
    revoked = [e for e in seen if e.kind == "grants.did_revoke"]
    assert revoked and len({e.change_id for e in revoked}) == 1
    assert gob.gate is rt.gate


def test_a_revocation_names_its_audit_row_and_shares_its_change_id(rig: Rig) -> None:
    gob, seen, rt, root = rig
    (grant_id,) = always_grants(gob, rt, root, "x")
    seen.clear()
    assert gob.revoke(grant_id)
    revoked, appended = (e.payload for e in seen)
    assert revoked == GrantRevoked(grant_id=grant_id, cause="revoked", audit_id=revoked.audit_id)
    audited = row(rt, revoked.audit_id)
    assert (audited.decision, audited.detail["grant_ids"]) == ("grant_revoked", [grant_id])
    assert audited.change_id == seen[0].change_id == seen[1].change_id
    assert appended == AuditAppended(seq=audited.seq, audit_id=audited.audit_id)


def test_revoke_all_is_one_change_with_the_cascade_row(rig: Rig) -> None:
    gob, seen, rt, root = rig
    grants = always_grants(gob, rt, root, "x", "y")
    seen.clear()
    assert sorted(gob.revoke_all()) == sorted(grants)
    assert [e.kind for e in seen] == ["grants.did_revoke"] * 2 + ["audit.did_append"]
    payloads = [e.payload for e in seen[:2] if isinstance(e.payload, GrantRevoked)]
    assert sorted(p.grant_id for p in payloads) == sorted(grants)
    assert {p.cause for p in payloads} == {"emergency"}
    (audit_id,) = {p.audit_id for p in payloads}
    cascade = row(rt, audit_id)
    assert (cascade.decision, cascade.reason) == ("cascade", "emergency")
    assert {e.change_id for e in seen} == {cascade.change_id}
    seen.clear()
    assert gob.revoke_all() == []  # nothing left: still audited (permits voided), no revocation event
    assert [e.kind for e in seen] == ["audit.did_append"]


def test_a_preset_change_publishes_itself_then_its_revocations(rig: Rig) -> None:
    gob, seen, rt, _ = rig
    session = gob.evaluate(ActionRequest("notify.send", "hello"))  # a session grant the cascade ends
    assert isinstance(session, Allow)
    seen.clear()
    revoked = gob.set_preset(Preset.OBSERVER)
    assert revoked == [session.grant.grant_id]
    assert rt.preset() is Preset.OBSERVER  # persisted by the runtime
    assert [e.kind for e in seen] == ["policy.did_change_preset", "grants.did_revoke", "audit.did_append"]
    changed = seen[0].payload
    assert isinstance(changed, PresetChanged)
    assert (changed.preset, changed.previous) == ("Observer", "Assistant")
    cascade = row(rt, changed.audit_id)
    assert (cascade.reason, cascade.detail["to"]) == ("preset_change", "Observer")
    assert seen[1].payload == GrantRevoked(
        grant_id=session.grant.grant_id,
        cause="preset_change",
        audit_id=cascade.audit_id,
    )
    assert {e.change_id for e in seen} == {cascade.change_id}


def test_a_roots_change_publishes_the_folders(rig: Rig, tmp_path: Path) -> None:
    gob, seen, rt, _ = rig
    other = tmp_path / "other"
    gob.set_roots((other,))
    assert rt.approved_roots() == (other,)
    assert [e.kind for e in seen] == ["policy.did_change_roots", "audit.did_append"]
    changed = seen[0].payload
    assert isinstance(changed, RootsChanged)
    assert changed.roots == (str(other),)
    assert row(rt, changed.audit_id).reason == "config_change"
    assert row(rt, changed.audit_id).change_id == seen[0].change_id == seen[1].change_id


def test_pause_and_resume_are_published_and_audited(rig: Rig) -> None:
    gob, seen, rt, _ = rig
    gob.pause(True)
    assert rt.gate.paused
    assert [e.kind for e in seen] == ["policy.did_change_pause", "audit.did_append"]
    paused = seen[0].payload
    assert isinstance(paused, PauseChanged) and paused.paused
    assert row(rt, paused.audit_id).detail == {"v": 1, "event": "pause", "paused": True}
    assert row(rt, paused.audit_id).change_id == seen[0].change_id
    decision = gob.evaluate(ActionRequest("notify.send", "x"))
    assert getattr(decision, "reason", None) is DenyReason.PAUSED
    seen.clear()
    gob.pause(False)
    resumed = seen[0].payload
    assert isinstance(resumed, PauseChanged) and not resumed.paused
    assert not rt.gate.paused


def test_control_events_carry_ids_and_names_only(rig: Rig, tmp_path: Path) -> None:
    gob, seen, rt, root = rig
    (root / "secret.txt").write_text("the words inside the file")
    always_grants(gob, rt, root, "x")
    gob.set_roots((root,))
    gob.set_preset(Preset.OPERATOR)
    gob.revoke_all()
    gob.pause(True)
    log = "\n".join(envelope_to_json(e) for e in seen)
    assert "the words inside the file" not in log
    assert rt.keys is not None and rt.keys.hmac_key.hex() not in log


def test_a_closed_audit_log_still_publishes_without_audit_ids(rig: Rig) -> None:
    gob, seen, rt, _ = rig
    assert rt.audit is not None
    rt.audit.close()  # rows can no longer be read (nor written: the gate turns degraded)
    gob.pause(True)
    assert [e.kind for e in seen] == ["policy.did_change_pause"]
    assert seen[0].payload == PauseChanged(paused=True, audit_id="")
    rt.audit = None  # as when the runtime opened without an audit log
    seen.clear()
    gob.pause(False)
    assert seen[0].payload == PauseChanged(paused=False, audit_id="")


def test_events_carry_the_resource_as_the_audit_row_stores_it(rig: Rig) -> None:
    gob, seen, rt, _ = rig
    url = "https://api.example.com/v1?api_token=S3CRET#frag"
    ask = gob.evaluate(ActionRequest("net.fetch", url))
    assert isinstance(ask, Ask)
    allow = gob.answer(ask.ticket.ticket_id, ApprovalChoice.ALWAYS_SCOPE, url)
    assert isinstance(allow, Allow)
    stored = row(rt, ask.audit_id).resource
    assert "S3CRET" not in stored and "frag" not in stored
    published = [getattr(e.payload, "resource", None) for e in seen]
    published += [getattr(e.payload, "resource_pattern", None) for e in seen]
    assert stored in published and "S3CRET" not in repr([e.payload for e in seen])
    assert {r for r in published if r} == {stored}  # one value, one keyed hash, everywhere
