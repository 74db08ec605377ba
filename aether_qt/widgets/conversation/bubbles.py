"""The bubbles of the transcript: the user's message and the assistant's streamed reply.

Text from users and models is always shown as plain text (never interpreted as
rich text); very long messages are shown shortened, the full text is what was
sent. Each bubble shows its time and offers Copy and a context menu
(:mod:`~aether_qt.widgets.conversation.message_actions`); an assistant bubble
also carries the turn's state, phrases, a quoted excerpt of data, its notice,
an approved action's result and, when the reply was cut, Continue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from aether_qt.core.turn_labels import describe_outcome, describe_state
from aether_qt.policy.provenance import describe_source
from aether_qt.widgets.conversation.message_actions import (
    CONTINUE,
    EDIT,
    REGENERATE,
    MessageBubble,
    deferred_context_menu,
    footer_button,
)

SHOWN_CHARS: Final = 2_000
"""How much of a user message a bubble shows; the rest is summarised in one line."""
REPLY_SHOWN_CHARS: Final = 100_000
BUBBLE_WIDTH_SHARE: Final = 0.8
TRANSCRIPT_BACKGROUND: Final = "#f3f4f6"
MUTED: Final = "#6b7280"
FOUND: Final = "#d99a00"
"""The outline of the message a search result opened."""
SOURCE_WORDS: Final = {"voice": "by voice", "quick_talk": "from quick talk", "cli": "from the terminal"}
CUT_TEXT: Final = "This reply was cut short: it reached the length limit."


def empty_text(name: str) -> str:
    """What the empty transcript says, for persona ``name``."""
    return f"Say something to {name}: type below and press Enter."


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


def plain_label(text: str = "", *, name: str = "", selectable: bool = False) -> QLabel:
    label = BubbleLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setWordWrap(True)
    deferred_context_menu(label)
    if name:
        label.setObjectName(name)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class UserBubble(MessageBubble):
    """What the user said, right-aligned, shortened when it is very long; the last one can be edited."""

    action = EDIT

    def __init__(
        self,
        *,
        turn_id: str,
        text: str,
        source: str,
        at: datetime | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(turn_id=turn_id, at=at, parent=parent)
        self.full_text = text
        self.full_length = len(text)
        self.edit_button = self.action_button
        self.setObjectName("user_bubble")
        self.setStyleSheet(
            "QFrame#user_bubble { background: #dce8fb; border-radius: 12px; }"
            "QFrame#user_bubble QLabel { color: #14213d; background: transparent; }"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(2)
        self.text = plain_label(shortened(text), name="user_text", selectable=True)
        self.labels.append(self.text)
        layout.addWidget(self.text)
        if source in SOURCE_WORDS:
            caption = plain_label(SOURCE_WORDS[source], name="user_source")
            caption.setStyleSheet(f"color: {MUTED}; font-size: 8pt;")
            layout.addWidget(caption)
        layout.addLayout(self.footer)

    def message_text(self) -> str:
        """What the user sent, in full."""
        return self.full_text


def quote_caption(source: str, *, home: str | None = None) -> str:
    """The label above a quote: where the words come from, and that they are not Aether's."""
    return f"Quoted from {describe_source(source, home=home)} — data, not Aether's words"


