"""The presence scheduler: inputs and a clock in, one :class:`BehaviorFrame` out (DESIGN.md §9).

Pure Python: the presence worker calls :meth:`PresenceScheduler.frame` on a
timer; tests call it on a :class:`~aether_qt.policy.contracts.FakeClock`.

Composition. Priority picks one behaviour (see
:mod:`~aether_qt.engines.presence.mapping`); the channels are then composed:
breath and blinks run under every behaviour, gaze and head tilt follow the
behaviour, the mouth follows the speech envelope while speaking. Degraded is
exclusive: centred still eyes, no blink, no breath, mouth closed, grey tint,
intensity 0 -- the avatar never pretends to be alive when its engine is down.

Choices:

* **Mouth without speech audio.** The mouth moves only with a fresh TTS
  envelope (newer than :data:`ENVELOPE_STALE_S`). Speaking without TTS (the
  reply only streams as text) shows the warm speaking tint with the mouth
  still and slightly open (:data:`MOUTH_REST_SPEAKING`): no synthetic flapping.
* **Reduced motion.** Gaze is fixed at the centre and the head does not tilt;
  the intensity is scaled down. Blinks and breath continue: they are slow,
  small and local -- not the sweeping or parallax motion that troubles
  vestibular users -- and a face that never blinks looks dead or broken,
  which would be its own dishonesty.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from aether_qt.engines.presence.blink import BlinkIntervals, BlinkTimer
from aether_qt.engines.presence.frame import BehaviorFrame, Behaviour
from aether_qt.engines.presence.gaze import CENTRE, GazePlanner
from aether_qt.engines.presence.mapping import (
    PresenceInputs,
    behaviour_for_state,
    choose_behaviour,
    intensity_for,
    tint_for,
)
from aether_qt.policy.contracts import Clock

FRAME_MS: Final = 33
FRAME_MS_SPEAKING: Final = 16
BARGE_IN_PULSE_S: Final = 0.6
ENVELOPE_STALE_S: Final = 0.25
MOUTH_REST_SPEAKING: Final = 0.12
BREATH_PERIOD_S: Final = 4.4


@dataclass(frozen=True, slots=True)
class VisualParams:
    """The persona's look as the scheduler needs it (the composition root converts the persona's).

    Attributes:
        palette: role -> ``#rrggbb`` (primary, secondary, accent, background).
        shape: "round", "soft-square", "droplet" (for the avatar; kept for completeness).
        blink_rate: blinks per minute (clamped to 10-20).
        idle_motion: 0.0 still .. 1.0 lively.
        gaze_style: "steady", "curious" or "shy".
    """

    palette: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    shape: str = "round"
    blink_rate: float = 15.0
    idle_motion: float = 0.5
    gaze_style: str = "steady"


def breath(t: float, phase: float) -> float:
    """Slow breathing, -1 .. 1: about 14 breaths a minute, gently irregular."""
    wobble = 0.35 * math.sin(math.tau * t / 31.0 + phase)
    return math.sin(math.tau * t / BREATH_PERIOD_S + phase + wobble)


class PresenceScheduler:
    """Computes the avatar's frame for the current instant from the latest inputs.

    Not thread-safe: one thread (the presence worker's) owns it.
    """

    def __init__(
        self, *, clock: Clock, visual: VisualParams, seed: int, reduced_motion: bool = False
    ) -> None:
        """Start idle, not degraded, with nothing pending.

        Args:
            clock: the monotonic clock (a ``FakeClock`` in tests).
            visual: the persona's look.
            seed: makes blinks and gaze reproducible.
            reduced_motion: start in reduced-motion mode.
        """
        self._clock = clock
        self._visual = visual
        self._reduced_motion = reduced_motion
        self._t0_ns = clock.monotonic_ns()
        rng = random.Random(seed)
        self._breath_phase = rng.uniform(0.0, math.tau)
        intervals = BlinkIntervals(rate_per_min=visual.blink_rate, seed=rng.getrandbits(64))
        self._blinks = BlinkTimer(intervals=intervals, now_ns=self._t0_ns)
        self._gaze = GazePlanner(seed=rng.getrandbits(64))
        self._turn = Behaviour.IDLE
        self._degraded = False
        self._pending_approval = False
        self._barge_in_until: float | None = None
        self._envelope = 0.0
        self._envelope_at: float | None = None
        self._seq = 0

    # ------------------------------------------------------------------ inputs

    def set_turn_state(self, state: str) -> None:
        """Follow the turn's state (a ``TurnState`` value); the next frame shows it.

        Raises:
            ValueError: ``state`` is not a known turn state (nothing changes).
        """
        self._turn = behaviour_for_state(state)

    def set_degraded(self, flag: bool) -> None:
        """Whether the engine behind the avatar is down (no model, audit broken...)."""
        self._degraded = flag

    def set_pending_approval(self, flag: bool) -> None:
        """Whether an approval ticket waits for the user."""
        self._pending_approval = flag

    def barge_in(self) -> None:
        """The user interrupted: show a barge-in for :data:`BARGE_IN_PULSE_S` from now."""
        self._barge_in_until = self._now() + BARGE_IN_PULSE_S

    def set_mouth_envelope(self, value: float) -> None:
        """The speech audio's loudness, 0..1 (TTS, about 60 Hz); stale after :data:`ENVELOPE_STALE_S`."""
        self._envelope = min(max(value, 0.0), 1.0) if math.isfinite(value) else 0.0
        self._envelope_at = self._now()

    def set_visual(self, visual: VisualParams) -> None:
        """Use a new look from the next frame on (persona hot reload)."""
        self._visual = visual
        self._blinks.intervals.set_rate(visual.blink_rate)

    def set_reduced_motion(self, flag: bool) -> None:
        """Turn reduced-motion mode on or off (the user's setting)."""
        self._reduced_motion = flag

    @property
    def visual(self) -> VisualParams:
        """The current look."""
        return self._visual

    @property
    def reduced_motion(self) -> bool:
        """Whether reduced-motion mode is on."""
        return self._reduced_motion

    # ------------------------------------------------------------------ outputs

    def behaviour(self) -> Behaviour:
        """The behaviour that wins now."""
        return self._behaviour_at(self._now())

    def _behaviour_at(self, t: float) -> Behaviour:
        barge = self._barge_in_until is not None and t < self._barge_in_until
        inputs = PresenceInputs(
            turn=self._turn,
            degraded=self._degraded,
            pending_approval=self._pending_approval,
            barge_in=barge,
        )
        return choose_behaviour(inputs)

    def frame_interval_ms(self) -> int:
        """How long until the next frame: 16 ms while speaking, 33 ms otherwise."""
        return FRAME_MS_SPEAKING if self.behaviour() is Behaviour.SPEAKING else FRAME_MS

    def frame(self) -> BehaviorFrame:
        """The frame for the clock's current instant."""
        now_ns = self._clock.monotonic_ns()
        t = (now_ns - self._t0_ns) / 1e9
        behaviour = self._behaviour_at(t)
        self._seq += 1
        if behaviour is Behaviour.DEGRADED:
            self._gaze.gaze(behaviour, t, style="", idle_motion=0.0, reduced_motion=True)
            return self._degraded_frame(t)
        visual = self._visual
        gaze = self._gaze.gaze(
            behaviour,
            t,
            style=visual.gaze_style,
            idle_motion=visual.idle_motion,
            reduced_motion=self._reduced_motion,
        )
        return BehaviorFrame(
            seq=self._seq,
            t=t,
            behaviour=behaviour,
            gaze_x=gaze.x,
            gaze_y=gaze.y,
            blink=self._blinks.closure(now_ns),
            mouth_open=self._mouth(behaviour, t),
            breath=breath(t, self._breath_phase),
            head_tilt=gaze.tilt,
            tint=tint_for(behaviour, visual.palette),
            intensity=intensity_for(
                behaviour, idle_motion=visual.idle_motion, reduced_motion=self._reduced_motion
            ),
        )

    def _degraded_frame(self, t: float) -> BehaviorFrame:
        """Exclusive and still: nothing in it suggests the engine is alive."""
        return BehaviorFrame(
            seq=self._seq,
            t=t,
            behaviour=Behaviour.DEGRADED,
            gaze_x=CENTRE.x,
            gaze_y=CENTRE.y,
            blink=0.0,
            mouth_open=0.0,
            breath=0.0,
            head_tilt=CENTRE.tilt,
            tint=tint_for(Behaviour.DEGRADED, self._visual.palette),
            intensity=0.0,
        )

    def _mouth(self, behaviour: Behaviour, t: float) -> float:
        """The envelope while speaking with fresh audio; slightly open without; closed otherwise."""
        if behaviour is not Behaviour.SPEAKING:
            return 0.0
        if self._envelope_at is not None and t - self._envelope_at <= ENVELOPE_STALE_S:
            return self._envelope
        return MOUTH_REST_SPEAKING

    def _now(self) -> float:
        """Seconds since the scheduler started, on its clock."""
        return (self._clock.monotonic_ns() - self._t0_ns) / 1e9
