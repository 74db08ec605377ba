"""A hook that sees every SQL statement before SQLite runs it: the fault-injection point.

The fault sweep of the tests (``tests/adversarial/test_fault_sweep.py``) makes
the N-th statement of a user action fail with "disk I/O error", for every N,
the way SQLite's own I/O-error tests do. It does so through this hook, passed
as a parameter (``open_database(statement_hook=...)``,
``PolicyRuntime.open(statement_hook=...)``), so both databases of a home
(``aether.db`` through peewee, ``audit.db`` through its own connection) number
their statements on one counter. Production passes nothing and gets plain
peewee and sqlite3 objects: the wrappers below exist only when a hook is given.

The hook is called as ``hook(database, sql)`` (the file's name and the
statement's text, transaction control included: ``BEGIN``, ``COMMIT``,
``ROLLBACK``...) and raises to make the statement fail; the statement then does
not run. Statements a driver issues on its own (the pragmas of a new
connection, the migration runner's raw connection) do not pass through it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import peewee
from playhouse.sqlcipher_ext import SqlCipherDatabase

StatementHook = Callable[[str, str], None]
"""``hook(database, sql)``: called before each statement runs; raising makes it fail."""


class HookedCursor:
    """A DB-API cursor whose ``execute``/``executemany`` call the hook first; the rest is the cursor's."""

    def __init__(self, cursor: Any, hook: StatementHook, database: str) -> None:
        self._cursor = cursor
        self._hook = hook
        self._database = database

    def execute(self, sql: str, parameters: Any = (), /) -> HookedCursor:
        """Run one statement after the hook saw it."""
        self._hook(self._database, sql)
        self._cursor.execute(sql, parameters)
        return self

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> HookedCursor:
        """Run one statement for each set of parameters after the hook saw it (once)."""
        self._hook(self._database, sql)
        self._cursor.executemany(sql, parameters)
        return self

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class HookedConnection:
    """A :class:`sqlite3.Connection` whose statements pass the hook (the audit log's connection)."""

    def __init__(self, conn: sqlite3.Connection, hook: StatementHook, database: str) -> None:
        self._conn = conn
        self._hook = hook
        self._database = database

    @property
    def in_transaction(self) -> bool:
        """True while a transaction is open."""
        return self._conn.in_transaction

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        """Run one statement after the hook saw it."""
        self._hook(self._database, sql)
        return self._conn.execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        """Run one statement for each set of parameters after the hook saw it (once)."""
        self._hook(self._database, sql)
        return self._conn.executemany(sql, parameters)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


class _Hooked:
    """Mixed into a peewee database: every cursor calls ``statement_hook`` before a statement.

    peewee runs all of its statements (queries, ``BEGIN``, ``COMMIT``,
    ``ROLLBACK``, savepoints) through :meth:`cursor`, so wrapping it there is
    the one place that sees them all.
    """

    def __init__(self, database: str, *, statement_hook: StatementHook, **kwargs: Any) -> None:
        self.statement_hook = statement_hook
        self._name = Path(database).name
        super().__init__(database, **kwargs)  # type: ignore[call-arg]

    def cursor(self, named_cursor: Any = None) -> HookedCursor:
        """The connection's cursor, wrapped (see the class docstring)."""
        cursor = super().cursor(named_cursor)  # type: ignore[misc]
        return HookedCursor(cursor, self.statement_hook, self._name)


class HookedSqliteDatabase(_Hooked, peewee.SqliteDatabase):  # type: ignore[misc]
    """A plain SQLite database whose statements pass the hook."""


class HookedSqlCipherDatabase(_Hooked, SqlCipherDatabase):  # type: ignore[misc]
    """An SQLCipher database (``aether.db``) whose statements pass the hook."""


__all__ = [
    "HookedConnection",
    "HookedCursor",
    "HookedSqlCipherDatabase",
    "HookedSqliteDatabase",
    "StatementHook",
]