class AssistantBubble(MessageBubble):
    """Aether's side of one turn: its state, muted phrases, quoted data, the streamed reply, a notice.

    The last reply can be regenerated; a reply cut at the length limit says so and offers Continue.
    """

    action = REGENERATE

    def __init__(self, *, turn_id: str, at: datetime | None = None, parent: QWidget | None = None) -> None:
        super().__init__(turn_id=turn_id, at=at, parent=parent)
        self.state = ""
        self.outcome = ""
        self.ended = False
        self.cut = False
        self.regenerate_button = self.action_button
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
        self.state_label = plain_label(describe_state("Thinking"), name="turn_state")
        self.state_label.setStyleSheet(f"color: {MUTED}; font-size: 8pt; font-weight: 600;")
        self.phrases = plain_label(name="turn_phrases")
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
        self.quote_source = plain_label(name="turn_quote_source")
        self.quote_source.setStyleSheet(f"color: {MUTED}; font-size: 8pt; font-weight: 600;")
        self.quote_text = plain_label(name="turn_quote_text", selectable=True)
        self.quote_text.setStyleSheet("font-family: monospace;")
        quote_layout.addWidget(self.quote_source)
        quote_layout.addWidget(self.quote_text)
        self.quote.hide()
        self.reply = plain_label(name="turn_reply", selectable=True)
        self.reply.hide()
        self.notice = plain_label(name="turn_notice")
        self.notice.setStyleSheet(
            "color: #7a4f00; background: #fff4d6; border-radius: 6px; padding: 4px 6px;"
        )
        self.notice.hide()
        self.route = plain_label(name="turn_route")
        self.route.setStyleSheet(f"color: {MUTED}; font-size: 8pt;")
        self.route.hide()
        self.labels += [self.reply, self.quote_text]
        for widget in (self.state_label, self.phrases, self.quote, self.reply, self.notice, self.route):
            layout.addWidget(widget)
        layout.addWidget(self._cut_row())
        layout.addLayout(self.footer)

    def _cut_row(self) -> QFrame:
        """ "This reply was cut short" and a Continue button, shown under a cut reply."""
        self.cut_row = QFrame()
        self.cut_row.setObjectName("turn_cut")
        row = QHBoxLayout(self.cut_row)
        row.setContentsMargins(0, 0, 0, 0)
        self.cut_label = plain_label(CUT_TEXT, name="turn_cut_text")
        self.cut_label.setStyleSheet(f"color: {MUTED}; font-style: italic;")
        self.continue_button = footer_button(
            "Continue", "Ask Aether to go on with this reply where it stopped"
        )
        self.continue_button.setObjectName("continue_button")
        self.continue_button.setStyleSheet(
            "QToolButton { color: #0b57d0; background: #eef4ff; border: 1px solid #c7dafc;"
            " border-radius: 6px; padding: 2px 8px; }"
        )
        self.continue_button.clicked.connect(self._on_continue_button_clicked)
        row.addWidget(self.cut_label, 1)
        row.addWidget(self.continue_button, 0)
        self.cut_row.hide()
        return self.cut_row

    def message_text(self) -> str:
        """The reply (what was streamed so far, or the final reply)."""
        return self.reply_text().strip()

    def offers(self, action: str) -> bool:
        """Regenerate the last ended reply; Continue it when it was cut."""
        if not (self.last and self.ended):
            return False
        return action == REGENERATE or (action == CONTINUE and self.cut)

    def set_last(self, last: bool) -> None:
        """Offer Regenerate (and Continue on a cut reply) on the newest ended reply only."""
        super().set_last(last)
        self.cut_row.setVisible(self.cut and self.ended)
        self.continue_button.setVisible(self.offers(CONTINUE))

    def reopen(self) -> None:
        """A continuation began: the reply streams on; the cut note goes until it ends."""
        self.ended = False
        self.cut = False
        self.state_label.show()
        self.set_state("Thinking")
        self.set_last(self.last)

    def _on_continue_button_clicked(self) -> None:
        self.sig_action_requested.emit(CONTINUE, self.turn_id)

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

    def add_notice(self, text: str) -> None:
        """Add a line to the turn's notice (a line already there is not repeated)."""
        lines = [line for line in self.notice.text().split("\n") if line]
        if not text or text in lines:
            return
        self.notice.setText("\n".join((*lines, text)))
        self.notice.show()

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

    def finish(self, *, outcome: str, final_state: str, reply: str, notice: str, cut: bool = False) -> None:
        """Finalise: the reply is the authoritative text; show a non-plain outcome, a notice, a cut.

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
        self.cut = cut
        self.set_last(self.last)
        label = describe_outcome(outcome)
        self.state_label.setText(label)
        self.state_label.setVisible(bool(label))
        self.add_notice(notice)

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
