"""Where the eyes look and how the head leans, per behaviour (DESIGN.md §9).

Coordinates: ``x`` -1 (the avatar's left on screen) .. 1 (right), ``y`` -1
(down) .. 1 (up); (0, 0) looks at the user. ``tilt`` is a head roll in
radians, small.

The eyes move in fixations joined by quick saccades (:data:`SACCADE_S`):

* listening -- steady on the user, with tiny micro-movements;
* thinking -- glances away up-left or up-right, returning to the user between;
* speaking -- on the user, with a short natural break every few seconds;
* idle -- wanders slowly as the persona's ``gaze_style`` says (steady: close to
  the user, long dwells; curious: wider, quicker; shy: mostly down and aside);
* acknowledging, awaiting approval, barge-in -- on the user (barge-in snaps);
* repair -- a short apologetic look down, then back to the user;
* degraded and reduced motion -- fixed at the centre, no tilt, no motion.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from aether_qt.engines.presence.frame import Behaviour

SACCADE_S: Final = 0.12
TILT_TAU_S: Final = 0.25
MICRO_AMPLITUDE: Final = 0.012
GAZE_STYLES: Final = ("steady", "curious", "shy")
MAX_CATCH_UP_S: Final = 10.0


@dataclass(frozen=True, slots=True)
class Gaze:
    """Eyes and head for one frame."""

    x: float
    y: float
    tilt: float


CENTRE: Final = Gaze(0.0, 0.0, 0.0)


@dataclass(frozen=True, slots=True)
class Fixation:
    """One place to look and for how long; ``away`` = not at the user."""

    x: float
    y: float
    dwell_s: float
    away: bool


def _at_user(dwell_s: float) -> Fixation:
    return Fixation(0.0, 0.0, dwell_s, away=False)


def _listening(rng: random.Random, _away_now: bool) -> Fixation:
    return Fixation(rng.gauss(0.0, 0.03), rng.gauss(0.0, 0.02), rng.uniform(0.8, 2.0), away=False)


def _repair(rng: random.Random, away_now: bool) -> Fixation:
    if away_now:
        return _at_user(2.0)
    return Fixation(rng.uniform(-0.2, 0.2), -0.35, 0.6, away=True)


def _thinking(rng: random.Random, away_now: bool) -> Fixation:
    if away_now:
        return _at_user(rng.uniform(0.5, 1.2))
    side = rng.choice((-1.0, 1.0))
    return Fixation(side * rng.uniform(0.45, 0.7), rng.uniform(0.35, 0.6), rng.uniform(1.0, 2.6), away=True)


def _speaking(rng: random.Random, away_now: bool) -> Fixation:
    if away_now:
        return _at_user(rng.uniform(2.5, 5.0))
    side = rng.choice((-1.0, 1.0))
    return Fixation(
        side * rng.uniform(0.25, 0.45), rng.uniform(-0.2, 0.05), rng.uniform(0.35, 0.8), away=True
    )


def _idle(rng: random.Random, away_now: bool, style: str, idle_motion: float) -> Fixation:
    motion = min(max(idle_motion, 0.0), 1.0)
    if style == "shy":
        if away_now:
            return _at_user(rng.uniform(0.6, 1.2))
        side = rng.choice((-1.0, 1.0))
        return Fixation(
            side * rng.uniform(0.3, 0.6), -rng.uniform(0.2, 0.45), rng.uniform(2.0, 4.0), away=True
        )
    if style == "curious":
        radius, dwell = 0.35 + 0.35 * motion, rng.uniform(1.2, 3.0)
    else:  # steady, and any unknown style
        radius, dwell = 0.15 + 0.15 * motion, rng.uniform(3.0, 6.0)
    angle = rng.uniform(0.0, math.tau)
    reach = radius * math.sqrt(rng.random())
    return Fixation(reach * math.cos(angle), reach * math.sin(angle), dwell, away=True)


_PLANS: Final[Mapping[Behaviour, Callable[[random.Random, bool], Fixation]]] = MappingProxyType(
    {
        Behaviour.LISTENING: _listening,
        Behaviour.THINKING: _thinking,
        Behaviour.SPEAKING: _speaking,
        Behaviour.REPAIR: _repair,
    }
)


def next_fixation(
    behaviour: Behaviour, *, away_now: bool, rng: random.Random, style: str, idle_motion: float
) -> Fixation:
    """Where to look next in ``behaviour``, given whether the eyes are now away from the user."""
    if behaviour is Behaviour.IDLE:
        return _idle(rng, away_now, style, idle_motion)
    plan = _PLANS.get(behaviour)
    if plan is None:  # acknowledging, awaiting approval, barge-in
        return _at_user(1.0)
    return plan(rng, away_now)


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


class GazePlanner:
    """Plans fixations for the current behaviour and reports the gaze at any instant.

    A change of behaviour starts a new plan at once, from wherever the eyes are,
    so the new behaviour shows in the very next frame.
    """

    def __init__(self, *, seed: int) -> None:
        """Create a planner whose choices are reproducible for ``seed``."""
        self._rng = random.Random(seed)
        self._tilt_side = self._rng.choice((-1.0, 1.0))
        self._phase = self._rng.uniform(0.0, math.tau)
        self._behaviour: Behaviour | None = None
        self._from = (0.0, 0.0)
        self._target = Fixation(0.0, 0.0, 0.0, away=False)
        self._moved_at = 0.0
        self._next_at = 0.0
        self._tilt = 0.0
        self._last_t: float | None = None

    def gaze(
        self, behaviour: Behaviour, t: float, *, style: str, idle_motion: float, reduced_motion: bool
    ) -> Gaze:
        """The gaze at ``t`` seconds (non-decreasing between calls)."""
        if reduced_motion or behaviour is Behaviour.DEGRADED:
            self._behaviour, self._tilt, self._last_t = None, 0.0, t
            self._from, self._target = (0.0, 0.0), Fixation(0.0, 0.0, 0.0, away=False)
            return CENTRE
        if behaviour is not self._behaviour or t - self._next_at > MAX_CATCH_UP_S:
            self._restart(behaviour, t, style=style, idle_motion=idle_motion)
        while t >= self._next_at:
            self._move(self._next_at, style=style, idle_motion=idle_motion)
        x, y = self._position(t)
        if behaviour in (Behaviour.LISTENING, Behaviour.SPEAKING, Behaviour.IDLE):
            x, y = x + self._micro(t, 1.3), y + self._micro(t, 0.9)
        return Gaze(x, y, self._ease_tilt(behaviour, t, idle_motion))

    def _restart(self, behaviour: Behaviour, t: float, *, style: str, idle_motion: float) -> None:
        start = self._position(t)
        self._behaviour = behaviour
        # Speaking opens on the user; every other plan opens with its first move.
        self._target = Fixation(start[0], start[1], 0.0, away=behaviour is Behaviour.SPEAKING)
        self._move(t, style=style, idle_motion=idle_motion, start=start)
        if behaviour is Behaviour.BARGE_IN:
            self._from = (self._target.x, self._target.y)  # snap: no saccade

    def _move(
        self, at: float, *, style: str, idle_motion: float, start: tuple[float, float] | None = None
    ) -> None:
        assert self._behaviour is not None
        self._from = self._position(at) if start is None else start
        self._target = next_fixation(
            self._behaviour, away_now=self._target.away, rng=self._rng, style=style, idle_motion=idle_motion
        )
        self._moved_at = at
        self._next_at = at + max(self._target.dwell_s, SACCADE_S)

    def _position(self, t: float) -> tuple[float, float]:
        k = _smoothstep((t - self._moved_at) / SACCADE_S)
        fx, fy = self._from
        return fx + (self._target.x - fx) * k, fy + (self._target.y - fy) * k

    def _micro(self, t: float, hz: float) -> float:
        return MICRO_AMPLITUDE * math.sin(math.tau * hz * t + self._phase * hz)

    def _tilt_target(self, behaviour: Behaviour, t: float, idle_motion: float) -> float:
        if behaviour is Behaviour.LISTENING:
            return 0.07 * self._tilt_side
        if behaviour is Behaviour.THINKING:
            return math.copysign(0.05, self._target.x) if self._target.away else 0.0
        if behaviour is Behaviour.SPEAKING:
            return 0.03 * math.sin(math.tau * t / 3.1 + self._phase)
        if behaviour is Behaviour.IDLE:
            return 0.04 * min(max(idle_motion, 0.0), 1.0) * math.sin(math.tau * t / 7.3 + self._phase)
        return 0.0

    def _ease_tilt(self, behaviour: Behaviour, t: float, idle_motion: float) -> float:
        """Move the tilt towards its target with a first-order lag, so it never pops."""
        target = self._tilt_target(behaviour, t, idle_motion)
        dt = 0.0 if self._last_t is None else max(t - self._last_t, 0.0)
        self._last_t = t
        self._tilt += (target - self._tilt) * (1.0 - math.exp(-dt / TILT_TAU_S))
        return self._tilt
