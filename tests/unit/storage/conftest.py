"""Fixtures for storage tests: real SQLite files in ``tmp_path``, a fake clock."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import peewee
import pytest

from aether_qt.core.paths import migrations_dir
from aether_qt.storage.database import close_database, open_database

FIXED_MS = 1_700_000_000_123  # 2023-11-14T22:13:20.123Z


class FakeClock:
    """A wall clock in milliseconds that only moves when told to."""

    def __init__(self, start_ms: int = FIXED_MS) -> None:
        self.now_ms = start_ms

    def __call__(self) -> int:
        return self.now_ms

    def advance(self, ms: int) -> None:
        self.now_ms += ms


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def shipped_migrations(tmp_path: Path) -> Path:
    """A private copy of the app's real ``db/`` folder."""
    target = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), target)
    return target


@pytest.fixture
def backups(tmp_path: Path) -> Path:
    return tmp_path / "backups"


@pytest.fixture
def open_db(
    tmp_path: Path, shipped_migrations: Path, backups: Path, clock: FakeClock
) -> Iterator[Callable[..., peewee.SqliteDatabase]]:
    """Open databases under ``tmp_path`` (default: ``data/aether.db``); all are closed afterwards."""
    opened: list[peewee.SqliteDatabase] = []

    def _open(path: Path | None = None, **kwargs: object) -> peewee.SqliteDatabase:
        options: dict[str, object] = {
            "migrations": shipped_migrations,
            "backups_dir": backups,
            "clock_ms": clock,
        }
        options.update(kwargs)
        db = open_database(path or tmp_path / "data" / "aether.db", **options)  # type: ignore[arg-type]
        opened.append(db)
        return db

    yield _open
    for db in opened:
        close_database(db)


def _write_migration(folder: Path, filename: str, sql: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / filename
    path.write_text(sql, encoding="utf-8")
    return path


@pytest.fixture
def write_migration() -> Callable[[Path, str, str], Path]:
    """``write_migration(folder, "0001_x.sql", sql)`` creates a migration file."""
    return _write_migration
