"""Fixtures for the memory engine tests: a migrated database, a fake clock, a tiny embedder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest
from memory_support import HashEmbedder

from aether_qt.core.paths import migrations_dir
from aether_qt.engines.memory.store import MemoryStore
from aether_qt.policy.contracts import FakeClock
from aether_qt.storage.database import close_database, open_database


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[peewee.SqliteDatabase]:
    database = open_database(
        tmp_path / "data" / "aether.db",
        migrations=migrations_dir(),
        backups_dir=tmp_path / "backups",
        clock_ms=lambda: 1_700_000_000_000,
    )
    yield database
    close_database(database)


@pytest.fixture
def store(db: peewee.SqliteDatabase, clock: FakeClock, embedder: HashEmbedder) -> MemoryStore:
    return MemoryStore(db, clock=clock, embedder=embedder, session_id="s1")
