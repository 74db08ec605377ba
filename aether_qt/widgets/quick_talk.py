"""Quick talk: a small window by the tray with one input line and the streaming reply.

It shows only the reply of the turn it started (matched by the turn id
``Conversation.submit`` returns; events that arrive before ``submit`` returns are
matched by the turn's ``quick_talk`` source). A small avatar beside the title follows
the active persona and the turn's state. Enter sends, Esc hides it. Tokens
are coalesced like in the transcript: at most one repaint every
:data:`~aether_qt.widgets.conversation.transcript.FLUSH_MS` milliseconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPlainTextEdit, QToolButton, QVBoxLayout, QWidget

from aether_qt.avatar.factory import make_avatar
from aether_qt.core.events import (
    Envelope,
    PersonaActivated,
    PhraseShown,
    TokensStreamed,
    TurnBegan,
    TurnEnded,
    TurnStateChanged,
)
from aether_qt.core.turn_labels import describe_outcome, describe_state
from aether_qt.policy.provenance import describe_source
from aether_qt.widgets.conversation.bubbles import REPLY_SHOWN_CHARS, shortened
from aether_qt.widgets.conversation.message_input import MessageInput
from aether_qt.widgets.conversation.transcript import FLUSH_MS

if TYPE_CHECKING:
    from aether_qt.core.bus import QtBusBridge
    from aether_qt.widgets.ports import Conversation

SOURCE: Final = "quick_talk"
WIDTH: Final = 380
SCREEN_MARGIN: Final = 12


def quick_talk_title(name: str) -> str:
    """Quick talk's title for persona ``name`` ("Pip · quick talk")."""
    return f"{name} · quick talk"


def ask_placeholder(name: str) -> str:
    """Quick talk's input placeholder for persona ``name``."""
    return f"Ask {name}…"


