"""The transcript: user and assistant bubbles, streamed replies, per-turn state, inline cards.

Each turn owns two bubbles; streaming appends to the assistant bubble's pending
text and a single coalescing timer repaints dirty bubbles at most every
:data:`FLUSH_MS` milliseconds, so a fast token stream never rebuilds the
transcript nor repaints per token. Text from users and models is always shown as
plain text (never interpreted as rich text). Very long messages are shown
shortened; the full text is what was sent. Each message shows its time and
offers Copy and a context menu (:mod:`~aether_qt.widgets.conversation.message_actions`);
the newest exchange offers Edit and Regenerate, and a reply cut at the length
limit says so and offers Continue. A turn that ``replaces`` another (regenerate,
edit and resend) takes its place; one that ``continues`` a cut reply streams into
that reply's bubble.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

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
from aether_qt.widgets.trust.approval_card import ApprovalCard

if TYPE_CHECKING:
    from aether_qt.storage.conversations import StoredMessage

FLUSH_MS: Final = 30
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


def _plain_label(text: str = "", *, name: str = "", selectable: bool = False) -> QLabel:
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
        self.text = _plain_label(shortened(text), name="user_text", selectable=True)
        self.labels.append(self.text)
        layout.addWidget(self.text)
        if source in SOURCE_WORDS:
            caption = _plain_label(SOURCE_WORDS[source], name="user_source")
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
        self.cut_label = _plain_label(CUT_TEXT, name="turn_cut_text")
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


class Transcript(QScrollArea):
    """The scrolling list of turns; it follows the newest text unless the user scrolled up.

    Signals:
        sig_action_requested(str, str): a message asked for ``regenerate``, ``edit`` or ``continue``;
            the turn id.
    """

    sig_action_requested = Signal(str, str)

    def __init__(self, *, flush_ms: int = FLUSH_MS, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("transcript")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.bubbles: dict[str, AssistantBubble] = {}
        self.user_bubbles: dict[str, UserBubble] = {}
        self.cards: dict[str, ApprovalCard] = {}
        self.message_bubbles: dict[str, QWidget] = {}  # a stored message's id -> the bubble showing it
        self.order: list[str] = []  # the turns shown, oldest first
        self._continuing: dict[
            str, str
        ] = {}  # a continuation's turn id -> the turn whose reply it goes on with
        self._rows: dict[QWidget, QHBoxLayout] = {}
        self._dirty: list[AssistantBubble] = []
        self._follow = True
        holder = QWidget()
        holder.setObjectName("transcript_holder")
        holder.setStyleSheet(f"QWidget#transcript_holder {{ background: {TRANSCRIPT_BACKGROUND}; }}")
        self._layout = QVBoxLayout(holder)
        self._layout.setContentsMargins(14, 14, 14, 14)
        self._layout.setSpacing(10)
        self.empty = _plain_label(empty_text("Aether"), name="transcript_empty")
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

    def begin_turn(
        self,
        turn_id: str,
        text: str,
        source: str,
        *,
        at: datetime | None = None,
        replaces: str = "",
        continues: str = "",
    ) -> AssistantBubble:
        """Add the user's bubble and an assistant bubble in the Thinking state (idempotent).

        ``replaces``: that turn's bubbles go first (regenerate, edit and resend).
        ``continues``: no new bubble; this turn streams into that turn's reply.
        """
        if turn_id in self.bubbles or turn_id in self._continuing:
            return self._assistant(turn_id)
        if continues in self.bubbles:
            self._continuing[turn_id] = continues
            bubble = self.bubbles[continues]
            bubble.reopen()
            self._refresh_last()
            return bubble
        if replaces:
            self.remove_turn(replaces)
        if text:
            user = UserBubble(turn_id=turn_id, text=text, source=source, at=at)
            self.user_bubbles[turn_id] = user
            self._add_message(user, right=True)
        return self._assistant(turn_id, at=at)

    def remove_turn(self, turn_id: str) -> None:
        """Take a turn's bubbles out of the transcript (its exchange was replaced)."""
        for bubble in (self.user_bubbles.pop(turn_id, None), self.bubbles.pop(turn_id, None)):
            if bubble is None:
                continue
            if bubble in self._dirty:
                self._dirty.remove(bubble)
            row = self._rows.pop(bubble)
            row.removeWidget(bubble)
            self._layout.removeItem(row)
            row.deleteLater()
            bubble.deleteLater()
        self._continuing = {k: v for k, v in self._continuing.items() if v != turn_id}
        if turn_id in self.order:
            self.order.remove(turn_id)
        self._refresh_last()

    def last_bubble(self) -> AssistantBubble | None:
        """The newest reply, or None before the first."""
        return self.bubbles[self.order[-1]] if self.order else None

    def last_user_bubble(self) -> UserBubble | None:
        """The newest message of the user, when the newest turn has one."""
        return self.user_bubbles.get(self.order[-1]) if self.order else None

    def set_state(self, turn_id: str, state: str) -> None:
        """Show the new state of turn ``turn_id``."""
        self._assistant(turn_id).set_state(state)

    def add_phrase(self, turn_id: str, text: str) -> None:
        """Show an acknowledgement or progress phrase in the turn's bubble."""
        self._assistant(turn_id).add_phrase(text)

    def add_turn_notice(self, turn_id: str, text: str) -> None:
        """Show a notice about the turn (a message too long to read whole) in its bubble's notice."""
        self._assistant(turn_id).add_notice(text)

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
        self,
        turn_id: str,
        *,
        outcome: str,
        final_state: str,
        reply: str,
        notice: str,
        route: str = "",
        cut: bool = False,
    ) -> None:
        """Finalise the turn's bubble (outcome label, notice, where the answer came from, a cut)."""
        bubble = self._assistant(turn_id)
        bubble.finish(outcome=outcome, final_state=final_state, reply=reply, notice=notice, cut=cut)
        bubble.show_route(route)
        self._continuing.pop(turn_id, None)
        self._refresh_last()

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

    def set_persona_name(self, name: str) -> None:
        """The active persona is ``name``: the empty transcript invites the user to talk to it."""
        self.empty.setText(empty_text(name))

    def is_empty(self) -> bool:
        """Whether no message has been shown yet."""
        return not self.bubbles and not self.cards

    # ------------------------------------------------------------------ a stored conversation

    def clear(self) -> None:
        """Remove every message, card and note: the transcript of a new conversation."""
        self.flush_timer.stop()
        while self._layout.count() > 2:  # the empty label first, the stretch last
            item = self._layout.takeAt(1)
            row = item.layout() if item is not None else None
            while row is not None and row.count():
                child = row.takeAt(0)
                widget = child.widget() if child is not None else None
                if widget is not None:
                    widget.hide()
                    widget.deleteLater()
            if row is not None:
                row.deleteLater()
        self.bubbles.clear()
        self.user_bubbles.clear()
        self.cards.clear()
        self.message_bubbles.clear()
        self.order.clear()
        self._continuing.clear()
        self._rows.clear()
        self._dirty.clear()
        self.hearing = None
        self.empty.show()
        self._follow = True

    def show_messages(self, messages: Sequence[StoredMessage]) -> None:
        """Show a stored conversation's messages (after :meth:`clear`), each turn as it ended."""
        open_turn = ""
        for message in messages:
            turn_id = message.turn_id or message.message_id
            if message.role == "user":
                self._close_stored(open_turn)  # a question whose reply was not kept
                at = datetime.fromtimestamp(message.created_at_ms / 1000)
                self.begin_turn(turn_id, message.text, "typed", at=at)
                self.message_bubbles[message.message_id] = self.user_bubbles.get(turn_id) or self._assistant(
                    turn_id
                )
                open_turn = turn_id
                continue
            self.end_turn(
                turn_id,
                outcome=message.outcome,
                final_state=message.outcome,
                reply=message.text,
                notice="",
                route=message.route,
            )
            self.message_bubbles[message.message_id] = self._assistant(turn_id)
            open_turn = ""
        self._close_stored(open_turn)

    def _close_stored(self, turn_id: str) -> None:
        if turn_id:
            self.end_turn(turn_id, outcome="", final_state="", reply="", notice="")

    def scroll_to_message(self, message_id: str) -> bool:
        """Show a stored message's bubble near the top, outlined (a search result); False if not shown.

        The transcript then stops following the newest message until the user scrolls down.
        """
        bubble = self.message_bubbles.get(message_id)
        holder = self.widget()
        if bubble is None or holder is None:
            return False
        self._follow = False
        holder.adjustSize()
        top = bubble.mapTo(holder, bubble.rect().topLeft()).y()
        self.verticalScrollBar().setValue(max(0, top - self.viewport().height() // 4))
        bubble.setStyleSheet(
            f"{bubble.styleSheet()} QFrame#{bubble.objectName()} {{ border: 2px solid {FOUND}; }}"
        )
        return True

    # ------------------------------------------------------------------ layout

    def _assistant(self, turn_id: str, *, at: datetime | None = None) -> AssistantBubble:
        turn_id = self._continuing.get(turn_id, turn_id)
        bubble = self.bubbles.get(turn_id)
        if bubble is None:  # events of a turn whose beginning we missed still get a bubble
            bubble = AssistantBubble(turn_id=turn_id, at=at)
            self.bubbles[turn_id] = bubble
            self.order.append(turn_id)
            self._add_message(bubble, right=False)
            self._refresh_last()
        return bubble

    def _add_message(self, bubble: UserBubble | AssistantBubble, *, right: bool) -> None:
        bubble.sig_action_requested.connect(self.sig_action_requested)
        self._add_row(bubble, right=right)

    def _refresh_last(self) -> None:
        """Only the newest exchange offers Edit, Regenerate and Continue."""
        newest = self.order[-1] if self.order else None
        for turn_id, bubble in self.bubbles.items():
            bubble.set_last(turn_id == newest)
        running = newest is not None and not self.bubbles[newest].ended
        for turn_id, user in self.user_bubbles.items():
            user.set_last(turn_id == newest and not running)

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
        self._rows[widget] = row
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
