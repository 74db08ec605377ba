"""Tests for aether_qt/engines/memory/retention.py and how the store applies it."""

from __future__ import annotations

import peewee
import pytest
from memory_support import HashEmbedder

from aether_qt.engines.memory.retention import (
    DAY_MS,
    Retention,
    expires_at,
    parse_retention,
    retention_from_days,
)
from aether_qt.engines.memory.store import MemoryStore
from aether_qt.policy.contracts import FakeClock
from aether_qt.storage.sql import execute


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("session", Retention("session")), ("forever", Retention("forever")), ("days:7", Retention("days", 7))],
)
def test_parse_round_trips(text: str, parsed: Retention) -> None:
    assert parse_retention(text) == parsed
    assert str(parsed) == text


@pytest.mark.parametrize("text", ["", "days:0", "days:-1", "days:x", "days:1000000", "Forever", "weeks:2"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="retention"):
        parse_retention(text)


def test_expires_at() -> None:
    assert expires_at(Retention("days", 2), 1000) == 1000 + 2 * DAY_MS
    assert expires_at(Retention("forever"), 1000) is None
    assert expires_at(Retention("session"), 1000) is None


def test_persona_retention_days() -> None:
    assert retention_from_days(None) == "forever"
    assert retention_from_days(0) == "session"
    assert retention_from_days(30) == "days:30"
    with pytest.raises(ValueError, match=">= 0"):
        retention_from_days(-1)


def test_expired_items_are_hidden_before_the_sweep(
    store: MemoryStore, db: peewee.SqliteDatabase, clock: FakeClock
) -> None:
    short = store.add("parking spot B12", retention="days:1")
    keep = store.add("my name is Ada", retention="forever")
    clock.advance(86_400)  # exactly at expiry: expired

    assert store.get(short.id) is None
    assert [i.id for i in store.list()] == [keep.id]
    assert [e["id"] for e in store.export()] == [keep.id]
    # not swept yet: the row is still there, untombstoned
    row = execute(db, "SELECT tombstoned_at_ms FROM memory_items WHERE id = ?", (short.id,)).fetchone()
    assert row[0] is None


def test_sweep_tombstones_expired(store: MemoryStore, db: peewee.SqliteDatabase, clock: FakeClock) -> None:
    short = store.add("parking spot B12", retention="days:1")
    store.add("my name is Ada")
    assert store.sweep() == 0
    clock.advance(86_401)
    assert store.sweep() == 1
    assert store.sweep() == 0
    fts = execute(db, "SELECT rowid FROM memory_fts WHERE memory_fts MATCH 'parking'").fetchall()
    assert fts == []
    clock.advance(10)
    assert store.purge(grace_s=5) == 1
    row = execute(db, "SELECT text, purged FROM memory_items WHERE id = ?", (short.id,)).fetchone()
    assert tuple(row) == ("", 1)


def test_reinforcement_does_not_extend_expiry(store: MemoryStore, clock: FakeClock) -> None:
    first = store.add("gate code 4411", retention="days:1")
    clock.advance(43_200)
    again = store.add("gate code 4411", retention="days:1")
    assert again.id == first.id and again.expires_at_ms == first.expires_at_ms


def test_session_items_live_only_in_their_session(db: peewee.SqliteDatabase, clock: FakeClock) -> None:
    first = MemoryStore(db, clock=clock, embedder=HashEmbedder(), session_id="run-1")
    item = first.add("we are debugging the printer", retention="session")
    assert first.get(item.id) is not None

    second = MemoryStore(db, clock=clock, embedder=HashEmbedder(), session_id="run-2")
    assert second.get(item.id) is None  # hidden even though no sweep ran
    assert second.sweep() == 1

    third = MemoryStore(db, clock=clock, embedder=HashEmbedder(), session_id="run-3")
    kept = third.add("temporary", retention="session")
    assert third.end_session() == 1
    assert third.get(kept.id) is None
