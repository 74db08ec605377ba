"""The avatar as the app shows it: the character, the persona's name and tagline, and the turn state.

:class:`AvatarView` wraps one canvas (:class:`~aether_qt.avatar.gl_avatar.GlAvatar`
or :class:`~aether_qt.avatar.painter_avatar.PainterAvatar`, chosen by
:func:`~aether_qt.avatar.factory.make_avatar`) and owns what both need: the
persona's look, the newest :class:`BehaviorFrame` and whether drawing is worth
it. Frames that arrive while the window is hidden or minimised are kept, not
drawn; ``sig_visibility_changed`` tells the presence worker to pause. Until a
worker sends frames, :meth:`set_state` shows a still frame of the state's
behaviour. A new persona is drawn from the next frame on.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QHideEvent, QPainter, QPaintEvent, QResizeEvent, QShowEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from aether_qt.avatar.gl_avatar import GlAvatar
from aether_qt.avatar.look import (
    DEFAULT_LOOK,
    RGB,
    AvatarLook,
    FaceParams,
    behaviour_for,
    face_params,
    rest_frame,
)
from aether_qt.avatar.painter_avatar import PainterAvatar
from aether_qt.core.events import PersonaActivated
from aether_qt.core.turn_labels import STATE_WORDS
from aether_qt.engines.presence.frame import BehaviorFrame, Behaviour

UNTRUSTED_TOOLTIP: Final = "Imported persona: its text is untrusted content"
DEFAULT_NAME: Final = "Aether"
CANVAS_LEFT: Final = 2

Canvas = GlAvatar | PainterAvatar


def _readable_on(background: QColor) -> tuple[QColor, QColor]:
    """Name and caption colours that read well on ``background`` (dark text unless it is dark)."""
    if background.alpha() < 128 or background.lightnessF() > 0.55:
        return QColor("#1f2328"), QColor("#5f6670")
    return QColor("#f5f6f8"), QColor("#c9ced6")


class AvatarView(QWidget):
    """The character on the left; with ``words``, the name, tagline and state on its right.

    Signals:
        sig_visibility_changed(bool): True when the avatar can be seen again, False when its
            window is hidden or minimised (frames are then neither needed nor drawn).
    """

    sig_visibility_changed = Signal(bool)

    def __init__(self, canvas: Canvas, *, words: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("avatar_view")
        self.canvas = canvas
        canvas.setParent(self)
        self.words = words
        self.uses_opengl = isinstance(canvas, GlAvatar)
        self.state = "Idle"
        self.caption = STATE_WORDS["Idle"]
        self.name = DEFAULT_NAME
        self.tagline = ""
        self.persona_id: str | None = None
        self.look: AvatarLook = DEFAULT_LOOK
        self.frame: BehaviorFrame = rest_frame(Behaviour.IDLE)
        self.live = False  # True once a presence worker sends frames
        self.frames_skipped = 0
        self._drawing = False
        self._watched: QWidget | None = None
        policy = QSizePolicy.Policy.Expanding if words else QSizePolicy.Policy.Fixed
        self.setSizePolicy(policy, QSizePolicy.Policy.Fixed)
        if not words:
            self.setFixedSize(canvas.size())
        canvas.set_source(self._params)
        self._update_accessible_text()

    # ------------------------------------------------------------------ inputs

    def show_frame(self, frame: BehaviorFrame) -> None:
        """Draw ``frame`` (the newest from the presence worker); kept, not drawn, while hidden."""
        self.live = True
        self.frame = frame
        self._push()

    def set_state(self, state: str, caption: str | None = None) -> None:
        """Show turn ``state`` (a ``TurnState`` value or ``Unavailable``); ``caption`` overrides its words."""
        self.state = state
        self.caption = caption if caption is not None else STATE_WORDS.get(state, state)
        try:
            behaviour = behaviour_for(state)
        except ValueError:
            behaviour = Behaviour.IDLE
        if not self.live or behaviour is Behaviour.DEGRADED:
            self.frame = rest_frame(behaviour, t=self.frame.t)
            self._push()
        self._update_accessible_text()
        self.update()

    def set_persona(self, event: PersonaActivated) -> None:
        """Take the name, tagline, palette and shape of the persona that became active."""
        self.persona_id = event.persona_id
        self.name = event.name or event.persona_id
        self.tagline = event.tagline
        self.look = AvatarLook.from_palette(dict(event.palette), shape=event.shape, trusted=event.trusted)
        self.setToolTip("" if event.trusted else UNTRUSTED_TOOLTIP)
        self._update_accessible_text()
        self._push()
        self.update()

    # ------------------------------------------------------------------ geometry

    def face_rect(self) -> QRectF:
        """Where the face is drawn, in this widget's coordinates."""
        return self.canvas.face_rect().translated(QPointF(self.canvas.pos()))

    def sizeHint(self) -> QSize:
        """Wide and short with words (it sits above the transcript); the canvas alone without."""
        canvas = self.canvas.size()
        return QSize(320, canvas.height()) if self.words else canvas

    def minimumSizeHint(self) -> QSize:
        """Room for the character and a word or two."""
        canvas = self.canvas.size()
        return QSize(180, canvas.height()) if self.words else canvas

    def drawing(self) -> bool:
        """Whether frames are drawn now (visible, and its window not minimised)."""
        return self.isVisible() and not self.window().isMinimized()

    # ------------------------------------------------------------------ drawing

    def _background(self) -> QColor:
        colour = QColor(self.look.background)
        if colour.alpha() < 128:  # a see-through card: the window's own colour behind the character
            colour = self.palette().color(self.backgroundRole())
        colour.setAlpha(255)
        return colour

    def _params(self) -> tuple[FaceParams, RGB]:
        background = self._background()
        return face_params(self.look, self.frame), (
            background.redF(),
            background.greenF(),
            background.blueF(),
        )

    def _push(self) -> None:
        """Ask the canvas for a paint, unless nobody can see it (then the frame just waits)."""
        if not self.drawing():
            self.frames_skipped += 1
            return
        self.canvas.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        """Draw the card and the words; the canvas draws the character itself."""
        painter = QPainter(self)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            background = QColor(self.look.background)
            if background.alpha() > 0:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(background)
                painter.drawRoundedRect(QRectF(self.rect()).adjusted(1, 1, -1, -1), 10, 10)
            if self.words:
                self._paint_words(painter, background)
        finally:
            painter.end()

    def _paint_words(self, painter: QPainter, background: QColor) -> None:
        ink, muted = _readable_on(background)
        face = self.face_rect()
        left = self.canvas.geometry().right() + 8
        top = face.top()
        half = face.height() / 2
        text_width = max(0.0, self.width() - left - 12)
        name_font = QFont(self.font())
        name_font.setPointSizeF(self.font().pointSizeF() * 1.35)
        name_font.setWeight(QFont.Weight.DemiBold)
        painter.setFont(name_font)
        painter.setPen(ink)
        name = painter.fontMetrics().elidedText(self.name, Qt.TextElideMode.ElideRight, int(text_width))
        name_rect = QRectF(left, top + 4, text_width, half)
        painter.drawText(name_rect, name)
        used = painter.fontMetrics().horizontalAdvance(name)
        baseline = name_rect.top() + painter.fontMetrics().ascent()
        painter.setFont(self.font())
        painter.setPen(muted)
        if self.tagline and used + 24 < text_width:
            rest = int(text_width - used - 10)
            tagline = painter.fontMetrics().elidedText(f"— {self.tagline}", Qt.TextElideMode.ElideRight, rest)
            painter.drawText(QPointF(left + used + 10, baseline), tagline)
        caption_rect = QRectF(left, top + half + 2, text_width, half)
        caption = painter.fontMetrics().elidedText(self.caption, Qt.TextElideMode.ElideRight, int(text_width))
        painter.drawText(caption_rect, caption)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Keep the canvas on the left, centred vertically."""
        super().resizeEvent(event)
        left = CANVAS_LEFT if self.words else 0
        self.canvas.move(left, max(0, (self.height() - self.canvas.height()) // 2))

    # ------------------------------------------------------------------ visibility

    def showEvent(self, event: QShowEvent) -> None:
        """Watch the window for minimising, and draw the newest frame."""
        super().showEvent(event)
        window = self.window()
        if window is not self._watched:
            if self._watched is not None:
                self._watched.removeEventFilter(self)
            window.installEventFilter(self)
            self._watched = window
        self._visibility_changed()

    def hideEvent(self, event: QHideEvent) -> None:
        """Stop drawing while hidden."""
        super().hideEvent(event)
        self._visibility_changed()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Notice the window being minimised or restored."""
        if watched is self._watched and event.type() == QEvent.Type.WindowStateChange:
            self._visibility_changed()
        return False

    def _visibility_changed(self) -> None:
        drawing = self.drawing()
        if drawing == self._drawing:
            return
        self._drawing = drawing
        if drawing:
            self._push()
        self.sig_visibility_changed.emit(drawing)

    def _update_accessible_text(self) -> None:
        trust = ", imported (untrusted)" if not self.look.trusted else ""
        self.setAccessibleName(f"{self.name}{trust}")
        self.setAccessibleDescription(self.caption)