class QuickTalk(QWidget):
    """The quick-talk tool window.

    Signals:
        sig_turn_finished(str, str): turn id and outcome of the quick-talk turn.
    """

    sig_turn_finished = Signal(str, str)

    def __init__(
        self,
        *,
        conversation: Conversation | None,
        bus_bridge: QtBusBridge | None,
        flush_ms: int = FLUSH_MS,
        parent: QWidget | None = None,
    ) -> None:
        flags = Qt.WindowType.Tool | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
        super().__init__(parent, flags)
        self.setObjectName("quick_talk")
        self.setWindowTitle(quick_talk_title("Aether"))
        self.setFixedWidth(WIDTH)
        self._conversation = conversation if bus_bridge is not None else None
        self.turn_id: str | None = None
        self._submitting = False
        self._chunks: list[str] = []
        self._build()
        self.flush_timer = QTimer(self)
        self.flush_timer.setSingleShot(True)
        self.flush_timer.setInterval(flush_ms)
        self.flush_timer.timeout.connect(self._on_flush_timer_timeout)
        self.escape = QShortcut(QKeySequence("Esc"), self)
        self.escape.activated.connect(self.hide)
        self.input.sig_escape_pressed.connect(self.hide)
        self.input.sig_send_requested.connect(self._on_input_send_requested)
        if bus_bridge is not None:
            bus_bridge.sig_event_published.connect(self._on_bridge_event_published)
        if self._conversation is None:
            self.input.setEnabled(False)
            self.input.setPlaceholderText("Conversation unavailable")
            self.state.setText("Conversation unavailable")
            self.avatar.set_state("Unavailable", "Conversation unavailable")

    def _build(self) -> None:
        frame = QFrame(self)
        frame.setObjectName("quick_talk_frame")
        frame.setStyleSheet(
            "QFrame#quick_talk_frame { background: #f7f8fa; border: 1px solid #b8bfc9; border-radius: 10px; }"
            "QFrame#quick_talk_frame QLabel { color: #5f6670; border: none; background: transparent; }"
        )
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(frame)
        layout = QVBoxLayout(frame)
        layout.setContentsMargins(12, 8, 12, 12)
        layout.setSpacing(6)
        top = QHBoxLayout()
        self.avatar = make_avatar(small=True)
        top.addWidget(self.avatar)
        self.title = QLabel(quick_talk_title("Aether"))
        self.title.setObjectName("quick_talk_title")
        self.title.setTextFormat(Qt.TextFormat.PlainText)  # a persona's name is the user's text
        self.title.setStyleSheet("font-weight: 600;")
        self.state = QLabel("")
        self.state.setObjectName("quick_talk_state")
        self.state.setTextFormat(Qt.TextFormat.PlainText)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Close (Esc)")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        top.addWidget(self.title)
        top.addStretch(1)
        top.addWidget(self.state)
        top.addWidget(close)
        layout.addLayout(top)
        self.reply = QPlainTextEdit()
        self.reply.setObjectName("quick_talk_reply")
        self.reply.setReadOnly(True)
        self.reply.setFixedHeight(150)
        self.reply.setPlaceholderText("The reply appears here.")
        self.reply.setStyleSheet(
            "QPlainTextEdit#quick_talk_reply { background: #ffffff; color: #1f2328;"
            " border: 1px solid #dfe3e8; border-radius: 8px; }"
        )
        layout.addWidget(self.reply)
        self.notice = QLabel("")
        self.notice.setObjectName("quick_talk_notice")
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self.notice.setWordWrap(True)
        self.notice.hide()
        layout.addWidget(self.notice)
        self.input = MessageInput(placeholder=ask_placeholder("Aether"), max_lines=3)
        layout.addWidget(self.input)
        self.setFocusProxy(self.input)

    def set_persona_name(self, name: str) -> None:
        """Title, window title and placeholder follow the active persona ``name``."""
        self.title.setText(quick_talk_title(name))
        self.setWindowTitle(quick_talk_title(name))
        if self._conversation is not None:
            self.input.setPlaceholderText(ask_placeholder(name))

    def reply_text(self) -> str:
        """The reply shown so far (including queued tokens)."""
        return "".join(self._chunks)

    def send(self) -> str | None:
        """Submit the input as a quick-talk turn; empty input is ignored. Returns the turn id."""
        text = self.input.text()
        if self._conversation is None or not text.strip():
            return None
        self.turn_id = None
        self._chunks = []
        self.reply.clear()
        self.notice.setText("")
        self.notice.hide()
        self._submitting = True
        try:
            turn_id = self._conversation.submit(text, source=SOURCE)
        finally:
            self._submitting = False
        if turn_id is not None:
            self.turn_id = turn_id
            self.input.clear()
        return turn_id

    def toggle(self, anchor: QRect | None = None) -> None:
        """Hide when shown, else show near ``anchor`` (the tray icon) and take the focus."""
        if self.isVisible():
            self.hide()
        else:
            self.show_near(anchor)

    def show_near(self, anchor: QRect | None = None) -> None:
        """Show by ``anchor`` (or the top-right corner of the screen) and focus the input."""
        self.adjustSize()
        self.move(self._position(anchor))
        self.show()
        self.raise_()
        self.activateWindow()
        self.input.setFocus()

    def _position(self, anchor: QRect | None) -> QPoint:
        screen = (
            QGuiApplication.screenAt(anchor.center()) if anchor is not None and anchor.isValid() else None
        )
        screen = screen or QGuiApplication.primaryScreen()
        area = screen.availableGeometry()
        size = self.size()  # after adjustSize(): the fixed width and the laid-out height
        x = area.right() - size.width() - SCREEN_MARGIN
        y = area.top() + SCREEN_MARGIN
        if anchor is not None and anchor.isValid():
            x = min(max(area.left(), anchor.center().x() - size.width() // 2), x)
            below = anchor.bottom() + 6
            y = below if anchor.center().y() < area.center().y() else anchor.top() - size.height() - 6
        return QPoint(x, max(area.top(), y))

    # ------------------------------------------------------------------ bus events

    def _mine(self, env: Envelope) -> bool:
        payload = env.payload
        if isinstance(payload, TurnBegan) and self._submitting and payload.source == SOURCE:
            self.turn_id = payload.turn_id  # the turn began before submit returned its id
        turn_id = getattr(payload, "turn_id", None)
        return turn_id is not None and turn_id == self.turn_id

    def _on_bridge_event_published(self, env: Envelope) -> None:
        if isinstance(env.payload, PersonaActivated):
            self.avatar.set_persona(env.payload)
            self.set_persona_name(env.payload.name.strip() or "Aether")
            return
        if self._conversation is None or not self._mine(env):
            return
        payload = env.payload
        if isinstance(payload, TurnStateChanged):
            self.state.setText(describe_state(payload.state))
            self.avatar.set_state(payload.state)
        elif isinstance(payload, PhraseShown) and payload.pool == "notice":
            self._add_notice(payload.text)
        elif isinstance(payload, PhraseShown) and not self._chunks:
            quoted = payload.pool == "quote"  # a file's words: labelled as data, never Aether's own
            label = f"[quoted from {describe_source(payload.source)}, data] " if quoted else ""
            self.reply.setPlaceholderText(label + payload.text)
        elif isinstance(payload, TokensStreamed):
            self._chunks.append(payload.text)
            if not self.flush_timer.isActive():
                self.flush_timer.start()
        elif isinstance(payload, TurnEnded):
            self._finish(payload)

    def _finish(self, payload: TurnEnded) -> None:
        if payload.reply:
            self._chunks = [payload.reply]
        self.flush_timer.stop()
        self._flush()
        self.state.setText(describe_outcome(payload.outcome) or describe_state("Idle"))
        self.avatar.set_state("Idle")
        self._add_notice(payload.notice)
        self.sig_turn_finished.emit(payload.turn_id, payload.outcome)

    def _add_notice(self, text: str) -> None:
        """Add a line to the notice under the reply (never the same line twice)."""
        lines = [line for line in self.notice.text().split("\n") if line]
        if text and text not in lines:
            self.notice.setText("\n".join((*lines, text)))
        self.notice.setVisible(bool(self.notice.text()))

    def _flush(self) -> None:
        text = self.reply_text()
        self._chunks = [text] if text else []
        self.reply.setPlainText(shortened(text, REPLY_SHOWN_CHARS))
        bar = self.reply.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _on_flush_timer_timeout(self) -> None:
        self._flush()

    def _on_input_send_requested(self) -> None:
        self.send()
