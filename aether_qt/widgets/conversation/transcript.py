"""The transcript: user and assistant bubbles, streamed replies, per-turn state, inline cards.

Each turn owns two bubbles; streaming appends to the assistant bubble's pending
text and a single coalescing timer repaints dirty bubbles at most every
:data:`FLUSH_MS` milliseconds, so a fast token stream never rebuilds the
transcript nor repaints per token. Text from users and models is always shown as
plain text (never interpreted as rich text). Very long messages are shown
shortened; the full text is what was sent.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from aether_qt.core.turn_labels import describe_outcome, describe_state
from aether_qt.policy.provenance import describe_source
from aether_qt.widgets.trust.approval_card import ApprovalCard

FLUSH_MS: Final = 30
SHOWN_CHARS: Final = 2_000
"""How much of a user message a bubble shows; the rest is summarised in one line."""
REPLY_SHOWN_CHARS: Final = 100_000
BUBBLE_WIDTH_SHARE: Final = 0.8
TRANSCRIPT_BACKGROUND: Final = "#f3f4f6"
MUTED: Final = "#6b7280"
SOURCE_WORDS: Final = {"voice": "by voice", "quick_talk": "from quick talk", "cli": "from the terminal"}


def shortened(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` itself, or its first ``limit`` characters and a line saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…\n\n[{len(text) - limit:,} more characters not shown]"


class BubbleLabel(QLabel):
    """A word-wrapped plain-text label whose preferred width is its widest line.

    A plain word-wrapped ``QLabel`` prefers a narrow, balanced block; in a chat
    bubble that wastes space. The bubble's maximum width still caps it.
    """

    MEASURED_LINES: Final = 200

    def sizeHint(self) -> QSize:
        """Widest line (of the first :attr:`MEASURED_LINES`) by its wrapped height."""
        metrics = self.fontMetrics()
        lines = self.text().split("\n", self.MEASURED_LINES)[: self.MEASURED_LINES]
        width = max((metrics.horizontalAdvance(line) for line in lines), default=0) + 4
        margins = self.contentsMargins()
        width += margins.left() + margins.right()
        return QSize(width, self.heightForWidth(width))


def _plain_label(text: str = "", *, name: str = "", selectable: bool = False) -> QLabel:
    label = BubbleLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    if name:
        label.setObjectName(name)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class UserBubble(QFrame):
    """What the user said, right-aligned, shortened when it is very long."""

    def __init__(self, *, turn_id: str, text: str, source: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.turn_id = turn_id
        self.full_length = len(text)
        self.setObjectName("user_bubble")
        self.setStyleSheet(
            "QFrame#user_bubble { background: #dce8fb; border-radius: 12px; }"
            "QFrame#user_bubble QLabel { color: #14213d; background: transparent; }"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(2)
        self.text = _plain_label(shortened(text), name="user_text", selectable=True)
        layout.addWidget(self.text)
        if source in SOURCE_WORDS:
            caption = _plain_label(SOURCE_WORDS[source], name="user_source")
            caption.setStyleSheet(f"color: {MUTED}; font-size: 8pt;")
            layout.addWidget(caption)


def quote_caption(source: str, *, home: str | None = None) -> str:
    """The label above a quote: where the words come from, and that they are not Aether's."""
    return f"Quoted from {describe_source(source, home=home)} — data, not Aether's words"


