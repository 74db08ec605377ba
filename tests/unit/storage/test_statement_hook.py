"""The statement hook: every statement of a database passes it first, and a raising hook fails it."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import peewee
import pytest

from aether_qt.storage.errors import DatabaseUnreadableError, translate_sqlite_error
from aether_qt.storage.sql import execute
from aether_qt.storage.statement_hook import HookedConnection, HookedSqliteDatabase

OpenDb = Callable[..., peewee.SqliteDatabase]


class Recorder:
    """A hook that keeps ``(database, sql)`` and raises "disk I/O error" on a chosen statement."""

    def __init__(self, fail_on: str = "") -> None:
        self.seen: list[tuple[str, str]] = []
        self.fail_on = fail_on

    def __call__(self, database: str, sql: str) -> None:
        self.seen.append((database, sql))
        if self.fail_on and sql.startswith(self.fail_on):
            raise sqlite3.OperationalError("disk I/O error")


def test_without_a_hook_the_database_is_plain_peewee(open_db: OpenDb) -> None:
    db = open_db()
    assert type(db) is peewee.SqliteDatabase


def test_the_hook_sees_queries_and_transaction_control(open_db: OpenDb) -> None:
    hook = Recorder()
    db = open_db(statement_hook=hook)
    assert isinstance(db, HookedSqliteDatabase)
    hook.seen.clear()  # opening ran the migration runner on its own raw connection
    with db.atomic():
        execute(db, "INSERT INTO settings (key, value, updated_at_ms) VALUES (?, ?, ?)", ("k", '"v"', 1))
    rows = execute(db, "SELECT key, value FROM settings WHERE key = ?", ("k",))
    assert rows.fetchall() == [("k", '"v"')] and rows.description[0][0] == "key"
    assert list(execute(db, "SELECT key FROM settings")) == [("k",)]
    db.cursor().executemany("DELETE FROM settings WHERE key = ?", [("k",), ("other",)])
    assert [sql.split()[0] for _, sql in hook.seen] == [
        "BEGIN",
        "INSERT",
        "COMMIT",
        "SELECT",
        "SELECT",
        "DELETE",
    ]
    assert {name for name, _ in hook.seen} == {"aether.db"}


def test_a_raising_hook_fails_the_statement_as_sqlite_would(open_db: OpenDb) -> None:
    hook = Recorder(fail_on="COMMIT")
    db = open_db(statement_hook=hook)
    with pytest.raises(peewee.OperationalError, match="disk I/O error") as caught, db.atomic():
        execute(db, "INSERT INTO settings (key, value, updated_at_ms) VALUES ('k', '1', 1)")
    assert isinstance(translate_sqlite_error(caught.value, Path("aether.db")), DatabaseUnreadableError)
    hook.fail_on = ""
    assert execute(db, "SELECT count(*) FROM settings WHERE key = 'k'").fetchone() == (0,)  # rolled back


def test_a_hooked_connection_passes_every_statement(tmp_path: Path) -> None:
    hook = Recorder(fail_on="INSERT")
    conn = HookedConnection(sqlite3.connect(tmp_path / "audit.db", isolation_level=None), hook, "audit.db")
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.execute("BEGIN")
    assert conn.in_transaction
    with pytest.raises(sqlite3.OperationalError, match="disk I/O error"):
        conn.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    conn.execute("ROLLBACK")
    hook.fail_on = ""
    conn.executemany("INSERT INTO t VALUES (?)", [(1,), (2,)])
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)
    conn.close()
    assert [sql.split()[0] for _, sql in hook.seen] == [
        "CREATE", "BEGIN", "INSERT", "ROLLBACK", "INSERT", "SELECT",
    ]  # fmt: skip
