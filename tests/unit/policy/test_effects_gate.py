"""Effectors with the real gate: only this gate's permits, once, for their own act."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import pytest
from gate_support import Rig, make_rig

from aether_qt.policy.capabilities import Preset
from aether_qt.policy.contracts import PermitError
from aether_qt.policy.decisions import ActionRequest, Allow, ApprovalChoice, Ask, Permit
from aether_qt.policy.effects import Effectors
from aether_qt.policy.guard import Guard


def _allow(rig: Rig, capability: str, resource: str) -> Permit:
    decision = rig.gate.evaluate(ActionRequest(capability, resource))
    if isinstance(decision, Ask):
        decision = rig.gate.answer(decision.ticket.ticket_id, ApprovalChoice.ALLOW_ONCE)
    assert isinstance(decision, Allow), decision
    return decision.permit


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return make_rig(tmp_path.resolve(), preset=Preset.POWER_USER)


@pytest.fixture
def fx(rig: Rig, tmp_path: Path) -> Effectors:
    return Effectors(verifier=rig.gate, approved_roots=rig.roots, guard=Guard([tmp_path / "data"]))


def test_gate_permits_drive_effectors(rig: Rig, fx: Effectors) -> None:
    root = rig.roots[0]
    note = root / "note.txt"
    fx.create_file(_allow(rig, "files.create", str(note)), note, "hello")
    permit = _allow(rig, "files.read", str(note))
    assert fx.read_text(permit, note).text == "hello"
    with pytest.raises(PermitError):
        fx.read_text(permit, note)  # every gate permit is single-use
    argv = ["echo", "a b"]
    assert fx.run_process(_allow(rig, "shell.exec", shlex.join(argv)), argv).stdout == "a b\n"


def test_gate_refuses_forged_and_mismatched_permits(rig: Rig, fx: Effectors) -> None:
    root = rig.roots[0]
    note, other = root / "note.txt", root / "other.txt"
    note.write_text("keep", encoding="utf-8")
    other.write_text("keep", encoding="utf-8")
    permit = _allow(rig, "files.read", str(note))
    with pytest.raises(PermitError):
        fx.read_text(dataclasses.replace(permit, token="0" * 32), note)
    with pytest.raises(PermitError):
        fx.read_text(_allow(rig, "files.read", str(note)), other)
    with pytest.raises(PermitError):
        fx.delete_file(_allow(rig, "files.read", str(note)), note)
    assert note.read_text(encoding="utf-8") == other.read_text(encoding="utf-8") == "keep"
