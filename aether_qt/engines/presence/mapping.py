"""From turn states and side inputs to one behaviour, its tint and its liveliness (DESIGN.md §9).

Turn states arrive as strings (the values of the interaction engine's
``TurnState``; engines do not import each other, so the vocabulary is
repeated here and a unit test keeps the two in step). Side inputs that are
not turn states -- the degraded flag, a pending approval, a barge-in pulse --
are candidates too; :func:`choose_behaviour` lets the highest priority win:

    Degraded > BargeIn > Repair > Speaking > Acknowledging > Thinking = Listening
    > AwaitingApproval > Idle
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from aether_qt.engines.presence.frame import Behaviour

STATE_BEHAVIOUR: Final[Mapping[str, Behaviour]] = MappingProxyType(
    {
        "Idle": Behaviour.IDLE,
        "Listening": Behaviour.LISTENING,
        "Transcribing": Behaviour.LISTENING,
        "Classifying": Behaviour.THINKING,
        "Thinking": Behaviour.THINKING,
        "AwaitingPolicy": Behaviour.THINKING,
        "Executing": Behaviour.THINKING,
        "Acknowledging": Behaviour.ACKNOWLEDGING,
        "Streaming": Behaviour.SPEAKING,
        "Speaking": Behaviour.SPEAKING,
        "AwaitingApproval": Behaviour.AWAITING_APPROVAL,
        "BargedIn": Behaviour.BARGE_IN,
        "Repairing": Behaviour.REPAIR,
        "Error": Behaviour.REPAIR,
    }
)
"""Every turn state (``TurnState`` value) and the behaviour that shows it."""

PRIORITY: Final[Mapping[Behaviour, int]] = MappingProxyType(
    {
        Behaviour.DEGRADED: 0,
        Behaviour.BARGE_IN: 1,
        Behaviour.REPAIR: 2,
        Behaviour.SPEAKING: 3,
        Behaviour.ACKNOWLEDGING: 4,
        Behaviour.THINKING: 5,
        Behaviour.LISTENING: 5,  # equal: a turn is never in both at once
        Behaviour.AWAITING_APPROVAL: 6,
        Behaviour.IDLE: 7,
    }
)
"""Rank of each behaviour; lower wins."""

TINTS: Final[Mapping[Behaviour, str]] = MappingProxyType(
    {
        Behaviour.LISTENING: "#7fd1a0",  # soft green
        Behaviour.THINKING: "#a78bfa",  # violet
        Behaviour.ACKNOWLEDGING: "#8fd3e8",  # light sky
        Behaviour.SPEAKING: "#f4b183",  # warm
        Behaviour.AWAITING_APPROVAL: "#f5b935",  # amber
        Behaviour.BARGE_IN: "#e6edf5",  # pale: "I stopped"
        Behaviour.REPAIR: "#f08a4b",  # orange
        Behaviour.DEGRADED: "#8a8a8a",  # grey
    }
)
"""Fixed accents: they carry meaning, so they are the same for every persona.
Idle has none here: it wears the persona's own accent (:func:`tint_for`)."""

IDLE_TINT_FALLBACK: Final = "#8fa3b8"

BASE_INTENSITY: Final[Mapping[Behaviour, float]] = MappingProxyType(
    {
        Behaviour.DEGRADED: 0.0,
        Behaviour.BARGE_IN: 1.0,
        Behaviour.REPAIR: 0.6,
        Behaviour.SPEAKING: 0.9,
        Behaviour.ACKNOWLEDGING: 0.8,
        Behaviour.THINKING: 0.65,
        Behaviour.LISTENING: 0.75,
        Behaviour.AWAITING_APPROVAL: 0.6,
    }
)
"""Liveliness of each behaviour; Idle depends on the persona's ``idle_motion``."""

REDUCED_MOTION_INTENSITY: Final = 0.35
"""Factor applied to the intensity in reduced-motion mode."""

_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True, slots=True)
class PresenceInputs:
    """Everything that competes for the avatar at one instant.

    Attributes:
        turn: the behaviour of the current turn state.
        degraded: the avatar's engine is down (no model, audit broken...): set by the caller.
        pending_approval: an approval ticket waits for the user.
        barge_in: a barge-in pulse is still running.
    """

    turn: Behaviour
    degraded: bool = False
    pending_approval: bool = False
    barge_in: bool = False


def behaviour_for_state(state: str) -> Behaviour:
    """The behaviour that shows the turn state ``state`` (a ``TurnState`` value).

    Raises:
        ValueError: ``state`` is not a known turn state.
    """
    try:
        return STATE_BEHAVIOUR[state]
    except KeyError:
        raise ValueError(f"unknown turn state {state!r}") from None


def choose_behaviour(inputs: PresenceInputs) -> Behaviour:
    """The highest-priority behaviour among the turn's and the side inputs'."""
    candidates = [inputs.turn]
    if inputs.degraded:
        candidates.append(Behaviour.DEGRADED)
    if inputs.barge_in:
        candidates.append(Behaviour.BARGE_IN)
    if inputs.pending_approval:
        candidates.append(Behaviour.AWAITING_APPROVAL)
    return min(candidates, key=PRIORITY.__getitem__)


def tint_for(behaviour: Behaviour, palette: Mapping[str, str]) -> str:
    """The ``#rrggbb`` accent of ``behaviour``; Idle uses the persona's accent (or primary)."""
    fixed = TINTS.get(behaviour)
    if fixed is not None:
        return fixed
    for role in ("accent", "primary"):
        colour = palette.get(role, "")
        if _HEX_COLOUR.fullmatch(colour):
            return colour.lower()
    return IDLE_TINT_FALLBACK


def intensity_for(behaviour: Behaviour, *, idle_motion: float, reduced_motion: bool) -> float:
    """Overall liveliness 0..1: 0 when degraded, scaled down in reduced-motion mode."""
    if behaviour is Behaviour.DEGRADED:
        return 0.0
    base = BASE_INTENSITY.get(behaviour)
    if base is None:  # idle: the persona decides how lively
        base = 0.25 + 0.5 * min(max(idle_motion, 0.0), 1.0)
    return base * REDUCED_MOTION_INTENSITY if reduced_motion else base
