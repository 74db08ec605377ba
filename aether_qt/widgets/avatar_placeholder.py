"""A calm stand-in for the avatar: a drawn face, the persona's name and the turn state in words.

The real avatar (DESIGN.md §9) replaces this widget; until then it shows that
Aether is idle, listening, thinking or speaking without pretending to be more.
When a persona becomes active (``persona.did_activate``) it takes the persona's
look: the face is filled with the palette's ``primary``, outlined with
``secondary``, its eyes and mouth drawn in ``accent`` on a ``background`` card,
in the persona's shape (``round``, ``soft-square`` or ``droplet``); a persona
imported from a character card wears a small "untrusted" badge. It only paints;
the conversation view tells it the state and the persona.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from aether_qt.events import PersonaActivated
from aether_qt.widgets.turn_labels import activity_for, describe_state

# activity -> the face's fill before any persona is active (muted, calm in every state)
FACE_COLOURS: Final[dict[str, str]] = {
    "idle": "#cfd8e3",
    "listening": "#c8e6d0",
    "thinking": "#ddd3f2",
    "speaking": "#cdeaea",
    "attention": "#f6e1b5",
    "unavailable": "#e0e0e0",
}
FACE_SIZE: Final = 64
FACE_LEFT: Final = 12
SHAPES: Final = ("round", "soft-square", "droplet")
BADGE_COLOUR: Final = "#e65100"
UNTRUSTED_TOOLTIP: Final = "Imported persona: its text is untrusted content"
DEFAULT_NAME: Final = "Aether"


@dataclass(frozen=True, slots=True)
class AvatarLook:
    """The colours and shape the face is drawn with (from a persona's ``avatar`` part)."""

    primary: str
    secondary: str
    accent: str
    background: str
    shape: str = "round"
    trusted: bool = True

    @classmethod
    def from_palette(cls, palette: Mapping[str, str], *, shape: str, trusted: bool) -> AvatarLook:
        """Take the four roles from ``palette``; a missing or unreadable colour keeps the default."""
        default = DEFAULT_LOOK

        def colour(role: str, fallback: str) -> str:
            value = palette.get(role, "")
            return QColor(value).name() if QColor.isValidColorName(value) else fallback

        return cls(
            primary=colour("primary", default.primary),
            secondary=colour("secondary", default.secondary),
            accent=colour("accent", default.accent),
            background=colour("background", default.background),
            shape=shape if shape in SHAPES else "round",
            trusted=trusted,
        )


DEFAULT_LOOK: Final = AvatarLook(
    primary=FACE_COLOURS["idle"], secondary="#a6adb7", accent="#46505c", background="#00000000"
)


def _readable_on(background: QColor) -> tuple[QColor, QColor]:
    """Name and caption colours that read well on ``background`` (dark text unless it is dark)."""
    if background.alpha() < 128 or background.lightnessF() > 0.55:
        return QColor("#1f2328"), QColor("#5f6670")
    return QColor("#f5f6f8"), QColor("#c9ced6")


def face_path(rect: QRectF, shape: str) -> QPainterPath:
    """The outline of the face in ``rect`` for ``shape`` (unknown shapes are round)."""
    path = QPainterPath()
    if shape == "soft-square":
        radius = rect.width() * 0.28
        path.addRoundedRect(rect.adjusted(2, 2, -2, -2), radius, radius)
    elif shape == "droplet":  # a drop: a round bottom rising to a point at the top
        width, height = rect.width(), rect.height()
        centre_x = rect.center().x()
        body = QRectF(rect.left() + width * 0.06, rect.top() + height * 0.30, width * 0.88, height * 0.70)
        path.moveTo(centre_x, rect.top())
        path.cubicTo(
            QPointF(centre_x + width * 0.10, rect.top() + height * 0.16),
            QPointF(body.right(), body.top() + height * 0.05),
            QPointF(body.right(), body.center().y()),
        )
        path.arcTo(body, 0, -180)
        path.cubicTo(
            QPointF(body.left(), body.top() + height * 0.05),
            QPointF(centre_x - width * 0.10, rect.top() + height * 0.16),
            QPointF(centre_x, rect.top()),
        )
        path.closeSubpath()
    else:
        path.addEllipse(rect)
    return path


class AvatarPlaceholder(QWidget):
    """A face with two eyes and a mouth, the persona's name and tagline, and the turn state."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("avatar_placeholder")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.state = "Idle"
        self.caption = describe_state("Idle")
        self.activity = "idle"
        self.name = DEFAULT_NAME
        self.tagline = ""
        self.persona_id: str | None = None
        self.look: AvatarLook | None = None  # None until a persona is active: colours follow the state
        self._update_accessible_text()

    def set_state(self, state: str, caption: str | None = None) -> None:
        """Show turn ``state`` (a :class:`TurnState` value); ``caption`` overrides its words."""
        self.state = state
        self.activity = "unavailable" if state == "Unavailable" else activity_for(state)
        self.caption = caption if caption is not None else describe_state(state)
        self._update_accessible_text()
        self.update()

    def set_persona(self, persona: PersonaActivated) -> None:
        """Take the name, tagline, palette and shape of the persona that became active."""
        self.persona_id = persona.persona_id
        self.name = persona.name or persona.persona_id
        self.tagline = persona.tagline
        self.look = AvatarLook.from_palette(
            dict(persona.palette), shape=persona.shape, trusted=persona.trusted
        )
        self.setToolTip("" if persona.trusted else UNTRUSTED_TOOLTIP)
        self._update_accessible_text()
        self.update()

    def face_rect(self) -> QRectF:
        """Where the face is drawn, in widget coordinates."""
        return QRectF(FACE_LEFT, (self.height() - FACE_SIZE) / 2, FACE_SIZE, FACE_SIZE)

    def sizeHint(self) -> QSize:
        """Wide and short: it sits above the transcript."""
        return QSize(320, FACE_SIZE + 20)

    def minimumSizeHint(self) -> QSize:
        """Room for the face and a word or two."""
        return QSize(180, FACE_SIZE + 20)

    def paintEvent(self, event: QPaintEvent) -> None:
        """Draw the card, the face on the left, and the name, tagline and state on its right."""
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            background = QColor((self.look or DEFAULT_LOOK).background)
            if background.alpha() > 0:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(background)
                painter.drawRoundedRect(QRectF(self.rect()).adjusted(1, 1, -1, -1), 10, 10)
            face = self.face_rect()
            self._paint_face(painter, face)
            if self.look is not None and not self.look.trusted:
                self._paint_badge(painter, face)
            self._paint_words(painter, face, background)
        finally:
            painter.end()

    def _paint_words(self, painter: QPainter, face: QRectF, background: QColor) -> None:
        ink, muted = _readable_on(background)
        left = face.right() + 14
        top = face.top()
        text_width = max(0.0, self.width() - left - 12)
        name_font = QFont(self.font())
        name_font.setPointSizeF(self.font().pointSizeF() * 1.35)
        name_font.setWeight(QFont.Weight.DemiBold)
        painter.setFont(name_font)
        painter.setPen(ink)
        name = painter.fontMetrics().elidedText(self.name, Qt.TextElideMode.ElideRight, int(text_width))
        name_rect = QRectF(left, top + 4, text_width, FACE_SIZE / 2)
        painter.drawText(name_rect, name)
        used = painter.fontMetrics().horizontalAdvance(name)
        baseline = name_rect.top() + painter.fontMetrics().ascent()
        painter.setFont(self.font())
        painter.setPen(muted)
        if self.tagline and used + 24 < text_width:
            rest = int(text_width - used - 10)
            tagline = painter.fontMetrics().elidedText(f"— {self.tagline}", Qt.TextElideMode.ElideRight, rest)
            painter.drawText(QPointF(left + used + 10, baseline), tagline)  # on the name's baseline
        caption_rect = QRectF(left, top + FACE_SIZE / 2 + 2, text_width, FACE_SIZE / 2)
        caption = painter.fontMetrics().elidedText(self.caption, Qt.TextElideMode.ElideRight, int(text_width))
        painter.drawText(caption_rect, caption)

    def _paint_face(self, painter: QPainter, rect: QRectF) -> None:
        if self.look is None:
            fill = QColor(FACE_COLOURS.get(self.activity, FACE_COLOURS["idle"]))
            outline, ink, shape = fill.darker(125), QColor(DEFAULT_LOOK.accent), "round"
        else:
            fill, outline = QColor(self.look.primary), QColor(self.look.secondary)
            ink, shape = QColor(self.look.accent), self.look.shape
        painter.setPen(QPen(outline, 2.5))
        painter.setBrush(fill)
        painter.drawPath(face_path(rect.adjusted(1, 1, -1, -1), shape))
        self._paint_features(painter, rect, ink)

    def _paint_features(self, painter: QPainter, rect: QRectF, ink: QColor) -> None:
        """Eyes and mouth, kept clear of the face's centre (tests sample its colour there)."""
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(ink)
        eye = rect.width() * 0.1
        eye_y = rect.top() + rect.height() * 0.40
        if self.activity == "thinking":  # eyes glance up while it thinks
            eye_y -= rect.height() * 0.05
        for fraction in (0.33, 0.67):
            centre_x = rect.left() + rect.width() * fraction
            painter.drawEllipse(QRectF(centre_x - eye / 2, eye_y - eye / 2, eye, eye))
        painter.setPen(QPen(ink, 2.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        mouth = QRectF(
            rect.left() + rect.width() * 0.33, rect.top() + rect.height() * 0.60, rect.width() * 0.34, 0
        )
        if self.activity == "speaking":
            painter.setBrush(ink)
            painter.drawEllipse(
                QRectF(mouth.left() + mouth.width() * 0.3, mouth.top() + 2, mouth.width() * 0.4, 9)
            )
        elif self.activity == "listening":
            painter.drawEllipse(
                QRectF(mouth.left() + mouth.width() * 0.38, mouth.top() + 4, mouth.width() * 0.24, 6)
            )
        else:
            painter.drawArc(QRectF(mouth.left(), mouth.top() - 6, mouth.width(), 14), 200 * 16, 140 * 16)

    def _paint_badge(self, painter: QPainter, face: QRectF) -> None:
        """A small orange "!" disc on the face's lower right: this persona's text is untrusted."""
        size = FACE_SIZE * 0.32
        badge = QRectF(face.right() - size + 3, face.bottom() - size + 3, size, size)
        painter.setPen(QPen(QColor("#ffffff"), 1.5))
        painter.setBrush(QColor(BADGE_COLOUR))
        painter.drawEllipse(badge)
        font = QFont(self.font())
        font.setBold(True)
        font.setPixelSize(int(size * 0.7))
        painter.setFont(font)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, "!")

    def _update_accessible_text(self) -> None:
        trust = ", imported (untrusted)" if self.look is not None and not self.look.trusted else ""
        self.setAccessibleName(f"{self.name}{trust}")
        self.setAccessibleDescription(self.caption)
