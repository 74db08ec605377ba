"""The user's conversations and their messages, in the encrypted app database (``db/0008_conversations.sql``).

Pure storage: no Qt, no gate. This is the app's own record of what the
transcript showed (like the tool calls waiting for approval), not a capability
of a persona; the model never reads it except through the conversation the
user chose to continue.

Durability: every write is one ``BEGIN IMMEDIATE`` transaction on a
``synchronous=FULL`` connection (docs/architecture.md, "Durability"), so a turn
recorded at its end, a rename or a delete survives a crash and a power cut, and
a crash never leaves half of one. A conversation's row appears with its first
message (an empty "new conversation" is never stored); its title is that first
user message, shortened, until the user renames it. Deleting a conversation
deletes its rows and takes their words out of the search index in the same
transaction.

Editing history: :meth:`ConversationStore.replace_from` drops a message and
everything after it in its conversation and appends the replacement in one
transaction (regenerate, edit and resend); :meth:`ConversationStore.turn_start`
finds the first message of a turn by its id.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import peewee

from aether_qt.storage.cipher import DB_ERRORS
from aether_qt.storage.errors import StorageError, translate_sqlite_error
from aether_qt.storage.sql import execute

Role = Literal["user", "assistant"]
UNTITLED: Final = "New conversation"
TITLE_CHARS: Final = 48
"""A title made from the first message is cut (at a word) to about this many characters."""
MAX_TITLE_CHARS: Final = 200
SNIPPET_TOKENS: Final = 12
UNKNOWN_TAINT: Final = "stored:unreadable"
"""The tag of a reply whose kept taint cannot be read: treated as untrusted, never as clean."""
_WORDS = re.compile(r"\w+", re.UNICODE)
_MESSAGE_COLUMNS = "id, conversation_id, role, text, created_at_ms, turn_id, outcome, route, taint"
_SUMMARY_COLUMNS = (
    "c.id, c.title, c.titled_by_user, c.created_at_ms, c.updated_at_ms,"
    " (SELECT count(*) FROM conversation_messages m WHERE m.conversation_id = c.id)"
)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def _new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def new_conversation_id() -> str:
    """A fresh conversation id (its row is stored with its first message)."""
    return _new_id("conv")


@dataclass(frozen=True, slots=True)
class ConversationSummary:
    """One conversation as the list shows it.

    Attributes:
        conversation_id: its stable id (never shown).
        title: the user's title, or the first message shortened.
        renamed: whether the user chose the title.
        created_at_ms, updated_at_ms: when it began and when its newest message was kept.
        messages: how many messages it holds.
    """

    conversation_id: str
    title: str
    renamed: bool
    created_at_ms: int
    updated_at_ms: int
    messages: int


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to keep.

    Attributes:
        role: ``user`` or ``assistant``.
        text: the words as the transcript showed them.
        created_at_ms: when it was said (wall clock).
        turn_id: the turn it belongs to (both messages of a turn share it; never shown).
        outcome: for a reply, how the turn ended (``Answered``, ``Cancelled``...).
        route: for a reply, where the answer came from, as the transcript said it.
        taint: for a reply, the provenance tags of the untrusted content it holds or came from.
    """

    role: Role
    text: str
    created_at_ms: int
    turn_id: str = ""
    outcome: str = ""
    route: str = ""
    taint: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredMessage(NewMessage):
    """A kept message: a :class:`NewMessage` with its place (built with keywords).

    Attributes:
        message_id: its stable id (never shown).
        conversation_id: the conversation it belongs to.
    """

    message_id: str
    conversation_id: str


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A message that matches a search, with where it is.

    Attributes:
        conversation_id, title: the conversation it is in.
        message_id: the message (to open the conversation at it).
        role: who said it.
        snippet: the words around the match.
        created_at_ms: when it was said.
    """

    conversation_id: str
    title: str
    message_id: str
    role: str
    snippet: str
    created_at_ms: int


def title_from(text: str, limit: int = TITLE_CHARS) -> str:
    """A conversation title from its first message: one line, cut at a word with an ellipsis."""
    flat = " ".join(text.split())
    if not flat:
        return UNTITLED
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] if " " in flat[:limit] else flat[:limit]
    return cut.rstrip(" ,.;:-") + "…"


def clean_title(title: str) -> str:
    """A title the user typed, on one line and at most :data:`MAX_TITLE_CHARS` characters.

    Raises:
        ValueError: nothing but spaces.
    """
    flat = " ".join(title.split())
    if not flat:
        raise ValueError("a conversation needs a title")
    return flat[:MAX_TITLE_CHARS]


def match_expression(query: str) -> str:
    """A safe FTS5 MATCH expression: every word of ``query`` as a quoted prefix ('' when none).

    Quoting turns FTS5 syntax (``AND``, ``NEAR``, ``*``, ``:``, quotes) into plain
    words, so what the user types can never raise a syntax error; all words must match.
    """
    return " ".join(f'"{word}"*' for word in _WORDS.findall(query.lower()))


def _tags(text: str) -> tuple[str, ...]:
    """The taint tags kept as a JSON list; a damaged value counts as untrusted content of unknown origin."""
    if not text:
        return ()
    try:
        tags = json.loads(text)
    except ValueError:
        return (UNKNOWN_TAINT,)
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        return (UNKNOWN_TAINT,)
    return tuple(tags)


def _message(row: Sequence[Any]) -> StoredMessage:
    return StoredMessage(
        message_id=str(row[0]),
        conversation_id=str(row[1]),
        role="user" if row[2] == "user" else "assistant",  # the table's CHECK allows only these two
        text=str(row[3]),
        created_at_ms=int(row[4]),
        turn_id=str(row[5]),
        outcome=str(row[6]),
        route=str(row[7]),
        taint=_tags(str(row[8])),
    )


def _summary(row: Sequence[Any]) -> ConversationSummary:
    return ConversationSummary(
        conversation_id=str(row[0]),
        title=str(row[1]),
        renamed=bool(row[2]),
        created_at_ms=int(row[3]),
        updated_at_ms=int(row[4]),
        messages=int(row[5]),
    )


class ConversationStore:
    """Conversations and messages in one app database; thread-safe (one connection per thread).

    Every method is one transaction. Database failures raise
    :class:`~aether_qt.storage.errors.StorageError` (a sentence for the user).

    Example::

        store = ConversationStore(database=runtime.database)
        cid = new_conversation_id()
        store.append(cid, [NewMessage("user", "hello", now), NewMessage("assistant", "Hi!", now)])
        store.search("hello")
    """

    def __init__(self, *, database: peewee.SqliteDatabase, clock_ms: Callable[[], int] = _wall_ms) -> None:
        """Bind the store to an open, migrated ``database``."""
        self._db = database
        self._path = Path(str(database.database))
        self._clock_ms = clock_ms

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn a database failure into a typed storage error (a sentence for the user)."""
        try:
            yield
        except StorageError:
            raise
        except DB_ERRORS as exc:
            raise translate_sqlite_error(exc, self._path) from exc

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return list(execute(self._db, sql, params).fetchall())

    # ------------------------------------------------------------------ reading

    def conversations(self, *, limit: int = 500) -> list[ConversationSummary]:
        """The stored conversations, the one with the newest message first."""
        order = "ORDER BY c.updated_at_ms DESC, c.seq DESC"
        sql = f"SELECT {_SUMMARY_COLUMNS} FROM conversations c {order} LIMIT ?"
        with self._errors():
            return [_summary(row) for row in self._rows(sql, (limit,))]

    def get(self, conversation_id: str) -> ConversationSummary | None:
        """One conversation, or None when it is not stored."""
        sql = f"SELECT {_SUMMARY_COLUMNS} FROM conversations c WHERE c.id = ?"
        with self._errors():
            rows = self._rows(sql, (conversation_id,))
        return _summary(rows[0]) if rows else None

    def messages(self, conversation_id: str) -> list[StoredMessage]:
        """Every message of a conversation, oldest first (empty when it is not stored)."""
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM conversation_messages WHERE conversation_id = ? ORDER BY seq"
        with self._errors():
            return [_message(row) for row in self._rows(sql, (conversation_id,))]

    def message(self, message_id: str) -> StoredMessage | None:
        """One message by its id, or None."""
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM conversation_messages WHERE id = ?"
        with self._errors():
            rows = self._rows(sql, (message_id,))
        return _message(rows[0]) if rows else None

    def turn_start(self, conversation_id: str, turn_id: str) -> StoredMessage | None:
        """The first message of turn ``turn_id`` in a conversation (its user message), or None."""
        sql = (
            f"SELECT {_MESSAGE_COLUMNS} FROM conversation_messages"
            " WHERE conversation_id = ? AND turn_id = ? ORDER BY seq LIMIT 1"
        )
        with self._errors():
            rows = self._rows(sql, (conversation_id, turn_id))
        return _message(rows[0]) if rows else None

    def last_opened(self) -> str | None:
        """The conversation opened (or written to) last: the one to show again after a restart."""
        sql = "SELECT id FROM conversations ORDER BY opened_at_ms DESC, seq DESC LIMIT 1"
        with self._errors():
            rows = self._rows(sql)
        return str(rows[0][0]) if rows else None

    def search(self, query: str, *, limit: int = 50) -> list[SearchHit]:
        """Messages of every conversation matching all words of ``query`` (prefixes), newest first."""
        expression = match_expression(query)
        if not expression:
            return []
        sql = (
            "SELECT c.id, c.title, m.id, m.role,"
            f" snippet(conversation_fts, 0, '', '', '…', {SNIPPET_TOKENS}), m.created_at_ms"
            " FROM conversation_fts JOIN conversation_messages m ON m.seq = conversation_fts.rowid"
            " JOIN conversations c ON c.id = m.conversation_id"
            " WHERE conversation_fts MATCH ? ORDER BY m.created_at_ms DESC, m.seq DESC LIMIT ?"
        )
        with self._errors():
            rows = self._rows(sql, (expression, limit))
        return [
            SearchHit(str(r[0]), str(r[1]), str(r[2]), str(r[3]), " ".join(str(r[4]).split()), int(r[5]))
            for r in rows
        ]

    # ------------------------------------------------------------------ writing

    def append(self, conversation_id: str, messages: Sequence[NewMessage]) -> tuple[StoredMessage, ...]:
        """Keep ``messages`` at the end of a conversation, creating it with its first message.

        A new conversation's title is its first user message, shortened. The
        conversation becomes the one opened last. One transaction: all or nothing.
        """
        if not messages:
            return ()
        with self._errors(), self._db.atomic("IMMEDIATE"):
            self._ensure(conversation_id, messages)
            return self._insert(conversation_id, messages)

    def replace_from(
        self, message_id: str, messages: Sequence[NewMessage]
    ) -> tuple[StoredMessage, ...] | None:
        """Drop ``message_id`` and every later message of its conversation, then append ``messages``.

        For regenerate (replace a reply) and edit and resend (replace a user message
        and what followed). One transaction. None when ``message_id`` is unknown
        (nothing changed).
        """
        with self._errors(), self._db.atomic("IMMEDIATE"):
            rows = self._rows(
                "SELECT conversation_id, seq FROM conversation_messages WHERE id = ?", (message_id,)
            )
            if not rows:
                return None
            conversation_id, seq = str(rows[0][0]), int(rows[0][1])
            execute(
                self._db,
                "DELETE FROM conversation_messages WHERE conversation_id = ? AND seq >= ?",
                (conversation_id, seq),
            )
            stored = self._insert(conversation_id, messages) if messages else ()
            self._touch(conversation_id)
            return stored

    def set_reply(self, turn_id: str, text: str, *, outcome: str = "") -> bool:
        """Make ``text`` the reply kept for turn ``turn_id`` (an approved action's result); False if unknown.

        The turn ended while its card waited, so its reply was kept empty then; the
        result arrives later and takes its place (and the search index follows).
        """
        with self._errors():
            cursor = execute(
                self._db,
                "UPDATE conversation_messages SET text = ?, outcome = coalesce(nullif(?, ''), outcome)"
                " WHERE turn_id = ? AND role = 'assistant'",
                (text, outcome, turn_id),
            )
        return cursor.rowcount > 0

    def rename(self, conversation_id: str, title: str) -> bool:
        """Give a conversation the user's title; False when it is not stored.

        Raises:
            ValueError: an empty title.
        """
        cleaned = clean_title(title)
        with self._errors():
            cursor = execute(
                self._db,
                "UPDATE conversations SET title = ?, titled_by_user = 1 WHERE id = ?",
                (cleaned, conversation_id),
            )
        return cursor.rowcount > 0

    def delete(self, conversation_id: str) -> bool:
        """Delete a conversation and its messages (their words leave the search index); False if unknown."""
        with self._errors(), self._db.atomic("IMMEDIATE"):
            execute(
                self._db, "DELETE FROM conversation_messages WHERE conversation_id = ?", (conversation_id,)
            )
            cursor = execute(self._db, "DELETE FROM conversations WHERE id = ?", (conversation_id,))
            return cursor.rowcount > 0

    def mark_opened(self, conversation_id: str) -> bool:
        """Make a stored conversation the one shown after a restart; False when it is not stored."""
        with self._errors():
            cursor = execute(
                self._db,
                "UPDATE conversations SET opened_at_ms = ? WHERE id = ?",
                (self._opened_ms(), conversation_id),
            )
        return cursor.rowcount > 0

    # ------------------------------------------------------------------ helpers

    def _opened_ms(self) -> int:
        """Now, but never before the newest ``opened_at_ms`` (a clock moved back keeps the order)."""
        rows = self._rows("SELECT coalesce(max(opened_at_ms), 0) FROM conversations")
        return max(self._clock_ms(), int(rows[0][0]) + 1)

    def _ensure(self, conversation_id: str, messages: Sequence[NewMessage]) -> None:
        first = next((m.text for m in messages if m.role == "user"), messages[0].text)
        now = self._clock_ms()
        execute(
            self._db,
            "INSERT OR IGNORE INTO conversations (id, title, created_at_ms, updated_at_ms, opened_at_ms)"
            " VALUES (?, ?, ?, ?, ?)",
            (conversation_id, title_from(first), messages[0].created_at_ms, now, self._opened_ms()),
        )
        self._touch(conversation_id)

    def _touch(self, conversation_id: str) -> None:
        """The conversation changed now and is the open one."""
        execute(
            self._db,
            "UPDATE conversations SET updated_at_ms = ?, opened_at_ms = ? WHERE id = ?",
            (self._clock_ms(), self._opened_ms(), conversation_id),
        )

    def _insert(self, conversation_id: str, messages: Sequence[NewMessage]) -> tuple[StoredMessage, ...]:
        stored: list[StoredMessage] = []
        for new in messages:
            if new.role not in ("user", "assistant"):
                raise ValueError(f"unknown role {new.role!r}")
            message = StoredMessage(
                message_id=_new_id("msg"),
                conversation_id=conversation_id,
                role=new.role,
                text=new.text,
                created_at_ms=new.created_at_ms,
                turn_id=new.turn_id,
                outcome=new.outcome,
                route=new.route,
                taint=tuple(new.taint),
            )
            execute(
                self._db,
                f"INSERT INTO conversation_messages ({_MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    message.message_id,
                    conversation_id,
                    message.role,
                    message.text,
                    message.created_at_ms,
                    message.turn_id,
                    message.outcome,
                    message.route,
                    json.dumps(list(message.taint)) if message.taint else "",
                ),
            )
            stored.append(message)
        return tuple(stored)


__all__ = [
    "UNTITLED",
    "ConversationStore",
    "ConversationSummary",
    "NewMessage",
    "SearchHit",
    "StoredMessage",
    "clean_title",
    "match_expression",
    "new_conversation_id",
    "title_from",
]
