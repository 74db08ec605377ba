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

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from aether_qt.widgets.conversation.bubbles import (
    BUBBLE_WIDTH_SHARE,
    FOUND,
    MUTED,
    TRANSCRIPT_BACKGROUND,
    AssistantBubble,
    UserBubble,
    empty_text,
    plain_label,
)
from aether_qt.widgets.trust.approval_card import ApprovalCard

if TYPE_CHECKING:
    from aether_qt.storage.conversations import StoredMessage

FLUSH_MS: Final = 30


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
        self.empty = plain_label(empty_text("Aether"), name="transcript_empty")
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
            self.hearing = plain_label("", name="transcript_hearing")
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
        label = plain_label(text, name="transcript_notice")
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
