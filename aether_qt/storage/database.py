"""Open Aether's SQLite databases safely: key, pragmas, health check, migrations.

``open_database`` is the one way the app opens ``aether.db`` (an SQLCipher file
when a :class:`~aether_qt.storage.cipher.DataKey` is given; the policy layer
always gives one, see :mod:`aether_qt.policy.app_data`), at ``synchronous=FULL``
like the audit log (docs/architecture.md, "Durability", says why). Problems of
the environment (locked, corrupt, unreadable, disk full, schema too new) come
out as the typed errors of
:mod:`aether_qt.storage.errors`; anything else is a bug and propagates as is.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import peewee
from playhouse.sqlcipher_ext import SqlCipherDatabase

from aether_qt.storage.cipher import DB_ERRORS, DRIVER_ERRORS, DataKey, connect_keyed, is_plaintext_sqlite
from aether_qt.storage.errors import (
    DatabaseCorruptError,
    DatabaseUnreadableError,
    DataKeyError,
    StorageError,
    translate_sqlite_error,
)
from aether_qt.storage.migrations import apply_migrations
from aether_qt.storage.statement_hook import HookedSqlCipherDatabase, HookedSqliteDatabase, StatementHook

__all__ = ["close_database", "open_database", "open_memory_database", "translate_sqlite_error"]

log = logging.getLogger(__name__)


_OPEN_ERRORS: tuple[type[BaseException], ...] = (*DB_ERRORS, OSError)


def _check_location(path: Path) -> None:
    """Create the parent folder and refuse paths that cannot be a database file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise DatabaseUnreadableError(path, detail=f"cannot create folder: {exc.strerror or exc}") from exc
    if path.exists() and not path.is_file():
        raise DatabaseUnreadableError(path, detail="not a regular file")


def _quick_check(path: Path, *, timeout_s: float, key: DataKey | None) -> None:
    """Run ``PRAGMA quick_check`` on a read-only connection; raise if SQLite reports damage.

    This runs before the pragmas of :func:`open_database`, because switching the
    journal mode writes to the file, and a damaged file must stay untouched. With
    a ``key``, a file SQLCipher cannot decrypt is a :class:`DataKeyError` (a wrong
    key and a damaged first page look the same), never a reason to write.

    A crash while a new file was still in rollback-journal mode (before
    ``journal_mode=WAL`` took effect: the first open of a home) leaves a hot
    journal, which a read-only connection cannot roll back
    (``SQLITE_READONLY_ROLLBACK``): the check then runs on a read-write
    connection, whose first read rolls the journal back. That restores the
    file as it was before the interrupted transaction and changes nothing else.
    """
    if key is not None and is_plaintext_sqlite(path):
        raise DataKeyError(path, detail="the file is not encrypted yet")
    try:
        rows = _check_rows(path, read_only=True, timeout_s=timeout_s, key=key)
    except DRIVER_ERRORS as exc:
        if key is not None and "not a database" in str(exc):
            where = key.source.replace("_", " ")
            raise DataKeyError(
                path, detail=f"cannot be decrypted with the data key from the {where}"
            ) from None
        if not _hot_journal(path):
            raise
        rows = _check_rows(path, read_only=False, timeout_s=timeout_s, key=key)
    problems = [str(row[0]) for row in rows if row and row[0] != "ok"]
    if problems:
        shown = "; ".join(problems[:3])
        raise DatabaseCorruptError(path, detail=f"integrity check failed: {shown}")


def _check_rows(path: Path, *, read_only: bool, timeout_s: float, key: DataKey | None) -> list[Any]:
    """``PRAGMA quick_check`` rows of ``path`` (keyed with ``key``; ``mode=ro`` with ``read_only``)."""
    if key is None:
        uri = path.resolve().as_uri() + ("?mode=ro" if read_only else "")
        conn = sqlite3.connect(uri, uri=True, timeout=timeout_s)
        conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
    else:
        conn = connect_keyed(path, key, read_only=read_only, timeout_s=timeout_s)
    try:
        return list(conn.execute("PRAGMA quick_check").fetchall())
    finally:
        conn.close()


def _hot_journal(path: Path) -> bool:
    """Whether a rollback journal with content lies next to ``path`` (a crash in rollback mode)."""
    journal = path.with_name(f"{path.name}-journal")
    return journal.is_file() and journal.stat().st_size > 0


def _wall_ms() -> int:
    """Wall-clock milliseconds (migration records, backup names)."""
    return time.time_ns() // 1_000_000


def open_database(
    path: Path,
    *,
    migrations: Path,
    backups_dir: Path,
    busy_timeout_ms: int = 5000,
    synchronous: str = "FULL",
    clock_ms: Callable[[], int] = _wall_ms,
    key: DataKey | None = None,
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
        synchronous: ``FULL`` (the default): a commit that returned survives power
            loss, which acknowledged memories, grants, tickets and settings need.
            ``NORMAL`` is for scratch databases (benchmarks) only.
        clock_ms: wall clock in milliseconds (injected by tests).
        key: open (or create) an SQLCipher file keyed with it; ``None`` for plain SQLite.
            A plaintext file is refused with a key (encrypt it first:
            :func:`aether_qt.policy.app_data.encrypt_database`).
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
    if key is not None:
        pragmas.insert(0, ("cipher_log_level", "NONE"))  # a wrong key is our error to explain, not stderr's
        options["passphrase"] = key.sqlcipher_pragma()
    db: peewee.SqliteDatabase
    if statement_hook is None:
        db = (peewee.SqliteDatabase if key is None else SqlCipherDatabase)(str(path), **options)
    else:
        hooked = HookedSqliteDatabase if key is None else HookedSqlCipherDatabase
        db = hooked(str(path), statement_hook=statement_hook, **options)
    try:
        if existed:
            _quick_check(path, timeout_s=busy_timeout_ms / 1000, key=key)
        db.connect()
        result = apply_migrations(
            db, path=path, migrations=migrations, backups_dir=backups_dir, clock_ms=clock_ms, key=key
        )
    except StorageError:
        db.close()
        raise
    except _OPEN_ERRORS as exc:
        db.close()
        raise translate_sqlite_error(exc, path) from exc
    if result.applied:
        log.info("database %s migrated from v%d to v%d", path.name, result.from_version, result.to_version)
    return db


def open_memory_database(*, migrations: Path) -> peewee.SqliteDatabase:
    """An empty, migrated database in memory, shared by the process's threads; nothing touches the disk.

    It stands in for ``aether.db`` while that file is locked (no data key), so the
    app runs with nothing remembered and nothing saved. It lives while the
    opening thread's connection is open.
    """
    name = f"file:aether-stand-in-{uuid.uuid4().hex}?mode=memory&cache=shared"
    database = peewee.SqliteDatabase(name, uri=True, pragmas=[("foreign_keys", "ON")])
    database.connect()
    apply_migrations(database, path=Path(name), migrations=migrations, backups_dir=Path(), clock_ms=_wall_ms)
    return database


def close_database(db: peewee.SqliteDatabase) -> None:
    """Close the calling thread's connection to ``db``; safe to call twice."""
    if not db.is_closed():
        db.close()
