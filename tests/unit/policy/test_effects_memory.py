"""``Effectors.change_memory`` and ``start_capture``: local acts that run only under a matching permit."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_effects import RecordingVerifier

from aether_qt.policy.contracts import PermitError
from aether_qt.policy.effects import Effectors
from aether_qt.policy.guard import Guard


@pytest.fixture
def verifier() -> RecordingVerifier:
    return RecordingVerifier()


@pytest.fixture
def fx(verifier: RecordingVerifier, tmp_path: Path) -> Effectors:
    return Effectors(verifier=verifier, approved_roots=[tmp_path], guard=Guard([tmp_path / "data"]))


@pytest.mark.parametrize("capability", ["memory.write.session", "memory.write.durable", "memory.delete"])
def test_a_matching_permit_runs_the_change_and_returns_its_result(
    fx: Effectors, verifier: RecordingVerifier, capability: str
) -> None:
    calls: list[str] = []

    def change() -> int:
        calls.append("ran")
        return 7

    permit = verifier.mint(capability, "memory:fact")
    assert fx.change_memory(permit, capability, "memory:fact", change) == 7
    assert calls == ["ran"]
    assert verifier.redeemed == [(capability, "memory:fact")]


def test_a_mismatched_permit_never_runs_the_change(fx: Effectors, verifier: RecordingVerifier) -> None:
    calls: list[str] = []
    permit = verifier.mint("memory.write.session", "memory:episode")
    with pytest.raises(PermitError):
        fx.change_memory(permit, "memory.write.durable", "memory:episode", lambda: calls.append("ran"))
    assert calls == []


def test_only_memory_capabilities_are_changes(fx: Effectors, verifier: RecordingVerifier) -> None:
    calls: list[str] = []
    permit = verifier.mint("files.delete", "/tmp/x")
    with pytest.raises(ValueError, match="not a memory change"):
        fx.change_memory(permit, "files.delete", "/tmp/x", lambda: calls.append("ran"))
    assert calls == [] and verifier.redeemed == []


def test_capture_starts_only_under_a_microphone_permit(fx: Effectors, verifier: RecordingVerifier) -> None:
    started: list[str] = []
    with pytest.raises(PermitError):
        fx.start_capture(verifier.mint("media.mic", "camera"), lambda: started.append("mic"))
    assert started == []
    assert fx.start_capture(verifier.mint("media.mic", "microphone"), lambda: started.append("mic")) is None
    assert started == ["mic"] and verifier.redeemed[-1] == ("media.mic", "microphone")
