"""Turn states, priorities, tints and intensity (aether_qt/engines/presence/mapping.py)."""

from __future__ import annotations

import itertools
import re

import pytest

from aether_qt.engines.interaction.states import TurnState
from aether_qt.engines.presence.frame import Behaviour
from aether_qt.engines.presence.mapping import (
    PRIORITY,
    STATE_BEHAVIOUR,
    TINTS,
    PresenceInputs,
    behaviour_for_state,
    choose_behaviour,
    intensity_for,
    tint_for,
)

EXPECTED = {
    TurnState.IDLE: Behaviour.IDLE,
    TurnState.LISTENING: Behaviour.LISTENING,
    TurnState.TRANSCRIBING: Behaviour.LISTENING,
    TurnState.CLASSIFYING: Behaviour.THINKING,
    TurnState.THINKING: Behaviour.THINKING,
    TurnState.AWAITING_POLICY: Behaviour.THINKING,
    TurnState.EXECUTING: Behaviour.THINKING,
    TurnState.ACKNOWLEDGING: Behaviour.ACKNOWLEDGING,
    TurnState.STREAMING: Behaviour.SPEAKING,
    TurnState.SPEAKING: Behaviour.SPEAKING,
    TurnState.AWAITING_APPROVAL: Behaviour.AWAITING_APPROVAL,
    TurnState.BARGED_IN: Behaviour.BARGE_IN,
    TurnState.REPAIRING: Behaviour.REPAIR,
    TurnState.ERROR: Behaviour.REPAIR,
}


def test_every_turn_state_has_a_behaviour_and_the_vocabularies_agree() -> None:
    assert set(STATE_BEHAVIOUR) == {s.value for s in TurnState}
    for state, behaviour in EXPECTED.items():
        assert behaviour_for_state(state.value) is behaviour


def test_an_unknown_state_is_refused() -> None:
    with pytest.raises(ValueError, match="Dreaming"):
        behaviour_for_state("Dreaming")


def test_priority_order_is_the_documented_one() -> None:
    order = [
        Behaviour.DEGRADED,
        Behaviour.BARGE_IN,
        Behaviour.REPAIR,
        Behaviour.SPEAKING,
        Behaviour.ACKNOWLEDGING,
        Behaviour.THINKING,
        Behaviour.AWAITING_APPROVAL,
        Behaviour.IDLE,
    ]
    ranks = [PRIORITY[b] for b in order]
    assert ranks == sorted(ranks) and len(set(ranks)) == len(ranks)
    assert PRIORITY[Behaviour.THINKING] == PRIORITY[Behaviour.LISTENING]
    assert set(PRIORITY) == set(Behaviour)


@pytest.mark.parametrize(
    ("degraded", "barge_in", "pending"), list(itertools.product([False, True], repeat=3))
)
@pytest.mark.parametrize("turn", list(Behaviour))
def test_the_highest_priority_candidate_wins(
    turn: Behaviour, degraded: bool, barge_in: bool, pending: bool
) -> None:
    chosen = choose_behaviour(
        PresenceInputs(turn=turn, degraded=degraded, pending_approval=pending, barge_in=barge_in)
    )
    candidates = [turn]
    candidates += [Behaviour.DEGRADED] if degraded else []
    candidates += [Behaviour.BARGE_IN] if barge_in else []
    candidates += [Behaviour.AWAITING_APPROVAL] if pending else []
    assert chosen in candidates
    assert PRIORITY[chosen] == min(PRIORITY[c] for c in candidates)
    if degraded:
        assert chosen is Behaviour.DEGRADED


def test_a_pending_approval_shows_over_idle_but_not_over_thinking() -> None:
    assert (
        choose_behaviour(PresenceInputs(Behaviour.IDLE, pending_approval=True)) is Behaviour.AWAITING_APPROVAL
    )
    assert choose_behaviour(PresenceInputs(Behaviour.THINKING, pending_approval=True)) is Behaviour.THINKING


def test_tints_are_colours_and_tell_behaviours_apart() -> None:
    palette = {"accent": "#112233"}
    tints = {b: tint_for(b, palette) for b in Behaviour}
    assert all(re.fullmatch(r"#[0-9a-f]{6}", t) for t in tints.values())
    assert len(set(tints.values())) == len(Behaviour)
    assert tints[Behaviour.IDLE] == "#112233"
    assert tints[Behaviour.DEGRADED] == TINTS[Behaviour.DEGRADED]


def test_idle_tint_falls_back_when_the_palette_is_unusable() -> None:
    assert tint_for(Behaviour.IDLE, {"primary": "#ABCDEF"}) == "#abcdef"
    assert re.fullmatch(r"#[0-9a-f]{6}", tint_for(Behaviour.IDLE, {"accent": "red"}))


def test_intensity_is_zero_when_degraded_and_lower_in_reduced_motion() -> None:
    for behaviour in Behaviour:
        full = intensity_for(behaviour, idle_motion=0.5, reduced_motion=False)
        reduced = intensity_for(behaviour, idle_motion=0.5, reduced_motion=True)
        assert 0.0 <= reduced <= full <= 1.0
        if behaviour is not Behaviour.DEGRADED:
            assert reduced < full
    assert intensity_for(Behaviour.DEGRADED, idle_motion=1.0, reduced_motion=False) == 0.0
    assert intensity_for(Behaviour.IDLE, idle_motion=1.0, reduced_motion=False) > intensity_for(
        Behaviour.IDLE, idle_motion=0.0, reduced_motion=False
    )
