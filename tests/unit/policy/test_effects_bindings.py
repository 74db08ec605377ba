"""Permits bind what they authorise: working folder, download destination, persona, and a capture's grant.

Each test is an attack: a permit the gate minted for one act is used for a
neighbouring act it did not decide on. The effector must refuse and do nothing.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import test_effects
from gate_support import Rig, make_rig
from test_effects import BLOB_SHA, Served

from aether_qt.policy.capabilities import Preset
from aether_qt.policy.contracts import PermitError
from aether_qt.policy.decisions import ActionRequest, Allow, ApprovalChoice, Ask, Deny, DenyReason, Permit
from aether_qt.policy.effects import Effectors
from aether_qt.policy.guard import Guard
from aether_qt.policy.leases import CaptureLease

server = test_effects.server  # the local HTTP server fixture


def _allow(rig: Rig, request: ActionRequest) -> Permit:
    decision = rig.gate.evaluate(request)
    if isinstance(decision, Ask):
        decision = rig.gate.answer(decision.ticket.ticket_id, ApprovalChoice.ALLOW_ONCE)
    assert isinstance(decision, Allow), decision
    return decision.permit


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return make_rig(tmp_path.resolve(), preset=Preset.POWER_USER)


@pytest.fixture
def fx(rig: Rig, tmp_path: Path) -> Effectors:
    return Effectors(
        verifier=rig.gate,
        approved_roots=rig.roots,
        guard=Guard([tmp_path / "data"]),
        download_roots=(tmp_path.resolve() / "models",),
    )


def test_a_process_permit_does_not_let_the_caller_choose_the_working_folder(rig: Rig, fx: Effectors) -> None:
    elsewhere = rig.roots[0] / "elsewhere"
    elsewhere.mkdir()
    argv = ["touch", "marker"]
    permit = _allow(rig, ActionRequest("shell.exec", shlex.join(argv)))  # decided without a folder
    with pytest.raises(PermitError):
        fx.run_process(permit, argv, cwd=elsewhere)
    assert not (elsewhere / "marker").exists()


def test_a_download_permit_does_not_let_the_caller_choose_the_destination(
    rig: Rig,
    fx: Effectors,
    server: Served,
    tmp_path: Path,
) -> None:
    url = server.base + "/blob"
    models = tmp_path.resolve() / "models"
    models.mkdir()
    permit = _allow(rig, ActionRequest("model.download", url))  # decided on the URL alone
    victim = rig.roots[0] / "notes.txt"
    with pytest.raises(PermitError):
        fx.download(permit, url, victim, sha256=BLOB_SHA)
    assert not victim.exists() and not victim.with_name("notes.txt.part").exists()
    assert server.requests == []


def test_a_process_runs_only_in_the_working_folder_its_request_named(rig: Rig, fx: Effectors) -> None:
    root = rig.roots[0]
    here, elsewhere = root / "here", root / "elsewhere"
    here.mkdir()
    elsewhere.mkdir()
    argv = ["touch", "marker"]
    permit = _allow(rig, ActionRequest("shell.exec", shlex.join(argv), target=str(here)))
    assert rig.sink.rows[-1].detail["target"] == str(here)  # the folder is part of what was decided
    assert fx.run_process(permit, argv, cwd=here / ".").returncode == 0
    assert (here / "marker").exists()
    for cwd in (elsewhere, None):
        permit = _allow(rig, ActionRequest("shell.exec", shlex.join(argv), target=str(here)))
        with pytest.raises(PermitError, match="destination or working folder"):
            fx.run_process(permit, argv, cwd=cwd)
    assert not (elsewhere / "marker").exists()


def test_a_download_lands_only_where_its_request_said(
    rig: Rig, fx: Effectors, server: Served, tmp_path: Path
) -> None:
    url = server.base + "/blob"
    models = tmp_path.resolve() / "models"
    models.mkdir()
    dest = models / "m.bin"
    permit = _allow(rig, ActionRequest("model.download", url, target=str(dest)))
    other = _allow(rig, ActionRequest("model.download", url, target=str(dest)))
    with pytest.raises(PermitError):
        fx.download(other, url, models / "other.bin", sha256=BLOB_SHA)
    assert fx.download(permit, url, dest, sha256=BLOB_SHA) == dest
    assert not (models / "other.bin").exists()
    assert [r for r in rig.sink.rows if r.decision == "allow"][-1].stage_trace[-3]["stage"] == "2.target"


@pytest.mark.parametrize("target", ["relative/dir", "/tmp/\x00nul"])
def test_a_target_without_a_canonical_form_is_refused(rig: Rig, target: str) -> None:
    decision = rig.gate.evaluate(ActionRequest("shell.exec", "ls", target=target))
    assert isinstance(decision, Deny) and decision.reason is DenyReason.NOT_IN_SCOPE
    assert decision.message == "malformed target"
    assert "target" not in rig.sink.rows[-1].detail


def test_a_permit_names_its_persona(rig: Rig) -> None:
    permit = _allow(rig, ActionRequest("notify.send", "hello", actor_persona="pip"))
    assert permit.persona == "pip"
    with pytest.raises(PermitError, match="another persona"):
        rig.gate.redeem(permit, "notify.send", "hello", persona="user")
    again = _allow(rig, ActionRequest("notify.send", "hello", actor_persona="pip"))
    rig.gate.redeem(again, "notify.send", "hello", persona="pip")


def test_a_permit_without_a_target_refuses_one(rig: Rig) -> None:
    permit = _allow(rig, ActionRequest("notify.send", "hello"))
    with pytest.raises(PermitError, match="destination or working folder"):
        rig.gate.redeem(permit, "notify.send", "hello", target=str(rig.roots[0]))
    permit = _allow(rig, ActionRequest("notify.send", "hello", target=str(rig.roots[0])))
    with pytest.raises(PermitError, match="destination or working folder"):
        rig.gate.redeem(permit, "notify.send", "hello", target="relative")


# ---------------------------------------------------------------- leases
def _capture(rig: Rig, fx: Effectors, choice: ApprovalChoice) -> CaptureLease:
    decision = rig.gate.evaluate(ActionRequest("media.mic", "microphone", actor_persona="user"))
    if isinstance(decision, Ask):
        decision = rig.gate.answer(decision.ticket.ticket_id, choice)
    assert isinstance(decision, Allow), decision
    claimed: list[CaptureLease] = []
    fx.start_capture(
        decision.permit,
        lambda lease: claimed.append(fx.capture_leases.claim(lease, "microphone")),
        persona="user",
    )
    return claimed[0]


@pytest.fixture
def ask_rig(tmp_path: Path) -> Rig:
    return make_rig(tmp_path.resolve(), preset=Preset.ASSISTANT)  # media.mic asks


@pytest.fixture
def ask_fx(ask_rig: Rig, tmp_path: Path) -> Effectors:
    return Effectors(verifier=ask_rig.gate, approved_roots=ask_rig.roots, guard=Guard([tmp_path / "data"]))


def test_a_session_capture_ends_when_its_grant_is_revoked(ask_rig: Rig, ask_fx: Effectors) -> None:
    lease = _capture(ask_rig, ask_fx, ApprovalChoice.ALLOW_SESSION)
    assert ask_fx.capture_leases.alive(lease)
    ask_rig.gate.pause(True)
    assert not ask_fx.capture_leases.alive(lease)
    ask_rig.gate.pause(False)
    assert ask_fx.capture_leases.alive(lease)
    assert ask_rig.gate.revoke(lease.grant_id)
    assert not ask_fx.capture_leases.alive(lease)


def test_an_allow_once_capture_lasts_until_a_revocation(ask_rig: Rig, ask_fx: Effectors) -> None:
    first = _capture(ask_rig, ask_fx, ApprovalChoice.ALLOW_ONCE)
    assert ask_fx.capture_leases.alive(first)  # spent by the capture itself, which goes on
    assert not ask_rig.gate.revoke(first.grant_id)  # no longer in the ledger ...
    assert not ask_fx.capture_leases.alive(first)  # ... but the capture it held ends
    second = _capture(ask_rig, ask_fx, ApprovalChoice.ALLOW_ONCE)
    ask_rig.gate.revoke_all()
    assert not ask_fx.capture_leases.alive(second)
    third = _capture(ask_rig, ask_fx, ApprovalChoice.ALLOW_ONCE)
    ask_rig.gate.set_preset(Preset.OBSERVER)  # any cascade ends it
    assert not ask_fx.capture_leases.alive(third)


def test_a_degraded_gate_ends_every_capture(ask_rig: Rig, ask_fx: Effectors) -> None:
    lease = _capture(ask_rig, ask_fx, ApprovalChoice.ALLOW_SESSION)
    ask_rig.sink.fail = True
    assert not ask_fx.capture_leases.alive(lease)
