"""The conversation view: the avatar, the transcript and the input.

It drives a :class:`~aether_qt.widgets.ports.Conversation` (submit, cancel, answer)
and draws what the bus reports through a :class:`~aether_qt.core.bus.QtBusBridge`:
``turn.did_begin`` adds the bubbles, ``turn.did_change_state`` updates the
turn's label and the avatar, ``turn.did_show_phrase`` and
``router.did_stream_tokens`` fill the reply, ``turn.did_end`` finalises it, and
``approvals.did_open_ticket`` puts an approval card inline, and
``persona.did_activate`` gives the header the persona's name, tagline and look.
Regenerate, edit and resend, and Continue (asked by a message's buttons or
menu, or the window's menu) go to the conversation; editing puts the last
message back in the input with a bar saying so (Esc leaves it as it was).
Every method returns at once; nothing here waits. Without a conversation it
shows why (the header still follows the persona).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from aether_qt.avatar.factory import make_avatar
from aether_qt.core.events import (
    ActionFinished,
    Envelope,
    Payload,
    PersonaActivated,
    PhraseShown,
    SpeechHeard,
    TicketAnswered,
    TicketDescribed,
    TicketOpened,
    TokensStreamed,
    TurnBegan,
    TurnEnded,
    TurnStateChanged,
)
from aether_qt.core.turn_labels import describe_state
from aether_qt.policy.approvals import TicketError
from aether_qt.policy.decisions import Allow, ApprovalChoice
from aether_qt.widgets.conversation.message_actions import CONTINUE, EDIT, REGENERATE
from aether_qt.widgets.conversation.message_input import MessageInput
from aether_qt.widgets.conversation.transcript import FLUSH_MS, Transcript
from aether_qt.widgets.trust.approval_card import CHOICES, NOT_ANSWERED, ApprovalCard, describe_decision

_log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from aether_qt.core.bus import QtBusBridge
    from aether_qt.storage.conversations import StoredMessage
    from aether_qt.widgets.ports import Conversation

IDLE: Final = "Idle"
WAITING: Final = "AwaitingApproval"
"""The view's state while no turn runs and an approval card waits for the user."""
ChooseFolder = Callable[[QWidget, Path], Path | None]
"""Asks the user for a folder (parent, where to start); None when cancelled. Tests pass a lambda."""
TRANSCRIPT_MIN_HEIGHT: Final = 150
UNAVAILABLE_TEXT: Final = (
    "The conversation engine is not running in this window. Approvals, grants and the audit log "
    "still work in the trust centre."
)
CHOICE_WORDS: Final = {choice.value: label for choice, label in CHOICES}
DEFAULT_NAME: Final = "Aether"


def persona_name(persona: PersonaActivated) -> str:
    """The name to show for the active persona (the app's name when it has none)."""
    return persona.name.strip() or DEFAULT_NAME


def message_placeholder(name: str) -> str:
    """The input's placeholder for persona ``name`` ("Message Pip…")."""
    return f"Message {name}…"


EDITING_TEXT: Final = "Editing your last message: Enter sends it in place of the old one and its reply."


def note_bar(name: str, colours: tuple[str, str], label: QLabel, button: QPushButton) -> QFrame:
    """A hidden strip above the input: a sentence and one button (background and text ``colours``)."""
    bar = QFrame()
    bar.setObjectName(name)
    background, text = colours
    bar.setStyleSheet(
        f"QFrame#{name} {{ background: {background}; border-radius: 6px; }}"
        f"QFrame#{name} QLabel {{ color: {text}; }}"
    )
    row = QHBoxLayout(bar)
    row.setContentsMargins(10, 4, 6, 4)
    label.setWordWrap(True)
    row.addWidget(label, 1)
    row.addWidget(button)
    bar.hide()
    return bar


REFUSED_WORDS: Final = {
    ApprovalChoice.DENY.value: "You said no, so nothing was done.",
    ApprovalChoice.DRAFT_ONLY.value: "Draft only: nothing was changed.",
}
"""The reply of a turn whose card the user refused."""


