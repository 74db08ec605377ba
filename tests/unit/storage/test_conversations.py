"""The conversation store: append, list, rename, delete, search, replace, on a real (migrated) database."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import peewee
import pytest

from aether_qt.storage.conversations import (
    UNKNOWN_TAINT,
    UNTITLED,
    ConversationStore,
    NewMessage,
    match_expression,
    new_conversation_id,
    title_from,
)
from aether_qt.storage.errors import StorageError
from aether_qt.storage.statement_hook import StatementHook


@pytest.fixture
def store(open_db: Callable[..., peewee.SqliteDatabase], clock: Any) -> ConversationStore:
    return ConversationStore(database=open_db(), clock_ms=clock)


def turn(user: str, reply: str, at: int, turn_id: str = "t1") -> list[NewMessage]:
    return [
        NewMessage("user", user, at, turn_id),
        NewMessage(
            "assistant", reply, at + 5, turn_id, outcome="Answered", route="Answered on this computer"
        ),
    ]


def test_a_conversation_is_stored_with_its_first_turn_and_titled_by_it(
    store: ConversationStore, clock: Any
) -> None:
    cid = new_conversation_id()
    assert store.get(cid) is None and store.messages(cid) == []
    stored = store.append(cid, turn("what should I cook tonight?", "Pasta!", clock()))
    assert [m.role for m in stored] == ["user", "assistant"]
    summary = store.get(cid)
    assert summary is not None
    assert summary.title == "what should I cook tonight?" and not summary.renamed
    assert summary.messages == 2
    messages = store.messages(cid)
    assert [(m.role, m.text, m.outcome) for m in messages] == [
        ("user", "what should I cook tonight?", ""),
        ("assistant", "Pasta!", "Answered"),
    ]
    assert messages[1].route == "Answered on this computer" and messages[0].turn_id == "t1"


def test_later_turns_keep_the_title_and_the_order(store: ConversationStore, clock: Any) -> None:
    cid = new_conversation_id()
    store.append(cid, turn("first question", "one", clock(), "t1"))
    clock.advance(1000)
    store.append(cid, turn("second question", "two", clock(), "t2"))
    assert [m.text for m in store.messages(cid)] == ["first question", "one", "second question", "two"]
    summary = store.get(cid)
    assert summary is not None and summary.title == "first question"


def test_titles_are_one_short_line() -> None:
    assert title_from("  hello\n\nthere  ") == "hello there"
    long = "please tell me everything you know about the history of the Byzantine empire"
    title = title_from(long)
    assert title.endswith("…") and len(title) <= 49 and long.startswith(title[:-1])
    assert title_from("   ") == UNTITLED
    assert title_from("x" * 100).endswith("…")


def test_the_list_puts_the_conversation_with_the_newest_message_first(
    store: ConversationStore, clock: Any
) -> None:
    a, b = new_conversation_id(), new_conversation_id()
    store.append(a, turn("alpha", "A", clock()))
    clock.advance(10)
    store.append(b, turn("beta", "B", clock()))
    assert [c.title for c in store.conversations()] == ["beta", "alpha"]
    clock.advance(10)
    store.append(a, turn("alpha again", "A2", clock(), "t2"))
    assert [c.title for c in store.conversations()] == ["alpha", "beta"]


def test_the_last_opened_conversation_is_the_one_to_show_after_a_restart(
    store: ConversationStore, clock: Any
) -> None:
    assert store.last_opened() is None
    a, b = new_conversation_id(), new_conversation_id()
    store.append(a, turn("alpha", "A", clock()))
    store.append(b, turn("beta", "B", clock()))  # same millisecond: still the newer one
    assert store.last_opened() == b
    assert store.mark_opened(a)
    assert store.last_opened() == a
    clock.now_ms -= 60_000  # the clock moved back: opening still moves forward
    assert store.mark_opened(b) and store.last_opened() == b
    assert not store.mark_opened("conv_unknown")


def test_rename_keeps_the_users_title(store: ConversationStore, clock: Any) -> None:
    cid = new_conversation_id()
    store.append(cid, turn("hello", "hi", clock()))
    assert store.rename(cid, "  Dinner   plans \n")
    store.append(cid, turn("more", "sure", clock(), "t2"))
    summary = store.get(cid)
    assert summary is not None and summary.title == "Dinner plans" and summary.renamed
    with pytest.raises(ValueError):
        store.rename(cid, "   ")
    assert not store.rename("conv_unknown", "x")


def test_delete_removes_the_rows_and_the_words_from_search(
    store: ConversationStore, clock: Any, open_db: Callable[..., peewee.SqliteDatabase]
) -> None:
    keep, gone = new_conversation_id(), new_conversation_id()
    store.append(keep, turn("the aubergine recipe", "bake it", clock()))
    store.append(gone, turn("my aubergine allergy", "noted", clock()))
    assert len(store.search("aubergine")) == 2
    assert store.delete(gone)
    assert store.get(gone) is None and store.messages(gone) == []
    assert [h.conversation_id for h in store.search("aubergine")] == [keep]
    assert store.search("allergy") == []
    db = open_db()
    rows = db.execute_sql("SELECT count(*) FROM conversation_messages WHERE conversation_id = ?", (gone,))
    assert rows.fetchone()[0] == 0
    integrity = db.execute_sql("INSERT INTO conversation_fts (conversation_fts) VALUES ('integrity-check')")
    assert integrity is not None  # raises when the index disagrees with the rows
    assert not store.delete(gone)


def test_search_finds_words_by_prefix_in_every_conversation(store: ConversationStore, clock: Any) -> None:
    a, b = new_conversation_id(), new_conversation_id()
    store.append(a, turn("plans for the weekend", "go hiking in the mountains", clock()))
    clock.advance(5_000)
    store.append(b, turn("buy milk and eggs", "added to your list", clock()))
    hits = store.search("mount")
    assert len(hits) == 1
    hit = hits[0]
    assert hit.conversation_id == a and hit.title == "plans for the weekend" and hit.role == "assistant"
    assert "mountains" in hit.snippet
    assert hit.message_id == store.messages(a)[1].message_id
    assert [h.conversation_id for h in store.search("MILK eggs")] == [b]
    assert store.search("milk weekend") == []  # every word must match one message
    assert store.search("   ") == [] and store.search('"*:^()') == []
    assert store.search('milk" OR "weekend') == []  # FTS syntax is plain text


def test_match_expression_quotes_every_word() -> None:
    assert match_expression('Milk AND "eggs"* NEAR(') == '"milk"* "and"* "eggs"* "near"*'
    assert match_expression("...") == ""


def test_replace_from_drops_a_message_and_everything_after_it(store: ConversationStore, clock: Any) -> None:
    cid = new_conversation_id()
    store.append(cid, turn("one", "reply one", clock(), "t1"))
    store.append(cid, turn("two", "reply two", clock(), "t2"))
    second_reply = store.messages(cid)[3]
    new = store.replace_from(second_reply.message_id, [NewMessage("assistant", "better two", clock(), "t2")])
    assert new is not None and [m.text for m in new] == ["better two"]
    assert [m.text for m in store.messages(cid)] == ["one", "reply one", "two", "better two"]
    start = store.turn_start(cid, "t1")
    assert start is not None and start.text == "one"
    assert store.replace_from(start.message_id, []) == ()
    assert store.messages(cid) == []
    assert store.search("reply") == []
    assert store.replace_from("msg_unknown", []) is None


def test_text_is_kept_exactly(store: ConversationStore, clock: Any) -> None:
    cid = new_conversation_id()
    text = "emoji 🎉, quotes ' \" ; DROP TABLE conversations; --\n\ttabs and\nnew lines"
    store.append(cid, turn(text, text, clock()))
    assert [m.text for m in store.messages(cid)] == [text, text]


def test_a_failed_write_keeps_nothing_and_says_so(
    open_db: Callable[..., peewee.SqliteDatabase], clock: Any
) -> None:
    failing = {"on": False}

    def hook(_database: str, sql: str) -> None:
        if failing["on"] and sql.lstrip().upper().startswith("INSERT INTO CONVERSATION_MESSAGES"):
            raise sqlite3.OperationalError("disk I/O error")

    typed_hook: StatementHook = hook
    store = ConversationStore(database=open_db(statement_hook=typed_hook), clock_ms=clock)
    cid = new_conversation_id()
    failing["on"] = True
    with pytest.raises(StorageError):
        store.append(cid, turn("lost", "also lost", clock()))
    failing["on"] = False
    assert store.get(cid) is None and store.messages(cid) == []  # not even the conversation row


def test_a_replys_taint_is_kept_and_a_damaged_one_stays_tainted(
    store: ConversationStore, clock: Any, open_db: Callable[..., peewee.SqliteDatabase]
) -> None:
    cid = new_conversation_id()
    tags = ("file:/home/me/My Documents/notes.txt", "remote:lan")
    store.append(
        cid,
        [
            NewMessage("user", "read it", clock(), "t1"),
            NewMessage("assistant", "ok", clock(), "t1", taint=tags),
        ],
    )
    user, reply = store.messages(cid)
    assert user.taint == () and reply.taint == tags
    open_db().execute_sql(
        "UPDATE conversation_messages SET taint = 'not json' WHERE id = ?", (reply.message_id,)
    )
    assert store.messages(cid)[1].taint == (UNKNOWN_TAINT,)
