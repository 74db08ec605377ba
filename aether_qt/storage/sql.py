"""A typed way to run one SQL statement on a peewee database (peewee itself is untyped)."""

from __future__ import annotations

import sqlite3
from typing import Any, cast

import peewee


def execute(db: peewee.SqliteDatabase, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Cursor:
    """Run ``sql`` with ``params`` and return the cursor (errors propagate as peewee/sqlite3 errors)."""
    return cast(sqlite3.Cursor, db.execute_sql(sql, params))  # type: ignore[no-untyped-call]
