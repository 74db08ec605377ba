"""The conversation list as the app uses it: each turn kept at its end, new, open, rename, delete, search.

:class:`ConversationService` is what the window's conversation list drives
(:class:`~aether_qt.widgets.ports.Conversations`). It sits between the
:class:`~aether_qt.storage.conversations.ConversationStore` (the rows in the
encrypted ``aether.db``) and the :class:`~.conductor.Conductor` (which
conversation new turns go into, and the model's history):

* the conductor hands every ended turn to :meth:`TurnRecorder.record` (on the
  thread that ran it), which keeps the question and the reply in the conversation the
  turn began in, in one transaction, before the window hears that the turn ended;
* opening a conversation resets the conductor's history to that conversation's
  last answered exchanges (with the taint they carried), so the model continues
  it; a new conversation starts with an empty history and is stored with its
  first message;
* at start, :meth:`ConversationService.resume` opens the conversation opened
  last, so a restart shows it again.

Every call is one short transaction on the calling (GUI) thread, like the
Costs tab's. Expected failures (a locked, full or damaged database) raise
:class:`~aether_qt.storage.errors.StorageError`, whose text is a sentence for
the user; a rename with an empty title raises :class:`ValueError`.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from aether_qt.core.bus import EventBus
from aether_qt.core.errors import ExplainedError
from aether_qt.core.events import ActionFinished, Envelope
from aether_qt.services.interaction.conductor import EndedTurn
from aether_qt.services.interaction.history import Exchange
from aether_qt.storage.conversations import (
    ConversationStore,
    ConversationSummary,
    NewMessage,
    SearchHit,
    StoredMessage,
    new_conversation_id,
)

_log = logging.getLogger(__name__)

ANSWERED = "Answered"


class ConversationTurns(Protocol):
    """What the service needs of the conductor: which conversation turns go into, and its history."""

    @property
    def conversation_id(self) -> str:
        """The conversation new turns go into."""
        ...

    def open_conversation(
        self, conversation_id: str, exchanges: tuple[Exchange, ...] = (), *, redo_last: bool = False
    ) -> None:
        """Continue ``conversation_id`` from ``exchanges`` (the model's history is reset).

        ``redo_last``: the last exchange is the conversation's last turn, so regenerate and
        edit and resend may replace it.
        """
        ...


class TurnRecorder:
    """Keeps each ended turn in the conversation it began in (the conductor's ``record``).

    A turn still running when its conversation is deleted ends after the delete;
    its record is dropped rather than bring the conversation back.
    """

    def __init__(self, store: ConversationStore) -> None:
        self._store = store
        self._deleted: set[str] = set()
        self._lock = threading.Lock()

    def record(self, turn: EndedTurn) -> None:
        """Keep the turn's question and reply (one transaction); called on the thread that ran it."""
        with self._lock:
            if turn.conversation_id in self._deleted:
                return
        messages = [
            NewMessage("user", turn.user, turn.began_ms, turn.turn_id),
            NewMessage(
                "assistant",
                turn.reply,
                turn.ended_ms,
                turn.turn_id,
                outcome=turn.outcome,
                route=turn.route,
                taint=turn.taint,
            ),
        ]
        replaced = self._store.turn_start(turn.conversation_id, turn.replaces) if turn.replaces else None
        if replaced is not None:  # regenerate, edit and resend, continue: in place of the old turn
            self._store.replace_from(replaced.message_id, messages)
        else:
            self._store.append(turn.conversation_id, messages)

    def follow(self, bus: EventBus) -> None:
        """Keep each approved action's result as the reply of the turn that asked (``ActionFinished``)."""
        bus.subscribe(ActionFinished.KIND, self._on_action_finished)

    def _on_action_finished(self, env: Envelope) -> None:
        finished = env.payload
        if not isinstance(finished, ActionFinished) or not finished.turn_id:
            return
        outcome = "Answered" if finished.ok else "Repaired"
        try:
            self._store.set_reply(finished.turn_id, finished.summary, outcome=outcome)
        except ExplainedError as exc:  # a full or locked database: the window shows the result anyway
            _log.warning("the action's result was not kept in its conversation: %s", exc)

    def deleted(self, conversation_id: str) -> None:
        """The user deleted this conversation: a turn that began in it is no longer kept."""
        with self._lock:
            self._deleted.add(conversation_id)


def exchanges_of(messages: list[StoredMessage]) -> tuple[Exchange, ...]:
    """The answered exchanges of a conversation, oldest first, as the model's history keeps them.

    A question counts with the reply of the same turn that follows it, when that
    turn was answered with words; the reply's kept taint comes back with it, so a
    reply written from a file is as untrusted after a restart as before.
    """
    exchanges: list[Exchange] = []
    question: StoredMessage | None = None
    for message in messages:
        if message.role == "user":
            question = message
            continue
        if (
            question is not None
            and question.turn_id == message.turn_id
            and message.outcome == ANSWERED
            and message.text.strip()
        ):
            exchanges.append(
                Exchange(
                    user=question.text, reply=message.text, sources=message.taint, turn_id=message.turn_id
                )
            )
        question = None
    return tuple(exchanges)


class ConversationService:
    """The conversation list over one store and one conductor (see the module docstring).

    Args:
        store: the conversations in the app database.
        turns: the conductor (which conversation turns go into, and the model's history).
        recorder: the conductor's ``record`` (told when a conversation is deleted).
    """

    def __init__(self, *, store: ConversationStore, turns: ConversationTurns, recorder: TurnRecorder) -> None:
        self._store = store
        self._turns = turns
        self._recorder = recorder

    def current(self) -> str:
        """The open conversation's id (it may not be stored yet: an empty new conversation)."""
        return self._turns.conversation_id

    def resume(self) -> list[StoredMessage]:
        """Open the conversation opened last (a new one when there is none); its messages to show."""
        last = self._store.last_opened()
        if last is None:
            self.new()
            return []
        return self.open(last)

    def conversations(self) -> list[ConversationSummary]:
        """The stored conversations, the one with the newest message first."""
        return self._store.conversations()

    def new(self) -> None:
        """Start a new, empty conversation: the model's history is cleared; stored with its first message."""
        self._turns.open_conversation(new_conversation_id(), ())

    def open(self, conversation_id: str) -> list[StoredMessage]:
        """Continue a stored conversation: the model's history becomes its last exchanges; its messages.

        An unknown id opens a new conversation (and returns no message).
        """
        messages = self._store.messages(conversation_id)
        if not messages and self._store.get(conversation_id) is None:
            self.new()
            return []
        self._open(conversation_id, messages)
        self._store.mark_opened(conversation_id)
        return messages

    def messages(self, conversation_id: str) -> list[StoredMessage]:
        """A conversation's messages, oldest first (without opening it)."""
        return self._store.messages(conversation_id)

    def rename(self, conversation_id: str, title: str) -> bool:
        """Give a conversation the user's title; False when it is not stored.

        Raises:
            ValueError: an empty title.
        """
        return self._store.rename(conversation_id, title)

    def delete(self, conversation_id: str) -> bool:
        """Delete a conversation and its messages; deleting the open one starts a new conversation."""
        self._recorder.deleted(conversation_id)
        deleted = self._store.delete(conversation_id)
        if conversation_id == self.current():
            self.new()
        return deleted

    def search(self, query: str) -> list[SearchHit]:
        """Messages of every conversation that match all words of ``query``, newest first."""
        return self._store.search(query)

    def forget_from_turn(self, turn_id: str) -> bool:
        """Drop turn ``turn_id`` and every later message of the open conversation; reset the history.

        For regenerate and edit-and-resend: the turn is then sent again as a new
        one, which is kept as usual when it ends. False when the turn is not stored.
        """
        conversation_id = self.current()
        start = self._store.turn_start(conversation_id, turn_id)
        if start is None:
            return False
        self._store.replace_from(start.message_id, [])
        self._open(conversation_id, self._store.messages(conversation_id))
        return True

    def _open(self, conversation_id: str, messages: list[StoredMessage]) -> None:
        """Hand the conductor the conversation's exchanges; its last turn can be redone when answered."""
        exchanges = exchanges_of(messages)
        redo_last = bool(exchanges) and bool(messages) and exchanges[-1].turn_id == messages[-1].turn_id
        self._turns.open_conversation(conversation_id, exchanges, redo_last=redo_last)
