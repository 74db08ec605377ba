"""What the avatar looks like: persona palette, shape and behaviour turned into drawing parameters.

Pure Python (no Qt): both renderers (the GLSL one and the QPainter one) draw
from the same :class:`FaceParams`, so they show the same character. Geometry
is in *face units*: the face spans -1 .. 1 on both axes, y pointing up.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from aether_qt.engines.presence.frame import BehaviorFrame, Behaviour

SHAPES: Final = ("round", "soft-square", "droplet")
_HEX: Final = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")

# the accent of each behaviour when no scheduler gives one (snapshots, the state of a turn)
BEHAVIOUR_TINTS: Final[dict[Behaviour, str]] = {
    Behaviour.DEGRADED: "#8a9099",
    Behaviour.BARGE_IN: "#ef6c00",
    Behaviour.REPAIR: "#ef6c00",
    Behaviour.SPEAKING: "#26a69a",
    Behaviour.ACKNOWLEDGING: "#7e57c2",
    Behaviour.THINKING: "#7e57c2",
    Behaviour.LISTENING: "#43a047",
    Behaviour.AWAITING_APPROVAL: "#ffb300",
    Behaviour.IDLE: "#90a4ae",
}
# how strongly the behaviour's tint glows around the face
_GLOW: Final[dict[Behaviour, float]] = {
    Behaviour.DEGRADED: 0.0,
    Behaviour.IDLE: 0.0,
    Behaviour.LISTENING: 0.85,
    Behaviour.THINKING: 0.75,
    Behaviour.ACKNOWLEDGING: 0.6,
    Behaviour.SPEAKING: 0.7,
    Behaviour.AWAITING_APPROVAL: 0.5,
    Behaviour.BARGE_IN: 0.8,
    Behaviour.REPAIR: 0.6,
}
# where the eyes rest per behaviour when no scheduler moves them (thinking looks up and aside)
_REST_GAZE: Final[dict[Behaviour, tuple[float, float]]] = {
    Behaviour.THINKING: (0.7, 0.8),
    Behaviour.ACKNOWLEDGING: (0.4, 0.5),
    Behaviour.REPAIR: (-0.4, 0.2),
}
# turn states (TurnState values, spelled here: widgets do not import engines) -> behaviour
STATE_BEHAVIOURS: Final[dict[str, Behaviour]] = {
    "Idle": Behaviour.IDLE,
    "Listening": Behaviour.LISTENING,
    "Transcribing": Behaviour.LISTENING,
    "Classifying": Behaviour.THINKING,
    "Acknowledging": Behaviour.ACKNOWLEDGING,
    "AwaitingPolicy": Behaviour.THINKING,
    "AwaitingApproval": Behaviour.AWAITING_APPROVAL,
    "Executing": Behaviour.THINKING,
    "Thinking": Behaviour.THINKING,
    "Streaming": Behaviour.SPEAKING,
    "Speaking": Behaviour.SPEAKING,
    "BargedIn": Behaviour.BARGE_IN,
    "Repairing": Behaviour.REPAIR,
    "Error": Behaviour.REPAIR,
    "Unavailable": Behaviour.DEGRADED,
}

RGB = tuple[float, float, float]


def valid_colour(value: str) -> bool:
    """Whether ``value`` is a ``#rgb``, ``#rrggbb`` or ``#aarrggbb`` colour."""
    return bool(_HEX.fullmatch(value.strip()))


def rgb(value: str) -> RGB:
    """``#rrggbb`` (or ``#rgb``; ``#aarrggbb`` drops alpha) as three floats 0..1."""
    digits = value.strip().lstrip("#")
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    digits = digits[-6:]
    return (int(digits[0:2], 16) / 255, int(digits[2:4], 16) / 255, int(digits[4:6], 16) / 255)


def alpha(value: str) -> float:
    """The alpha of ``#aarrggbb`` (1.0 for the other forms)."""
    digits = value.strip().lstrip("#")
    return int(digits[0:2], 16) / 255 if len(digits) == 8 else 1.0


@dataclass(frozen=True, slots=True)
class AvatarLook:
    """The colours and shape the character is drawn with (from a persona's ``avatar`` part)."""

    primary: str
    secondary: str
    accent: str
    background: str
    shape: str = "round"
    trusted: bool = True

    @classmethod
    def from_palette(cls, palette: Mapping[str, str], *, shape: str, trusted: bool) -> AvatarLook:
        """Take the four roles from ``palette``; a missing or unreadable colour keeps the default."""

        def colour(role: str, fallback: str) -> str:
            value = palette.get(role, "")
            return value.strip().lower() if valid_colour(value) else fallback

        return cls(
            primary=colour("primary", DEFAULT_LOOK.primary),
            secondary=colour("secondary", DEFAULT_LOOK.secondary),
            accent=colour("accent", DEFAULT_LOOK.accent),
            background=colour("background", DEFAULT_LOOK.background),
            shape=shape if shape in SHAPES else "round",
            trusted=trusted,
        )


DEFAULT_LOOK: Final = AvatarLook(
    primary="#cfd8e3", secondary="#a6adb7", accent="#46505c", background="#00000000"
)


