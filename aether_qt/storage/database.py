"""Open Aether's SQLite databases safely: pragmas, health check, migrations.

``open_database`` is the one way the app opens ``aether.db`` (and, with
``synchronous="FULL"``, ``audit.db``). Problems of the environment (locked,
corrupt, unreadable, disk full, schema too new) come out as the typed errors of
:mod:`aether_qt.storage.errors`; anything else is a bug and propagates as is.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import peewee

from aether_qt.storage.errors import (
    DatabaseCorruptError,
    DatabaseUnreadableError,
    StorageError,
    translate_sqlite_error,
)
from aether_qt.storage.migrations import apply_migrations
from aether_qt.storage.statement_hook import HookedSqliteDatabase, StatementHook

__all__ = ["close_database", "open_database", "translate_sqlite_error"]

log = logging.getLogger(__name__)


def _check_location(path: Path) -> None:
    """Create the parent folder and refuse paths that cannot be a database file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise DatabaseUnreadableError(path, detail=f"cannot create folder: {exc.strerror or exc}") from exc
    if path.exists() and not path.is_file():
        raise DatabaseUnreadableError(path, detail="not a regular file")


def _quick_check(path: Path, *, timeout_s: float) -> None:
    """Run ``PRAGMA quick_check`` on a read-only connection; raise if SQLite reports damage.

    This runs before the pragmas of :func:`open_database`, because switching the
    journal mode writes to the file, and a damaged file must stay untouched.
    """
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout_s)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
        rows = conn.execute("PRAGMA quick_check").fetchall()
    finally:
        conn.close()
    problems = [str(row[0]) for row in rows if row and row[0] != "ok"]
    if problems:
        shown = "; ".join(problems[:3])
        raise DatabaseCorruptError(path, detail=f"integrity check failed: {shown}")


def _wall_ms() -> int:
    """Wall-clock milliseconds (migration records, backup names)."""
    return time.time_ns() // 1_000_000


def open_database(
    path: Path,
    *,
    migrations: Path,
    backups_dir: Path,
    busy_timeout_ms: int = 5000,
    synchronous: str = "NORMAL",
    clock_ms: Callable[[], int] = _wall_ms,
    statement_hook: StatementHook | None = None,
) -> peewee.SqliteDatabase:
    """Open (creating if needed) the database at ``path`` and bring its schema up to date.

    Pragmas: ``journal_mode=WAL``, ``foreign_keys=ON``, ``busy_timeout`` and
    ``synchronous``. An existing file is health-checked with ``PRAGMA
    quick_check`` before anything is written; pending migrations are applied
    after a backup copy of a database with data is made in ``backups_dir``.

    Args:
        path: the database file; its parent folder is created (mode 0700).
        migrations: folder of numbered ``NNNN_name.sql`` files.
        backups_dir: where pre-migration copies go.
        busy_timeout_ms: how long to wait for another connection's lock.
        synchronous: ``NORMAL`` for the app database, ``FULL`` for the audit log.
        clock_ms: wall clock in milliseconds (injected by tests).
        statement_hook: sees every statement before it runs and may make it fail (the
            fault sweep of the tests; see :mod:`aether_qt.storage.statement_hook`).

    Returns:
        A connected ``peewee.SqliteDatabase`` (connections are per thread).

    Raises:
        StorageError: one of its typed subclasses, naming ``path``.
    """
    if synchronous.upper() not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
        raise ValueError(f"unknown synchronous mode {synchronous!r}")
    _check_location(path)
    existed = path.is_file() and path.stat().st_size > 0
    pragmas = [
        ("busy_timeout", int(busy_timeout_ms)),  # first, so the next pragmas wait for locks
        ("foreign_keys", "ON"),
        ("journal_mode", "WAL"),
        ("synchronous", synchronous.upper()),
    ]
    options: dict[str, Any] = {"pragmas": pragmas, "timeout": busy_timeout_ms / 1000}
    if statement_hook is None:
        db = peewee.SqliteDatabase(str(path), **options)
    else:
        db = HookedSqliteDatabase(str(path), statement_hook=statement_hook, **options)
    try:
        if existed:
            _quick_check(path, timeout_s=busy_timeout_ms / 1000)
        db.connect()
        result = apply_migrations(
            db, path=path, migrations=migrations, backups_dir=backups_dir, clock_ms=clock_ms
        )
    except StorageError:
        db.close()
        raise
    except (sqlite3.Error, peewee.PeeweeException, OSError) as exc:
        db.close()
        raise translate_sqlite_error(exc, path) from exc
    if result.applied:
        log.info("database %s migrated from v%d to v%d", path.name, result.from_version, result.to_version)
    return db


def close_database(db: peewee.SqliteDatabase) -> None:
    """Close the calling thread's connection to ``db``; safe to call twice."""
    if not db.is_closed():
        db.close()
