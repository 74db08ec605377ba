"""A calm stand-in for the avatar: a drawn face and the current turn state in words.

The real avatar (DESIGN.md §9) replaces this widget; until then it shows that
Aether is idle, listening, thinking or speaking without pretending to be more.
It only paints; the conversation view tells it the state.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from aether_qt.widgets.turn_labels import activity_for, describe_state

# activity -> the face's fill (muted, so the face stays calm in every state)
FACE_COLOURS: Final[dict[str, str]] = {
    "idle": "#cfd8e3",
    "listening": "#c8e6d0",
    "thinking": "#ddd3f2",
    "speaking": "#cdeaea",
    "attention": "#f6e1b5",
    "unavailable": "#e0e0e0",
}
FACE_SIZE: Final = 64


class AvatarPlaceholder(QWidget):
    """A circle with two eyes and a mouth, Aether's name and the state of the current turn."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("avatar_placeholder")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.state = "Idle"
        self.caption = describe_state("Idle")
        self.activity = "idle"

    def set_state(self, state: str, caption: str | None = None) -> None:
        """Show turn ``state`` (a :class:`TurnState` value); ``caption`` overrides its words."""
        self.state = state
        self.activity = "unavailable" if state == "Unavailable" else activity_for(state)
        self.caption = caption if caption is not None else describe_state(state)
        self.update()

    def sizeHint(self) -> QSize:
        """Wide and short: it sits above the transcript."""
        return QSize(320, FACE_SIZE + 20)

    def minimumSizeHint(self) -> QSize:
        """Room for the face and a word or two."""
        return QSize(180, FACE_SIZE + 20)

    def paintEvent(self, event: QPaintEvent) -> None:
        """Draw the face on the left and the name and state on its right."""
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            top = (self.height() - FACE_SIZE) / 2
            self._paint_face(painter, QRectF(12, top, FACE_SIZE, FACE_SIZE))
            left = 12 + FACE_SIZE + 14
            name_font = QFont(self.font())
            name_font.setPointSizeF(self.font().pointSizeF() * 1.35)
            name_font.setWeight(QFont.Weight.DemiBold)
            painter.setFont(name_font)
            painter.setPen(QColor("#1f2328"))
            text_width = max(0.0, self.width() - left - 12)
            painter.drawText(QRectF(left, top + 4, text_width, FACE_SIZE / 2), "Aether")
            painter.setFont(self.font())
            painter.setPen(QColor("#5f6670"))
            caption_rect = QRectF(left, top + FACE_SIZE / 2 + 2, text_width, FACE_SIZE / 2)
            elided = painter.fontMetrics().elidedText(
                self.caption, Qt.TextElideMode.ElideRight, int(text_width)
            )
            painter.drawText(caption_rect, elided)
        finally:
            painter.end()

    def _paint_face(self, painter: QPainter, rect: QRectF) -> None:
        fill = QColor(FACE_COLOURS.get(self.activity, FACE_COLOURS["idle"]))
        painter.setPen(QPen(fill.darker(125), 2))
        painter.setBrush(fill)
        painter.drawEllipse(rect)
        ink = QColor("#46505c")
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(ink)
        eye = rect.width() * 0.09
        eye_y = rect.top() + rect.height() * 0.38
        if self.activity == "thinking":  # eyes glance up while it thinks
            eye_y -= rect.height() * 0.05
        for fraction in (0.34, 0.66):
            centre_x = rect.left() + rect.width() * fraction
            painter.drawEllipse(QRectF(centre_x - eye / 2, eye_y - eye / 2, eye, eye))
        painter.setPen(QPen(ink, 2.2, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        mouth = QRectF(
            rect.left() + rect.width() * 0.32, rect.top() + rect.height() * 0.5, rect.width() * 0.36, 0
        )
        if self.activity == "speaking":
            painter.setBrush(ink)
            painter.drawEllipse(
                QRectF(mouth.left() + mouth.width() * 0.3, mouth.top() + 4, mouth.width() * 0.4, 9)
            )
        elif self.activity == "listening":
            painter.drawEllipse(
                QRectF(mouth.left() + mouth.width() * 0.38, mouth.top() + 6, mouth.width() * 0.24, 6)
            )
        else:
            painter.drawArc(QRectF(mouth.left(), mouth.top() - 4, mouth.width(), 16), 200 * 16, 140 * 16)
