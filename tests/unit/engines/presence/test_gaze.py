"""Fixation plans per behaviour (aether_qt/engines/presence/gaze.py)."""

from __future__ import annotations

import random

import pytest

from aether_qt.engines.presence.frame import Behaviour
from aether_qt.engines.presence.gaze import CENTRE, GazePlanner, next_fixation


def plan(behaviour: Behaviour, n: int = 40, style: str = "steady") -> list[tuple[float, float, float, bool]]:
    rng = random.Random(4)
    away = behaviour is Behaviour.SPEAKING
    out = []
    for _ in range(n):
        f = next_fixation(behaviour, away_now=away, rng=rng, style=style, idle_motion=0.5)
        out.append((f.x, f.y, f.dwell_s, f.away))
        away = f.away
    return out


def test_thinking_alternates_glances_up_and_aside_with_returns() -> None:
    fixations = plan(Behaviour.THINKING)
    assert [f[3] for f in fixations] == [True, False] * 20
    assert all(abs(x) >= 0.45 and y >= 0.35 for x, y, _, away in fixations if away)
    assert all((x, y) == (0.0, 0.0) for x, y, _, away in fixations if not away)


def test_speaking_holds_the_user_longer_than_it_looks_away() -> None:
    fixations = plan(Behaviour.SPEAKING)
    assert fixations[0][3] is False  # opens on the user
    at_user = [d for _, _, d, away in fixations if not away]
    breaks = [d for _, _, d, away in fixations if away]
    assert min(at_user) >= 2.5 and max(breaks) <= 0.8


def test_listening_never_leaves_the_user() -> None:
    assert all(not away and abs(x) < 0.15 and abs(y) < 0.15 for x, y, _, away in plan(Behaviour.LISTENING))


@pytest.mark.parametrize(
    "behaviour", [Behaviour.ACKNOWLEDGING, Behaviour.AWAITING_APPROVAL, Behaviour.BARGE_IN]
)
def test_attentive_behaviours_look_at_the_user(behaviour: Behaviour) -> None:
    assert {(x, y) for x, y, _, _ in plan(behaviour)} == {(0.0, 0.0)}


def test_curious_wanders_wider_than_steady() -> None:
    def reach(style: str) -> float:
        return max((x * x + y * y) ** 0.5 for x, y, _, _ in plan(Behaviour.IDLE, style=style))

    assert reach("curious") > reach("steady")


@pytest.mark.parametrize("behaviour", list(Behaviour))
def test_reduced_motion_and_degraded_are_the_centre(behaviour: Behaviour) -> None:
    planner = GazePlanner(seed=2)
    for k in range(100):
        assert (
            planner.gaze(behaviour, k / 30, style="curious", idle_motion=1.0, reduced_motion=True) == CENTRE
        )
    assert (
        planner.gaze(Behaviour.DEGRADED, 5.0, style="curious", idle_motion=1.0, reduced_motion=False)
        == CENTRE
    )


def test_a_long_gap_does_not_replay_every_missed_fixation() -> None:
    planner = GazePlanner(seed=2)
    planner.gaze(Behaviour.THINKING, 0.0, style="steady", idle_motion=0.5, reduced_motion=False)
    gaze = planner.gaze(Behaviour.THINKING, 86_400.0, style="steady", idle_motion=0.5, reduced_motion=False)
    assert abs(gaze.x) <= 1.0 and abs(gaze.y) <= 1.0
