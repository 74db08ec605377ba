"""What the presence scheduler gives the avatar each frame (DESIGN.md §9).

A :class:`BehaviorFrame` is a complete, immutable description of one frame:
the avatar widget only draws the newest one and never decides behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Behaviour(StrEnum):
    """What the avatar is doing, by priority (highest first): Degraded > BargeIn > Repair >
    Speaking > Acknowledging > Thinking = Listening > AwaitingApproval > Idle."""

    DEGRADED = "degraded"
    BARGE_IN = "barge_in"
    REPAIR = "repair"
    SPEAKING = "speaking"
    ACKNOWLEDGING = "acknowledging"
    THINKING = "thinking"
    LISTENING = "listening"
    AWAITING_APPROVAL = "awaiting_approval"
    IDLE = "idle"


@dataclass(frozen=True, slots=True)
class BehaviorFrame:
    """One frame of the avatar.

    Attributes:
        seq: frame counter (monotonic per scheduler).
        t: seconds on the scheduler's monotonic clock.
        behaviour: the winning behaviour this frame.
        gaze_x, gaze_y: where the eyes look, -1.0 .. 1.0 (0, 0 = at the user).
        blink: eyelid closure, 0.0 open .. 1.0 closed.
        mouth_open: 0.0 closed .. 1.0 wide (from the speech envelope while speaking).
        breath: slow breathing phase, -1.0 .. 1.0 (kept by every behaviour but Degraded).
        head_tilt: radians, small.
        tint: "#rrggbb" accent of the behaviour (listening, thinking, approval...).
        intensity: 0.0 .. 1.0 overall liveliness (0 when degraded; low in reduced motion).
    """

    seq: int
    t: float
    behaviour: Behaviour
    gaze_x: float
    gaze_y: float
    blink: float
    mouth_open: float
    breath: float
    head_tilt: float
    tint: str
    intensity: float