class AssistantBubble(QFrame):
    """Aether's side of one turn: its state, muted phrases, quoted data, the streamed reply, a notice."""

    def __init__(self, *, turn_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.turn_id = turn_id
        self.state = ""
        self.outcome = ""
        self.ended = False
        self.result_shown = False  # an approved action's result is the reply
        self._chunks: list[str] = []
        self._dirty = False
        self.setObjectName("assistant_bubble")
        self.setStyleSheet(
            "QFrame#assistant_bubble { background: #ffffff; border: 1px solid #dfe3e8; border-radius: 12px; }"
            "QFrame#assistant_bubble QLabel { color: #1f2328; background: transparent; border: none; }"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 10)
        layout.setSpacing(4)
        self.state_label = _plain_label(describe_state("Thinking"), name="turn_state")
        self.state_label.setStyleSheet(f"color: {MUTED}; font-size: 8pt; font-weight: 600;")
        self.phrases = _plain_label(name="turn_phrases")
        self.phrases.setStyleSheet(f"color: {MUTED}; font-style: italic;")
        self.phrases.hide()
        self.quote = QFrame()
        self.quote.setObjectName("turn_quote")
        self.quote.setStyleSheet(
            "QFrame#turn_quote { background: #f6f8fa; border-left: 3px solid #8c959f; border-radius: 4px; }"
        )
        quote_layout = QVBoxLayout(self.quote)
        quote_layout.setContentsMargins(8, 4, 8, 6)
        quote_layout.setSpacing(2)
        self.quote_source = _plain_label(name="turn_quote_source")
        self.quote_source.setStyleSheet(f"color: {MUTED}; font-size: 8pt; font-weight: 600;")
        self.quote_text = _plain_label(name="turn_quote_text", selectable=True)
        self.quote_text.setStyleSheet("font-family: monospace;")
        quote_layout.addWidget(self.quote_source)
        quote_layout.addWidget(self.quote_text)
        self.quote.hide()
        self.reply = _plain_label(name="turn_reply", selectable=True)
        self.reply.hide()
        self.notice = _plain_label(name="turn_notice")
        self.notice.setStyleSheet(
            "color: #7a4f00; background: #fff4d6; border-radius: 6px; padding: 4px 6px;"
        )
        self.notice.hide()
        self.route = _plain_label(name="turn_route")
        self.route.setStyleSheet(f"color: {MUTED}; font-size: 8pt;")
        self.route.hide()
        for widget in (self.state_label, self.phrases, self.quote, self.reply, self.notice, self.route):
            layout.addWidget(widget)

    def show_route(self, caption: str) -> None:
        """Say where the answer came from and why ("Answered by lan (m) over the network"); "" hides it."""
        self.route.setText(caption)
        self.route.setVisible(bool(caption))

    def reply_text(self) -> str:
        """Everything streamed so far (or the final reply)."""
        return "".join(self._chunks)

    def set_state(self, state: str) -> None:
        """Show the turn's new state (ignored once the turn ended)."""
        if self.ended:
            return
        self.state = state
        self.state_label.setText(describe_state(state))

    def add_phrase(self, text: str) -> None:
        """Add an acknowledgement or progress phrase in the muted style."""
        current = self.phrases.text()
        self.phrases.setText(f"{current}\n{text}" if current else text)
        self.phrases.show()

    def show_quote(self, text: str, source: str) -> None:
        """Show untrusted data (a file's words) as a labelled quote, apart from the reply."""
        self.quote_source.setText(quote_caption(source))
        self.quote_text.setText(shortened(text))
        self.quote.show()

    def append(self, text: str) -> bool:
        """Queue streamed text; True when the bubble became dirty (needs a flush)."""
        if not text:
            return False
        self._chunks.append(text)
        was_dirty, self._dirty = self._dirty, True
        return not was_dirty

    def flush(self) -> None:
        """Show the queued text (one label update, whatever the number of tokens)."""
        if not self._dirty:
            return
        self._dirty = False
        text = self.reply_text()
        if len(self._chunks) > 1:
            self._chunks = [text]  # keep joins linear over a long stream
        self.reply.setText(shortened(text, REPLY_SHOWN_CHARS))
        self.reply.setVisible(bool(text))

    def finish(self, *, outcome: str, final_state: str, reply: str, notice: str) -> None:
        """Finalise: the reply is the authoritative text; show a non-plain outcome and a notice.

        An approved action's result that arrived first (the user answered the card
        before the turn's end reached the window) stays the reply.
        """
        if self.result_shown:
            return
        if reply and reply != self.reply_text():
            self._chunks = [reply]
            self._dirty = True
        self.flush()
        self.state = final_state
        self.outcome = outcome
        self.ended = True
        label = describe_outcome(outcome)
        self.state_label.setText(label)
        self.state_label.setVisible(bool(label))
        if notice:
            self.notice.setText(notice)
            self.notice.show()

    def show_result(self, text: str, *, ok: bool) -> None:
        """The answered approval's outcome is this turn's reply; a failure is labelled and ends the turn."""
        self.result_shown = True
        self._chunks = [text]
        self._dirty = True
        self.flush()
        self.notice.hide()  # "waiting for your OK" is over
        self.ended = True
        self.outcome = "Answered" if ok else "Error"
        self.state_label.setText("" if ok else "Not done")
        self.state_label.setVisible(not ok)


class Transcript(QScrollArea):
    """The scrolling list of turns; it follows the newest text unless the user scrolled up."""

    def __init__(self, *, flush_ms: int = FLUSH_MS, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("transcript")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.bubbles: dict[str, AssistantBubble] = {}
        self.user_bubbles: dict[str, UserBubble] = {}
        self.cards: dict[str, ApprovalCard] = {}
        self._dirty: list[AssistantBubble] = []
        self._follow = True
        holder = QWidget()
        holder.setObjectName("transcript_holder")
        holder.setStyleSheet(f"QWidget#transcript_holder {{ background: {TRANSCRIPT_BACKGROUND}; }}")
        self._layout = QVBoxLayout(holder)
        self._layout.setContentsMargins(14, 14, 14, 14)
        self._layout.setSpacing(10)
        self.empty = _plain_label(
            "Say something to Aether: type below and press Enter.", name="transcript_empty"
        )
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet(f"color: {MUTED}; padding: 24px;")
        self._layout.addWidget(self.empty)
        self._layout.addStretch(1)
        self.setWidget(holder)
        self.hearing: QLabel | None = None  # the live partial transcript while the key is held
        self.flush_timer = QTimer(self)
        self.flush_timer.setSingleShot(True)
        self.flush_timer.setInterval(flush_ms)
        self.flush_timer.timeout.connect(self._on_flush_timer_timeout)
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._on_scrollbar_range_changed)
        bar.valueChanged.connect(self._on_scrollbar_value_changed)

    # ------------------------------------------------------------------ turns

    def begin_turn(self, turn_id: str, text: str, source: str) -> AssistantBubble:
        """Add the user's bubble and an assistant bubble in the Thinking state (idempotent)."""
        if turn_id in self.bubbles:
            return self.bubbles[turn_id]
        if text:
            user = UserBubble(turn_id=turn_id, text=text, source=source)
            self.user_bubbles[turn_id] = user
            self._add_row(user, right=True)
        return self._assistant(turn_id)

    def set_state(self, turn_id: str, state: str) -> None:
        """Show the new state of turn ``turn_id``."""
        self._assistant(turn_id).set_state(state)

    def add_phrase(self, turn_id: str, text: str) -> None:
        """Show an acknowledgement or progress phrase in the turn's bubble."""
        self._assistant(turn_id).add_phrase(text)

    def add_quote(self, turn_id: str, text: str, *, source: str) -> None:
        """Show data the turn read (a file's words) as a labelled quote in the turn's bubble."""
        self._assistant(turn_id).show_quote(text, source)

    def append_tokens(self, turn_id: str, text: str) -> None:
        """Queue streamed reply text; the coalescing timer shows it."""
        bubble = self._assistant(turn_id)
        if bubble.append(text):
            self._dirty.append(bubble)
        if self._dirty and not self.flush_timer.isActive():
            self.flush_timer.start()

    def end_turn(
        self, turn_id: str, *, outcome: str, final_state: str, reply: str, notice: str, route: str = ""
    ) -> None:
        """Finalise the turn's bubble (outcome label, notice, where the answer came from)."""
        bubble = self._assistant(turn_id)
        bubble.finish(outcome=outcome, final_state=final_state, reply=reply, notice=notice)
        bubble.show_route(route)

    def show_action_result(self, turn_id: str, text: str, *, ok: bool) -> None:
        """Put the result of an approved action into the reply of turn ``turn_id`` (the turn that asked)."""
        self._assistant(turn_id).show_result(text, ok=ok)

    def show_hearing(self, text: str | None) -> None:
        """While push-to-talk is held: the words heard so far, live, on the user's side; None hides them."""
        if text is None:
            if self.hearing is not None:
                self.hearing.hide()
                self.hearing.setText("")
            return
        if self.hearing is None:
            self.hearing = _plain_label("", name="transcript_hearing")
            self.hearing.setStyleSheet(f"color: {MUTED}; font-style: italic; padding: 4px 10px;")
            self._add_row(self.hearing, right=True)
        self.hearing.setText(f"🎙 {text} …")
        self.hearing.show()

    def add_card(self, card: ApprovalCard) -> None:
        """Show an approval card inline, after the newest message."""
        if card.ticket_id in self.cards:
            return
        self.cards[card.ticket_id] = card
        self._add_row(card, right=False, wide=True)

    def add_notice(self, text: str) -> QLabel:
        """A centred note from the app itself (not from a turn)."""
        label = _plain_label(text, name="transcript_notice")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.setStyleSheet("color: #7a4f00; background: #fff4d6; border-radius: 6px; padding: 6px;")
        self._add_row(label, right=False, wide=True)
        return label

    def flush(self) -> None:
        """Show every queued token now."""
        dirty, self._dirty = self._dirty, []
        for bubble in dirty:
            bubble.flush()

    def is_empty(self) -> bool:
        """Whether no message has been shown yet."""
        return not self.bubbles and not self.cards

    # ------------------------------------------------------------------ layout

    def _assistant(self, turn_id: str) -> AssistantBubble:
        bubble = self.bubbles.get(turn_id)
        if bubble is None:  # events of a turn whose beginning we missed still get a bubble
            bubble = AssistantBubble(turn_id=turn_id)
            self.bubbles[turn_id] = bubble
            self._add_row(bubble, right=False)
        return bubble

    def _add_row(self, widget: QWidget, *, right: bool, wide: bool = False) -> None:
        self.empty.hide()
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        if wide:
            row.addWidget(widget, 1)
        else:
            widget.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
            widget.setMaximumWidth(self._bubble_width())
            if right:
                row.addStretch(1)
            row.addWidget(widget)
            if not right:
                row.addStretch(1)
        self._layout.insertLayout(self._layout.count() - 1, row)

    def _bubble_width(self) -> int:
        return max(200, int(self.viewport().width() * BUBBLE_WIDTH_SHARE))

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Keep bubbles at most :data:`BUBBLE_WIDTH_SHARE` of the visible width."""
        super().resizeEvent(event)
        width = self._bubble_width()
        for bubble in (*self.bubbles.values(), *self.user_bubbles.values()):
            bubble.setMaximumWidth(width)

    def _on_flush_timer_timeout(self) -> None:
        self.flush()

    def _on_scrollbar_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.verticalScrollBar().setValue(maximum)

    def _on_scrollbar_value_changed(self, value: int) -> None:
        self._follow = value >= self.verticalScrollBar().maximum() - 8