def choose_folder(parent: QWidget, start: Path) -> Path | None:
    """The folder picker of "Choose another folder" on an approval card."""
    chosen = QFileDialog.getExistingDirectory(parent, "Choose a folder for the file", str(start))
    return Path(chosen) if chosen else None


def unavailable_page() -> QFrame:
    """The calm placeholder shown instead of the transcript when there is no conversation."""
    frame = QFrame()
    frame.setObjectName("conversation_unavailable")
    frame.setStyleSheet("QFrame#conversation_unavailable { background: #f3f4f6; border-radius: 8px; }")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(24, 24, 24, 24)
    layout.addStretch(1)
    title = QLabel("Conversation unavailable")
    title.setAlignment(Qt.AlignmentFlag.AlignCenter)
    title.setStyleSheet("font-size: 15pt; font-weight: 600; color: #1f2328;")
    line = QLabel(UNAVAILABLE_TEXT)
    line.setObjectName("unavailable_text")
    line.setAlignment(Qt.AlignmentFlag.AlignCenter)
    line.setWordWrap(True)
    line.setStyleSheet("color: #5f6670;")
    layout.addWidget(title)
    layout.addWidget(line)
    layout.addStretch(2)
    return frame


class ConversationView(QWidget):
    """Avatar on top, transcript in the middle, the input at the bottom.

    With ``stage`` the avatar is made for the main window's stage (it scales, words
    under it) and left out of this view's layout: the window places it.

    Signals:
        sig_state_changed(str): the newest turn's state (``Idle`` when no turn runs,
            ``AwaitingApproval`` when none runs and an approval card waits).
        sig_ticket_answered(str, str): ticket id and a sentence about the decision.
    """

    sig_state_changed = Signal(str)
    sig_ticket_answered = Signal(str, str)

    def __init__(
        self,
        *,
        conversation: Conversation | None,
        bus_bridge: QtBusBridge | None,
        flush_ms: int = FLUSH_MS,
        stage: bool = False,
        choose_folder: ChooseFolder = choose_folder,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("conversation_view")
        self.choose_folder = choose_folder
        self._conversation = conversation if bus_bridge is not None else None
        self.current_turn: str | None = None
        self.left_turns: set[str] = set()  # turns of a conversation no longer shown: their events are dropped
        self.conversation_id = ""  # the conversation shown ("" when conversations are not kept)
        self._scroll_target = ""
        self.state = IDLE
        self.held_text: str | None = None
        self.avatar = make_avatar(stage=stage)
        self.transcript = Transcript(flush_ms=flush_ms)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.transcript)
        self.stack.addWidget(unavailable_page())
        self.held = self._held_bar()
        self.editing: str | None = None  # the turn whose message is being edited
        self.editing_bar = self._editing_bar()
        self.input = MessageInput()
        self.input.setToolTip(
            "Type a message; Enter sends, Shift+Enter starts a new line, Up edits the last one"
        )
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("send_button")
        self.send_button.setToolTip("Send the message (Enter)")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stop_button")
        self.stop_button.setToolTip("Cancel the running turn (Esc)")
        self.stop_button.hide()
        self.header = QHBoxLayout()
        self._build_layout(stage=stage)
        self.input.sig_send_requested.connect(self._on_input_send_requested)
        self.input.sig_escape_pressed.connect(self._on_input_escape_pressed)
        self.input.sig_long_paste_held.connect(self._on_input_long_paste_held)
        self.input.sig_edit_last_requested.connect(self._on_input_edit_last_requested)
        self.transcript.sig_action_requested.connect(self._on_transcript_action_requested)
        self.send_button.clicked.connect(self._on_send_button_clicked)
        self.stop_button.clicked.connect(self._on_stop_button_clicked)
        self._handlers: dict[type[Payload], Callable[[Envelope], None]] = {
            PersonaActivated: self._persona_activated
        }
        turn_handlers: dict[type[Payload], Callable[[Envelope], None]] = {
            TurnBegan: self._turn_began,
            TurnStateChanged: self._turn_state_changed,
            PhraseShown: self._phrase_shown,
            TokensStreamed: self._tokens_streamed,
            TurnEnded: self._turn_ended,
            TicketOpened: self._ticket_opened,
            TicketAnswered: self._ticket_answered,
            TicketDescribed: self._ticket_described,
            ActionFinished: self._action_finished,
            SpeechHeard: self._speech_heard,
        }
        if self._conversation is not None:
            self._handlers.update(turn_handlers)
        else:
            self._show_unavailable()
        if bus_bridge is not None:
            bus_bridge.sig_event_published.connect(self._on_bridge_event_published)
        self.setFocusProxy(self.input)

    def _build_layout(self, *, stage: bool) -> None:
        """The header with the avatar (unless the window's stage shows it), transcript, input row."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        self.header.setContentsMargins(0, 0, 0, 0)
        self.header.setSpacing(8)
        if not stage:
            self.header.addWidget(self.avatar, 1)
            layout.addLayout(self.header)
        self.stack.setMinimumHeight(TRANSCRIPT_MIN_HEIGHT)  # a few bubbles, however small the window
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.held)
        layout.addWidget(self.editing_bar)
        row = QHBoxLayout()
        row.setSpacing(6)
        row.addWidget(self.input, 1)
        row.addWidget(self.stop_button, 0, Qt.AlignmentFlag.AlignBottom)
        row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        layout.addLayout(row)
        for button in (self.send_button, self.stop_button):
            button.setFixedHeight(self.input.height())  # level with the one-line input

    @property
    def available(self) -> bool:
        """Whether a conversation is connected."""
        return self._conversation is not None

    def add_header_widget(self, widget: QWidget) -> None:
        """Put ``widget`` (the persona picker) on the right of the header, beside the avatar."""
        self.header.addWidget(widget, 0, Qt.AlignmentFlag.AlignVCenter)

    def running(self) -> bool:
        """Whether a turn is running (begun and not yet ended)."""
        return self.current_turn is not None

    def send(self) -> str | None:
        """Submit the typed text (and any held paste); ignore empty input. Returns the turn id."""
        conversation = self._conversation
        if conversation is None:
            return None
        typed = self.input.text()
        held = self.held_text
        text = held if held is not None and not typed.strip() else typed
        if held is not None and typed.strip():
            text = f"{typed}\n\n{held}"
        if not text.strip():
            return None
        editing, self.editing = self.editing, None
        if editing is not None:
            turn_id = conversation.edit_last(text)
        else:
            turn_id = conversation.submit(text, source="typed")
        self.input.clear()
        self.editing_bar.hide()
        self._drop_held()
        return turn_id

    def show_conversation(
        self, conversation_id: str, messages: Sequence[StoredMessage], *, at_message: str = ""
    ) -> None:
        """Show another conversation: its stored messages instead of the current transcript.

        A turn still running belongs to the conversation left (it was cancelled and is
        kept there): its remaining events are not drawn here, nor are those of a turn
        that began in another conversation (its ``turn.did_begin`` says which).
        ``at_message``: scroll to that message instead of the newest.
        """
        self.conversation_id = conversation_id
        self.left_turns.update(turn for turn, bubble in self.transcript.bubbles.items() if not bubble.ended)
        if self.current_turn is not None:
            self.left_turns.add(self.current_turn)
            self.current_turn = None
            self._set_state(IDLE)
        self.transcript.clear()
        self.transcript.show_messages(messages)
        self._scroll_target = at_message
        if at_message:  # once the new bubbles have their layout
            QTimer.singleShot(0, self._scroll_to_target)

    def _scroll_to_target(self) -> None:
        if self._scroll_target:
            self.transcript.scroll_to_message(self._scroll_target)

    # ------------------------------------------------------------------ message actions

    def copy_last_reply(self) -> bool:
        """Put the newest reply on the clipboard; False when there is none."""
        bubble = self.transcript.last_bubble()
        return bubble is not None and bubble.copy()

    def copy_selection(self) -> bool:
        """Copy the text selected in the transcript (Edit → Copy); False when nothing is selected."""
        for bubble in (*self.transcript.user_bubbles.values(), *self.transcript.bubbles.values()):
            if text := bubble.selected_text():
                QGuiApplication.clipboard().setText(text)
                return True
        return False

    def can_regenerate(self) -> bool:
        """Whether there is a last reply to write again (and no turn running)."""
        bubble = self.transcript.last_bubble()
        return self.available and bubble is not None and bubble.offers(REGENERATE)

    def can_edit_last(self) -> bool:
        """Whether there is a last message of the user to edit (and no turn running)."""
        user = self.transcript.last_user_bubble()
        return self.available and user is not None and user.offers(EDIT)

    def can_continue(self) -> bool:
        """Whether the last reply was cut and can be continued."""
        bubble = self.transcript.last_bubble()
        return self.available and bubble is not None and bubble.offers(CONTINUE)

    def regenerate(self) -> str | None:
        """Ctrl+R: answer the last message again; the new reply replaces the old one."""
        if self._conversation is None or not self.can_regenerate():
            return None
        return self._conversation.regenerate()

    def edit_last(self) -> bool:
        """Put the last message back in the input to edit it; Enter then replaces that exchange."""
        user = self.transcript.last_user_bubble()
        if user is None or not self.can_edit_last():
            return False
        self.editing = user.turn_id
        self.input.setPlainText(user.full_text)
        cursor = self.input.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        self.input.setTextCursor(cursor)
        self.editing_bar.show()
        self.input.setFocus()
        return True

    def stop_editing(self) -> None:
        """Leave the last message as it was."""
        self.editing = None
        self.editing_bar.hide()
        self.input.clear()

    def escape(self) -> bool:
        """Esc: leave an edit (the message stays as it was), else cancel the running turn; False: neither."""
        if self.editing is not None:
            self.stop_editing()
            return True
        return self.cancel_turn()

    def continue_reply(self) -> str | None:
        """Ask the model to go on with the last reply, cut at the length limit."""
        if self._conversation is None or not self.can_continue():
            return None
        return self._conversation.continue_reply()

    def cancel_turn(self) -> bool:
        """Cancel the running turn; False (nothing done) when none runs."""
        if self._conversation is None or not self.running():
            return False
        self._conversation.cancel()
        return True

    # ------------------------------------------------------------------ bus events

    def _on_bridge_event_published(self, env: Envelope) -> None:
        if env.turn_id and env.turn_id in self.left_turns:
            return
        handler = self._handlers.get(type(env.payload))
        if handler is not None:
            handler(env)

    def _turn_began(self, env: Envelope) -> None:
        assert isinstance(env.payload, TurnBegan)
        payload = env.payload
        if (
            payload.conversation_id
            and self.conversation_id
            and payload.conversation_id != self.conversation_id
        ):
            self.left_turns.add(payload.turn_id)  # it began in the conversation just left
            return
        at = datetime.fromtimestamp(env.emitted_at_ns / 1e9)
        self.transcript.begin_turn(
            payload.turn_id,
            payload.text,
            payload.source,
            at=at,
            replaces=payload.replaces,
            continues=payload.continues,
        )
        self.current_turn = payload.turn_id
        self._set_state("Thinking")

    def _speech_heard(self, env: Envelope) -> None:
        assert isinstance(env.payload, SpeechHeard)
        payload = env.payload
        self.transcript.show_hearing(None if payload.final else payload.text)

    def _turn_state_changed(self, env: Envelope) -> None:
        assert isinstance(env.payload, TurnStateChanged)
        payload = env.payload
        self.transcript.set_state(payload.turn_id, payload.state)
        if payload.turn_id == self.current_turn:
            self._set_state(payload.state)

    def _phrase_shown(self, env: Envelope) -> None:
        assert isinstance(env.payload, PhraseShown)
        payload = env.payload
        if payload.pool == "quote":  # a file's words: a labelled data block, never Aether's own
            self.transcript.add_quote(payload.turn_id, payload.text, source=payload.source)
        elif payload.pool == "notice":  # about the turn, not Aether's words: shown as its notice
            self.transcript.add_turn_notice(payload.turn_id, payload.text)
        else:
            self.transcript.add_phrase(payload.turn_id, payload.text)

    def _tokens_streamed(self, env: Envelope) -> None:
        assert isinstance(env.payload, TokensStreamed)
        self.transcript.append_tokens(env.payload.turn_id, env.payload.text)

    def _turn_ended(self, env: Envelope) -> None:
        assert isinstance(env.payload, TurnEnded)
        payload = env.payload
        self.transcript.end_turn(
            payload.turn_id,
            outcome=payload.outcome,
            final_state=payload.final_state,
            reply=payload.reply,
            notice=payload.notice,
            route=payload.route,
            cut=payload.cut,
        )
        if payload.turn_id == self.current_turn:
            self.current_turn = None
            self._set_state(self._resting_state())

    def _ticket_opened(self, env: Envelope) -> None:
        assert isinstance(env.payload, TicketOpened)
        card = ApprovalCard.from_event(env.payload, env.turn_id)
        card.sig_choice_made.connect(self._on_card_choice_made)
        card.sig_folder_create_requested.connect(self._on_card_folder_create_requested)
        card.sig_folder_choose_requested.connect(self._on_card_folder_choose_requested)
        self.transcript.add_card(card)
        if not self.running():
            self._set_state(WAITING)

    def _ticket_described(self, env: Envelope) -> None:
        assert isinstance(env.payload, TicketDescribed)
        card = self.transcript.cards.get(env.payload.ticket_id)
        if card is not None:
            card.describe(env.payload)

    def _action_finished(self, env: Envelope) -> None:
        assert isinstance(env.payload, ActionFinished)
        payload = env.payload
        self.transcript.show_action_result(payload.turn_id, payload.summary, ok=payload.ok)

    def _persona_activated(self, env: Envelope) -> None:
        assert isinstance(env.payload, PersonaActivated)
        self.avatar.set_persona(env.payload)
        if self._conversation is not None:  # the input and the empty transcript name whom you talk to
            name = persona_name(env.payload)
            self.input.setPlaceholderText(message_placeholder(name))
            self.transcript.set_persona_name(name)

    def _ticket_answered(self, env: Envelope) -> None:
        assert isinstance(env.payload, TicketAnswered)
        card = self.transcript.cards.get(env.payload.ticket_id)
        if card is not None and not card.answered:
            card.show_result(f"Answered: {CHOICE_WORDS.get(env.payload.choice, env.payload.choice)}")
            self._end_refused(card, env.payload.choice)
        self._settle()

    def _end_refused(self, card: ApprovalCard, choice: str) -> None:
        """A refused card's turn waits no more: its reply says nothing was done."""
        said = REFUSED_WORDS.get(choice)
        if said is not None and card.turn_id:
            self.transcript.show_action_result(card.turn_id, said, ok=True)

    # ------------------------------------------------------------------ state

    def _set_state(self, state: str) -> None:
        self.state = state
        self.avatar.set_state(state, describe_state(state))
        self.stop_button.setVisible(self.running())
        self.sig_state_changed.emit(state)

    def waiting_for_answer(self) -> bool:
        """Whether an approval card in the transcript waits for the user's answer."""
        return any(not card.answered for card in self.transcript.cards.values())

    def _resting_state(self) -> str:
        return WAITING if self.waiting_for_answer() else IDLE

    def _settle(self) -> None:
        """Between turns, show "Waiting for your OK" exactly while a card waits."""
        if not self.running() and self.state != self._resting_state():
            self._set_state(self._resting_state())

    def _show_unavailable(self) -> None:
        self.stack.setCurrentIndex(1)
        self.input.setEnabled(False)
        self.input.setPlaceholderText("Conversation unavailable")
        self.send_button.setEnabled(False)
        self.avatar.set_state("Unavailable", "Conversation unavailable")

    def _held_bar(self) -> QFrame:
        self.held_label = QLabel("")
        self.held_label.setObjectName("held_paste_text")
        self.held_remove = QPushButton("Remove")
        self.held_remove.setToolTip("Do not send the long text you pasted")
        self.held_remove.clicked.connect(self._on_held_remove_clicked)
        return note_bar("held_paste", ("#fff4d6", "#7a4f00"), self.held_label, self.held_remove)

    def _editing_bar(self) -> QFrame:
        cancel = QPushButton("Cancel")
        cancel.setToolTip("Leave your last message as it was (Esc)")
        cancel.clicked.connect(self._on_editing_cancel_clicked)
        return note_bar("editing_bar", ("#eef4ff", "#14213d"), QLabel(EDITING_TEXT), cancel)

    def _drop_held(self) -> None:
        self.held_text = None
        self.held.hide()

    # ------------------------------------------------------------------ slots

    def _on_input_send_requested(self) -> None:
        self.send()

    def _on_send_button_clicked(self) -> None:
        self.send()
        self.input.setFocus()

    def _on_stop_button_clicked(self) -> None:
        self.cancel_turn()

    def _on_input_escape_pressed(self) -> None:
        self.escape()

    def _on_input_edit_last_requested(self) -> None:
        self.edit_last()

    def _on_editing_cancel_clicked(self) -> None:
        self.stop_editing()
        self.input.setFocus()

    def _on_transcript_action_requested(self, action: str, _turn_id: str) -> None:
        if action == REGENERATE:
            self.regenerate()
        elif action == EDIT:
            self.edit_last()
        elif action == CONTINUE:
            self.continue_reply()

    def _on_input_long_paste_held(self, text: str) -> None:
        self.held_text = text
        size = len(text.encode("utf-8", errors="replace")) / (1024 * 1024)
        self.held_label.setText(
            f"Long text pasted ({len(text):,} characters, {size:.1f} MB). It is too long to edit here; "
            "Enter sends it as it is, with anything you type."
        )
        self.held.show()

    def _on_held_remove_clicked(self) -> None:
        self._drop_held()
        self.input.setFocus()

    def _on_card_choice_made(self, ticket_id: str, choice: str) -> None:
        card = self.transcript.cards.get(ticket_id)
        if self._conversation is None or card is None:
            return
        try:
            decision = self._conversation.answer(ticket_id, ApprovalChoice(choice))
        except TicketError as exc:  # answered elsewhere meanwhile, or a scope that does not fit
            _log.info("ticket %s was not answered: %s", ticket_id, exc)
            text = NOT_ANSWERED
        else:
            text = describe_decision(decision)
            if not isinstance(decision, Allow):
                self._end_refused(card, choice)
        card.show_result(text)
        self._settle()
        self.sig_ticket_answered.emit(ticket_id, text)

    def _on_card_folder_create_requested(self, ticket_id: str) -> None:
        card = self.transcript.cards.get(ticket_id)
        if self._conversation is not None and card is not None:
            card.show_folder_note(self._conversation.create_folder(ticket_id))

    def _on_card_folder_choose_requested(self, ticket_id: str) -> None:
        card = self.transcript.cards.get(ticket_id)
        if self._conversation is None or card is None:
            return
        folder = self.choose_folder(self, Path.home())
        if folder is None:
            return
        card.show_result(self._conversation.move_to_folder(ticket_id, folder))
        self._settle()
        self.sig_ticket_answered.emit(ticket_id, "")