def behaviour_for(state: str) -> Behaviour:
    """A :class:`Behaviour` value (``thinking``) or a turn state name (``Thinking``) as a behaviour.

    Raises:
        ValueError: ``state`` is neither.
    """
    if state in STATE_BEHAVIOURS:
        return STATE_BEHAVIOURS[state]
    try:
        return Behaviour(state.lower())
    except ValueError:
        raise ValueError(f"unknown state {state!r}") from None


def rest_frame(behaviour: Behaviour, *, mouth_open: float | None = None, t: float = 0.0) -> BehaviorFrame:
    """A still frame for ``behaviour``: what the avatar shows without a running scheduler."""
    gaze_x, gaze_y = _REST_GAZE.get(behaviour, (0.0, 0.0))
    speaking = behaviour in (Behaviour.SPEAKING, Behaviour.BARGE_IN)
    mouth = mouth_open if mouth_open is not None else (0.45 if speaking else 0.0)
    degraded = behaviour is Behaviour.DEGRADED
    return BehaviorFrame(
        seq=0,
        t=t,
        behaviour=behaviour,
        gaze_x=gaze_x,
        gaze_y=gaze_y,
        blink=0.0,
        mouth_open=max(0.0, min(1.0, mouth)),
        breath=0.0,
        head_tilt=0.06 if behaviour is Behaviour.THINKING else 0.0,
        tint=BEHAVIOUR_TINTS[behaviour],
        intensity=0.0 if degraded else 1.0,
    )


@dataclass(frozen=True, slots=True)
class FaceParams:
    """Everything a renderer needs for one frame (colours 0..1, geometry in face units)."""

    primary: RGB
    secondary: RGB
    accent: RGB
    background: RGB
    background_alpha: float
    shape: int  # index in SHAPES
    scale: float  # breathing: 1.0 at rest
    tilt: float  # radians, around the chin
    gaze: tuple[float, float]  # eye offset in face units
    eye_open: float  # 0 closed .. 1 open (1.15 wide while listening)
    mouth_open: float  # 0 closed .. 1 wide
    smile: float  # curvature of a closed mouth: >0 smiles, 0 flat
    tint: RGB
    glow: float  # 0 .. 1 halo of the tint around the face
    thinking_dots: float  # 0 .. 1 visibility of three dots above the head
    ring: float  # 0 .. 1 amber ring (awaiting approval)
    offline: bool  # grey badge: the engine behind the avatar is down
    untrusted: bool  # orange badge: imported persona
    t: float  # seconds, for pulses


# what a canvas asks for when it paints: the parameters and the background colour
Source = Callable[[], tuple[FaceParams, RGB]]


def canvas_side(face_size: int) -> int:
    """The side of a canvas drawing a face ``face_size`` pixels across (room for the halo and ring)."""
    return face_size + 2 * round(face_size * 0.16)


def _clamp(value: float, low: float, high: float) -> float:
    return max(low, min(high, value))


def face_params(look: AvatarLook, frame: BehaviorFrame) -> FaceParams:
    """Combine a persona look and a behaviour frame into drawing parameters."""
    behaviour = frame.behaviour
    degraded = behaviour is Behaviour.DEGRADED
    intensity = _clamp(frame.intensity, 0.0, 1.0)
    eye_open = 1.0 - _clamp(frame.blink, 0.0, 1.0)
    if behaviour is Behaviour.LISTENING:
        eye_open *= 1.15
    elif degraded:
        eye_open = 0.0  # eyes shut: it does not pretend to be awake
    smile = {Behaviour.IDLE: 1.0, Behaviour.LISTENING: 0.55, Behaviour.AWAITING_APPROVAL: 0.3}.get(
        behaviour, 0.0 if behaviour in (Behaviour.THINKING, Behaviour.DEGRADED) else 0.6
    )
    tint = frame.tint if valid_colour(frame.tint) else BEHAVIOUR_TINTS[behaviour]
    return FaceParams(
        primary=rgb(look.primary),
        secondary=rgb(look.secondary),
        accent=rgb(look.accent),
        background=rgb(look.background),
        background_alpha=alpha(look.background),
        shape=SHAPES.index(look.shape) if look.shape in SHAPES else 0,
        scale=1.0 if degraded else 1.0 + 0.025 * _clamp(frame.breath, -1.0, 1.0),
        tilt=0.0 if degraded else _clamp(frame.head_tilt, -0.35, 0.35),
        gaze=(0.09 * _clamp(frame.gaze_x, -1.0, 1.0), 0.07 * _clamp(frame.gaze_y, -1.0, 1.0)),
        eye_open=eye_open,
        mouth_open=0.0 if degraded else _clamp(frame.mouth_open, 0.0, 1.0),
        smile=smile,
        tint=rgb(tint),
        glow=_GLOW.get(behaviour, 0.0) * max(intensity, 0.35),
        thinking_dots=1.0 if behaviour in (Behaviour.THINKING, Behaviour.ACKNOWLEDGING) else 0.0,
        ring=1.0 if behaviour is Behaviour.AWAITING_APPROVAL else 0.0,
        offline=degraded,
        untrusted=not look.trusted,
        t=frame.t,
    )
