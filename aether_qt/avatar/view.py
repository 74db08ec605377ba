"""The avatar as the app shows it: the character, the persona's name and tagline, and the turn state.

:class:`AvatarView` wraps one canvas (:class:`~aether_qt.avatar.gl_avatar.GlAvatar`
or :class:`~aether_qt.avatar.painter_avatar.PainterAvatar`, chosen by
:func:`~aether_qt.avatar.factory.make_avatar`) and owns what both need: the
persona's look, the newest :class:`BehaviorFrame` and whether drawing is worth
it. Frames that arrive while the window is hidden or minimised are kept, not
drawn; ``sig_visibility_changed`` tells the presence worker to pause. Until a
worker sends frames, :meth:`set_state` shows a still frame of the state's
behaviour. A new persona is drawn from the next frame on.

On the main window's *stage* the character is the centrepiece: it grows and
shrinks with the widget (between :data:`STAGE_MIN_FACE` and
:data:`STAGE_MAX_FACE` pixels) with the name, tagline, state and a note
("Microphone muted") centred under it. Whatever its size, the canvas is
repainted at most :data:`MAX_FPS` times a second (the presence worker sends 60
while speaking): the newest frame waits for the next slot, so a large avatar
costs a bounded share of the GUI thread. Only the canvas repaints for a frame;
the words repaint only when they change.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QElapsedTimer, QEvent, QObject, QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QHideEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QShowEvent,
)
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
MAX_FPS: Final = 30
STAGE_MIN_FACE: Final = 56
STAGE_MAX_FACE: Final = 300
"""The largest face on the stage: the GL shader runs per pixel (software GL on some machines)."""
STAGE_MARGIN: Final = 12

Canvas = GlAvatar | PainterAvatar


def _readable_on(background: QColor) -> tuple[QColor, QColor]:
    """Name and caption colours that read well on ``background`` (dark text unless it is dark)."""
    if background.alpha() < 128 or background.lightnessF() > 0.55:
        return QColor("#1f2328"), QColor("#5f6670")
    return QColor("#f5f6f8"), QColor("#c9ced6")


def stage_face_size(width: int, height: int, words_height: int) -> int:
    """The face size that fits a ``width`` x ``height`` stage with ``words_height`` of words under it."""
    room = min(width - 2 * STAGE_MARGIN, height - words_height - 2 * STAGE_MARGIN)
    return max(STAGE_MIN_FACE, min(STAGE_MAX_FACE, int(room / 1.32)))


class AvatarView(QWidget):
    """The character on the left; with ``words``, the name, tagline and state on its right.

    With ``stage``, the character fills the widget and the words are centred under it.

    Signals:
        sig_visibility_changed(bool): True when the avatar can be seen again, False when its
            window is hidden or minimised (frames are then neither needed nor drawn).
    """

    sig_visibility_changed = Signal(bool)

    def __init__(
        self,
        canvas: Canvas,
        *,
        words: bool = True,
        stage: bool = False,
        max_fps: int = MAX_FPS,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("avatar_view")
        self.canvas = canvas
        canvas.setParent(self)
        self.words = words or stage
        self.stage = stage
        self.note = ""
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
        self._min_frame_ms = max(1, 1000 // max(1, max_fps))
        self._since_paint = QElapsedTimer()
        self._late = QTimer(self)  # draws the newest frame once the frame-rate slot comes round
        self._late.setSingleShot(True)
        self._late.timeout.connect(self._push)
        if stage:
            self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        else:
            policy = QSizePolicy.Policy.Expanding if words else QSizePolicy.Policy.Fixed
            self.setSizePolicy(policy, QSizePolicy.Policy.Fixed)
        if not self.words:
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

    def set_note(self, note: str) -> None:
        """Show ``note`` under the state ("Microphone muted"); ``""`` clears it."""
        if note != self.note:
            self.note = note
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
        if self.stage:
            return QSize(360, 400)
        canvas = self.canvas.size()
        return QSize(320, canvas.height()) if self.words else canvas

    def minimumSizeHint(self) -> QSize:
        """Room for the character and a word or two (on the stage: the smallest face and its words)."""
        if self.stage:
            side = stage_face_size(0, 0, 0)
            return QSize(side + 2 * STAGE_MARGIN + 40, side + self._words_height() + 2 * STAGE_MARGIN)
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
        """Ask the canvas for a paint, unless nobody can see it (then the frame just waits).

        At most :data:`MAX_FPS` paints a second: a frame that comes sooner is drawn
        when the slot comes round (a newer frame replaces it meanwhile).
        """
        if not self.drawing():
            self.frames_skipped += 1
            return
        if self._since_paint.isValid() and self._since_paint.elapsed() < self._min_frame_ms:
            if not self._late.isActive():
                self._late.start(self._min_frame_ms - int(self._since_paint.elapsed()))
            return
        self._since_paint.start()
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
            if self.stage:
                self._paint_stage_words(painter, background)
            elif self.words:
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
        painter.setFont(self._name_font())
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

    def _name_font(self) -> QFont:
        font = QFont(self.font())
        font.setPointSizeF(self.font().pointSizeF() * (1.6 if self.stage else 1.35))
        font.setWeight(QFont.Weight.DemiBold)
        return font

    def _words_height(self) -> int:
        """Room under the stage's character: the name, the tagline, the state and the note."""
        line = QFontMetrics(self.font()).lineSpacing()
        return QFontMetrics(self._name_font()).lineSpacing() + 3 * line + 10

    def _paint_stage_words(self, painter: QPainter, background: QColor) -> None:
        ink, muted = _readable_on(background)
        width = max(0, self.width() - 2 * STAGE_MARGIN)
        top = self.canvas.geometry().bottom() + 6
        centre = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
        painter.setFont(self._name_font())
        painter.setPen(ink)
        name = painter.fontMetrics().elidedText(self.name, Qt.TextElideMode.ElideRight, width)
        painter.drawText(QRectF(STAGE_MARGIN, top, width, painter.fontMetrics().height()), centre, name)
        top += painter.fontMetrics().lineSpacing()
        painter.setFont(self.font())
        metrics = painter.fontMetrics()
        warning = QColor("#b3261e") if ink.lightnessF() < 0.5 else QColor("#ff8a80")  # readable on the card
        lines = [(self.tagline, muted), (self.caption, ink), (self.note, warning)]
        for text, colour in lines:
            if not text:
                continue
            painter.setPen(colour)
            shown = metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
            painter.drawText(QRectF(STAGE_MARGIN, top, width, metrics.height()), centre, shown)
            top += metrics.lineSpacing()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Keep the canvas on the left, centred vertically (on the stage: sized to fit, centred)."""
        super().resizeEvent(event)
        if self.stage:
            words = self._words_height()
            face = stage_face_size(self.width(), self.height(), words)
            if face != self.canvas.face_size:
                self.canvas.set_face_size(face)
            side = self.canvas.height()
            top = max(0, (self.height() - side - words) // 2)
            self.canvas.move(max(0, (self.width() - side) // 2), top)
            return
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
        self.setAccessibleDescription(f"{self.caption}. {self.note}" if self.note else self.caption)
