"""Helpers shared by the avatar tests: persona events, frames and pixel sampling."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QRect
from PySide6.QtGui import QColor, QImage

from aether_qt.avatar.look import rest_frame
from aether_qt.avatar.view import AvatarView
from aether_qt.core.events import PersonaActivated
from aether_qt.engines.presence.frame import BehaviorFrame, Behaviour

AETHER_PALETTE = (
    ("primary", "#7fb7ff"),
    ("secondary", "#b69cff"),
    ("accent", "#2b3a55"),
    ("background", "#eef4ff"),
)
EMBER_PALETTE = (
    ("primary", "#e8743b"),
    ("secondary", "#8c2f1b"),
    ("accent", "#fff1d6"),
    ("background", "#2a1d1a"),
)


def persona(
    persona_id: str = "aether",
    palette: tuple[tuple[str, str], ...] = AETHER_PALETTE,
    *,
    shape: str = "round",
    trusted: bool = True,
) -> PersonaActivated:
    return PersonaActivated(
        persona_id=persona_id,
        name=persona_id.title(),
        tagline="",
        content_hash=f"sha256:{persona_id}",
        palette=palette,
        shape=shape,
        trusted=trusted,
        clamps=(),
    )


def frame(behaviour: Behaviour = Behaviour.IDLE, *, seq: int = 1, **changes: object) -> BehaviorFrame:
    """A frame as the presence worker would send it (``changes`` override fields)."""
    return replace(rest_frame(behaviour), seq=seq, **changes)  # type: ignore[arg-type]


def face_image(view: AvatarView, image: QImage) -> QImage:
    """The face's square cut out of a grab of ``view`` (device pixels)."""
    ratio = image.width() / view.width()
    rect = view.face_rect()
    return image.copy(
        QRect(
            int(rect.left() * ratio),
            int(rect.top() * ratio),
            int(rect.width() * ratio),
            int(rect.height() * ratio),
        )
    )


def mouth_region(face: QImage) -> QImage:
    """The lower middle of a face image, where the mouth is."""
    w, h = face.width(), face.height()
    return face.copy(QRect(int(w * 0.3), int(h * 0.58), int(w * 0.4), int(h * 0.32)))


def colours(image: QImage) -> set[str]:
    """Every colour in ``image`` as ``#rrggbb``."""
    return {QColor(image.pixel(x, y)).name() for y in range(image.height()) for x in range(image.width())}


def centre_colour(view: AvatarView, image: QImage) -> str:
    ratio = image.width() / view.width()
    centre = view.face_rect().center()
    return QColor(image.pixel(int(centre.x() * ratio), int(centre.y() * ratio))).name()


def near(found: set[str], target: str, tolerance: int = 24) -> bool:
    """Whether any colour in ``found`` is within ``tolerance`` of ``target`` on every channel."""
    goal = QColor(target)
    for name in found:
        colour = QColor(name)
        if (
            max(
                abs(colour.red() - goal.red()),
                abs(colour.green() - goal.green()),
                abs(colour.blue() - goal.blue()),
            )
            <= tolerance
        ):
            return True
    return False
