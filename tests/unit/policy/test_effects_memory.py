"""``Effectors.change_memory`` and ``start_capture``: local acts that run only under a matching permit.

A memory change is an operation value: the effector takes the capability from the
operation and the resource from its target, never from the caller (who could hand
back the permit's own), so a write permit cannot drive a forget and a permit for
one item cannot change another. A capture gets a lease bound to its grant.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_effects import RecordingVerifier

from aether_qt.policy.contracts import PermitError
from aether_qt.policy.effects import Effectors
from aether_qt.policy.guard import Guard
from aether_qt.policy.leases import CaptureLease
from aether_qt.policy.memory_changes import MemoryAction, MemoryChange


@pytest.fixture
def verifier() -> RecordingVerifier:
    return RecordingVerifier()


@pytest.fixture
def fx(verifier: RecordingVerifier, tmp_path: Path) -> Effectors:
    return Effectors(verifier=verifier, approved_roots=[tmp_path], guard=Guard([tmp_path / "data"]))


@pytest.mark.parametrize(
    ("change", "capability"),
    [
        (MemoryChange(MemoryAction.REMEMBER, "memory:fact"), "memory.write.durable"),
        (MemoryChange(MemoryAction.REMEMBER, "memory:new"), "memory.write.durable"),
        (MemoryChange(MemoryAction.EPISODE, "memory:episode"), "memory.write.session"),
        (MemoryChange.on_item(MemoryAction.EDIT, "m1"), "memory.write.durable"),
        (MemoryChange(MemoryAction.IMPORT, "import:notes.json"), "memory.write.durable"),
        (MemoryChange(MemoryAction.FORGET, "memory:topic"), "memory.delete"),
        (MemoryChange.on_item(MemoryAction.FORGET, "m1"), "memory.delete"),
        (MemoryChange.on_item(MemoryAction.PURGE, "m1"), "memory.delete"),
    ],
)
def test_a_matching_permit_applies_the_checked_change(
    fx: Effectors, verifier: RecordingVerifier, change: MemoryChange, capability: str
) -> None:
    seen: list[MemoryChange] = []

    def apply(checked: MemoryChange) -> int:
        seen.append(checked)
        return 7

    permit = verifier.mint(capability, change.resource)
    assert change.capability == capability
    assert fx.change_memory(permit, change, apply) == 7
    assert seen == [change]
    assert verifier.redeemed == [(capability, change.resource)]


@pytest.mark.parametrize("action", [MemoryAction.FORGET, MemoryAction.PURGE])
@pytest.mark.parametrize("write", ["memory.write.session", "memory.write.durable"])
def test_a_write_permit_cannot_drive_a_forget_or_a_purge(
    fx: Effectors, verifier: RecordingVerifier, action: MemoryAction, write: str
) -> None:
    applied: list[MemoryChange] = []
    permit = verifier.mint(write, "memory:m1")
    with pytest.raises(PermitError):
        fx.change_memory(permit, MemoryChange.on_item(action, "m1"), applied.append)
    assert applied == [] and verifier.redeemed == []


def test_a_permit_for_one_item_cannot_change_another(fx: Effectors, verifier: RecordingVerifier) -> None:
    applied: list[MemoryChange] = []
    for action, capability in (
        (MemoryAction.EDIT, "memory.write.durable"),
        (MemoryAction.PURGE, "memory.delete"),
    ):
        permit = verifier.mint(capability, "memory:m1")
        with pytest.raises(PermitError):
            fx.change_memory(permit, MemoryChange.on_item(action, "m2"), applied.append)
    topic = verifier.mint("memory.delete", "memory:topic")  # "forget my sister" cannot purge an item by id
    with pytest.raises(PermitError):
        fx.change_memory(topic, MemoryChange.on_item(MemoryAction.PURGE, "m2"), applied.append)
    assert applied == [] and verifier.redeemed == []


def test_a_change_made_for_the_user_needs_the_users_permit(
    fx: Effectors, verifier: RecordingVerifier
) -> None:
    applied: list[MemoryChange] = []
    persona_permit = verifier.mint("memory.write.durable", "memory:m1", persona="pip")
    with pytest.raises(PermitError):
        fx.change_memory(
            persona_permit, MemoryChange.on_item(MemoryAction.EDIT, "m1", persona="user"), applied.append
        )
    assert applied == []
    user_permit = verifier.mint("memory.write.durable", "memory:m1", persona="user")
    fx.change_memory(
        user_permit, MemoryChange.on_item(MemoryAction.EDIT, "m1", persona="user"), applied.append
    )
    assert [c.item_id for c in applied] == ["m1"]


@pytest.mark.parametrize(
    ("action", "resource"),
    [
        (MemoryAction.EDIT, "memory:fact"),
        (MemoryAction.EDIT, "memory:"),
        (MemoryAction.PURGE, "memory:topic"),
        (MemoryAction.FORGET, "memory:episode"),
        (MemoryAction.REMEMBER, "memory:m1"),
        (MemoryAction.EPISODE, "memory:fact"),
        (MemoryAction.IMPORT, "import:"),
        (MemoryAction.IMPORT, "memory:m1"),
        (MemoryAction.EDIT, "files:/etc/passwd"),
    ],
)
def test_a_change_must_name_a_target_of_its_operation(action: MemoryAction, resource: str) -> None:
    with pytest.raises(ValueError, match="is not a target of a memory"):
        MemoryChange(action, resource)


def test_item_ids_and_kinds() -> None:
    assert MemoryChange.on_item(MemoryAction.FORGET, "abc").item_id == "abc"
    assert MemoryChange(MemoryAction.FORGET, "memory:topic").item_id is None
    assert MemoryChange(MemoryAction.IMPORT, "import:x.json").item_id is None


# ---------------------------------------------------------------- capture
def test_capture_starts_only_under_a_microphone_permit(fx: Effectors, verifier: RecordingVerifier) -> None:
    started: list[CaptureLease] = []
    with pytest.raises(PermitError):
        fx.start_capture(verifier.mint("media.mic", "camera"), started.append)
    assert started == []
    permit = verifier.mint("media.mic", "microphone")
    assert fx.start_capture(permit, started.append) is None
    [lease] = started
    assert (lease.capability, lease.source, lease.grant_id, lease.persona) == (
        "media.mic",
        "microphone",
        permit.grant_id,
        "user",
    )
    assert verifier.redeemed[-1] == ("media.mic", "microphone")


def test_a_lease_is_claimed_once_lives_with_its_grant_and_ends_when_released(
    fx: Effectors, verifier: RecordingVerifier
) -> None:
    leases = fx.capture_leases
    claimed: list[CaptureLease] = []
    fx.start_capture(
        verifier.mint("media.mic", "microphone"),
        lambda lease: claimed.append(leases.claim(lease, "microphone")),
    )
    [lease] = claimed
    assert leases.alive(lease)
    with pytest.raises(PermitError, match="already used"):
        leases.claim(lease, "microphone")  # one lease opens one capture
    forged = dataclasses.replace(lease, token="0" * 64)
    assert not leases.alive(forged)
    verifier.ended.add(lease.grant_id)  # the grant is revoked
    assert not leases.alive(lease)
    verifier.ended.clear()
    leases.release(lease)
    assert not leases.alive(lease)
    leases.release(lease)  # idempotent


def test_a_lease_nobody_claimed_is_void_after_the_effector(
    fx: Effectors, verifier: RecordingVerifier
) -> None:
    handed: list[CaptureLease] = []
    fx.start_capture(verifier.mint("media.mic", "microphone"), handed.append)
    with pytest.raises(PermitError, match="already used"):
        fx.capture_leases.claim(handed[0], "microphone")


def test_a_start_that_fails_leaves_no_lease(fx: Effectors, verifier: RecordingVerifier) -> None:
    handed: list[CaptureLease] = []

    def broken(lease: CaptureLease) -> None:
        handed.append(lease)
        raise RuntimeError("no device")

    with pytest.raises(RuntimeError):
        fx.start_capture(verifier.mint("media.mic", "microphone"), broken)
    with pytest.raises(PermitError):
        fx.capture_leases.claim(handed[0], "microphone")


@pytest.mark.parametrize("bad", [None, "lease", object()])
def test_no_lease_no_capture(fx: Effectors, bad: object) -> None:
    with pytest.raises(PermitError, match="needs a lease"):
        fx.capture_leases.claim(bad, "microphone")


def test_a_lease_for_another_source_or_with_an_ended_grant_is_refused(
    fx: Effectors, verifier: RecordingVerifier
) -> None:
    leases = fx.capture_leases
    outcomes: list[str] = []

    def claim_as(source: str) -> None:
        def start(lease: CaptureLease) -> None:
            try:
                leases.claim(lease, source)
            except PermitError as exc:
                outcomes.append(str(exc))

        return start  # type: ignore[return-value]

    fx.start_capture(verifier.mint("media.mic", "usb-mic"), claim_as("microphone"), source="usb-mic")
    permit = verifier.mint("media.mic", "microphone")
    verifier.ended.add(permit.grant_id)
    fx.start_capture(permit, claim_as("microphone"))
    assert outcomes == ["the capture lease is for another source", "the capture lease's grant has ended"]


def test_a_capture_for_the_user_needs_the_users_permit(fx: Effectors, verifier: RecordingVerifier) -> None:
    started: list[CaptureLease] = []
    with pytest.raises(PermitError):
        fx.start_capture(
            verifier.mint("media.mic", "microphone", persona="pip"), started.append, persona="user"
        )
    assert started == []
