"""The migration runner: numbered SQL files from ``db/`` applied once, in order.

Files are named ``NNNN_name.sql`` (``0001_init.sql``). Each applied file is
recorded in ``schema_migrations`` with its SHA-256, so editing a migration
after release is caught instead of silently diverging.

Safety rules:

* a database written by a newer app (higher version than any file here) is
  refused, never "downgraded";
* before changing a database that holds data, a copy is taken with SQLite's
  online backup API into the backups folder;
* all pending migrations run in one ``BEGIN IMMEDIATE`` transaction on the
  autocommit connection (``executescript`` would commit on its own), so a
  failure anywhere leaves the database exactly at the version it had.
  Migrations therefore must not contain ``BEGIN``/``COMMIT`` themselves.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import peewee

from aether_qt.storage.cipher import DRIVER_ERRORS, DataKey, connect_keyed
from aether_qt.storage.errors import (
    MigrationError,
    SchemaTooNewError,
    StorageError,
    translate_sqlite_error,
)

MIGRATION_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[A-Za-z0-9_]+)\.sql$")
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)
_TRANSACTION_CONTROL = re.compile(r"^(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at_ms INTEGER NOT NULL,
    checksum TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file.

    Attributes:
        version: the number in the file name.
        filename: e.g. ``0001_init.sql``; recorded as ``name``.
        sql: the file's text.
        checksum: SHA-256 hex of the text with line endings normalised.
    """

    version: int
    filename: str
    sql: str
    checksum: str


@dataclass(frozen=True, slots=True)
class MigrationResult:
    """What :func:`apply_migrations` did.

    Attributes:
        from_version: the schema version found.
        to_version: the schema version now.
        applied: versions applied by this call, in order (empty: nothing to do).
        backup: the copy taken before migrating, if one was needed.
    """

    from_version: int
    to_version: int
    applied: tuple[int, ...] = ()
    backup: Path | None = None


def raw_connection(db: peewee.SqliteDatabase) -> sqlite3.Connection:
    """The calling thread's ``sqlite3`` connection behind ``db`` (autocommit mode)."""
    return cast(sqlite3.Connection, db.connection())  # type: ignore[no-untyped-call]


def _checksum(text: str) -> str:
    """SHA-256 of ``text`` with CRLF normalised (a Windows checkout must not differ)."""
    return hashlib.sha256(text.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def discover(migrations: Path) -> tuple[Migration, ...]:
    """Read every ``NNNN_name.sql`` file in ``migrations``, sorted by version.

    Raises:
        MigrationError: the folder is missing, a ``.sql`` file is misnamed, a
            version is 0 or two files share a version.
    """
    if not migrations.is_dir():
        raise MigrationError(migrations, migration="(folder)", detail="the migrations folder does not exist")
    found: dict[int, Migration] = {}
    for file in sorted(migrations.glob("*.sql")):
        match = MIGRATION_FILE.match(file.name)
        if match is None:
            raise MigrationError(migrations, migration=file.name, detail="file name is not NNNN_name.sql")
        version = int(match["version"])
        if version == 0:
            raise MigrationError(migrations, migration=file.name, detail="versions start at 0001")
        if version in found:
            detail = f"version {version} is also used by {found[version].filename}"
            raise MigrationError(migrations, migration=file.name, detail=detail)
        text = file.read_text(encoding="utf-8")
        found[version] = Migration(version=version, filename=file.name, sql=text, checksum=_checksum(text))
    return tuple(found[v] for v in sorted(found))


def latest_version(migrations: Path) -> int:
    """The newest version among the migration files (0 when there are none)."""
    known = discover(migrations)
    return known[-1].version if known else 0


def _applied(db: peewee.SqliteDatabase) -> dict[int, tuple[str, str]]:
    """``version -> (name, checksum)`` of the applied migrations."""
    if not db.table_exists("schema_migrations"):
        return {}
    query = "SELECT version, name, checksum FROM schema_migrations ORDER BY version"
    rows = raw_connection(db).execute(query)
    return {int(version): (str(name), str(checksum)) for version, name, checksum in rows.fetchall()}


def current_version(db: peewee.SqliteDatabase) -> int:
    """The newest migration recorded in ``db`` (0 for a fresh database)."""
    return max(_applied(db), default=0)


def split_statements(sql: str) -> list[str]:
    """Split a script into complete statements, as SQLite itself would.

    Uses :func:`sqlite3.complete_statement`, so semicolons inside strings,
    comments and ``CREATE TRIGGER ... BEGIN ... END;`` bodies are handled.

    Raises:
        ValueError: text is left after the last complete statement.
    """
    statements: list[str] = []
    buffer = ""
    *terminated, tail = sql.split(";")
    for part in terminated:
        buffer += part + ";"
        if sqlite3.complete_statement(buffer):
            if _COMMENTS.sub("", buffer).strip(" \t\r\n;"):
                statements.append(buffer.strip())
            buffer = ""
    buffer += tail
    if _COMMENTS.sub("", buffer).strip():
        raise ValueError(f"statement without a closing ';': {buffer.strip()[:60]!r}")
    return statements


def _plan(path: Path, known: tuple[Migration, ...], applied: dict[int, tuple[str, str]]) -> list[Migration]:
    """Validate the recorded history against the files and return what is pending."""
    latest = known[-1].version if known else 0
    current = max(applied, default=0)
    if current > latest:
        raise SchemaTooNewError(path, db_version=current, app_version=latest)
    by_version = {m.version: m for m in known}
    for version, (name, checksum) in applied.items():
        migration = by_version.get(version)
        if migration is None:
            detail = "this applied migration is missing from the app"
            raise MigrationError(path, migration=name, detail=detail)
        if migration.checksum != checksum:
            detail = "the file changed after it was applied (checksum mismatch)"
            raise MigrationError(path, migration=migration.filename, detail=detail)
    pending = [m for m in known if m.version not in applied]
    for migration in pending:
        if migration.version < current:
            detail = f"it is older than the applied version {current} but was never applied"
            raise MigrationError(path, migration=migration.filename, detail=detail)
    return pending


def _has_data(db: peewee.SqliteDatabase) -> bool:
    """Whether the database holds any table, index or view yet."""
    query = "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"
    row = raw_connection(db).execute(query).fetchone()
    return bool(row and row[0])


def backup_database(
    path: Path,
    *,
    backups_dir: Path,
    version: int,
    now_ms: int,
    timeout_s: float = 5.0,
    key: DataKey | None = None,
) -> Path:
    """Copy the database at ``path`` with SQLite's online backup API.

    The copy is named ``<stem>-v<version>-<UTC timestamp>.db`` and appears
    atomically (written under a temporary name, then renamed). A separate
    read-only connection is used, so the copy is consistent even while WAL
    pages are not yet checkpointed and while another connection holds the
    write lock.

    With ``key`` both ends are SQLCipher connections with that key, so the copy
    is as encrypted as the original.

    Returns:
        The path of the new copy.
    """
    backups_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now_ms // 1000)) + f"{now_ms % 1000:03d}Z"
    target = backups_dir / f"{path.stem}-v{version}-{stamp}.db"
    counter = 1
    while target.exists():
        counter += 1
        target = backups_dir / f"{path.stem}-v{version}-{stamp}-{counter}.db"
    partial = target.with_name(target.name + ".partial")
    source = connect_keyed(path, key, read_only=True, timeout_s=timeout_s)
    try:
        destination = connect_keyed(partial, key, timeout_s=timeout_s)
        try:
            source.backup(destination)
        finally:
            destination.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        source.close()
    os.replace(partial, target)
    return target


def _run(conn: sqlite3.Connection, path: Path, migration: Migration, now_ms: int) -> None:
    """Execute one migration's statements and record it (inside the open transaction)."""
    try:
        statements = split_statements(migration.sql)
    except ValueError as exc:
        raise MigrationError(path, migration=migration.filename, detail=str(exc)) from exc
    for statement in statements:
        if _TRANSACTION_CONTROL.match(_COMMENTS.sub("", statement).strip()):
            detail = "migrations must not contain BEGIN/COMMIT (the runner owns the transaction)"
            raise MigrationError(path, migration=migration.filename, detail=detail)
        try:
            conn.execute(statement)
        except DRIVER_ERRORS as exc:
            translated = translate_sqlite_error(exc, path)
            if type(translated) is not StorageError:
                raise translated from exc  # locked, full, damaged: the environment, not the SQL
            raise MigrationError(path, migration=migration.filename, detail=str(exc)) from exc
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at_ms, checksum) VALUES (?, ?, ?, ?)",
        (migration.version, migration.filename, now_ms, migration.checksum),
    )


def apply_migrations(
    db: peewee.SqliteDatabase,
    *,
    path: Path,
    migrations: Path,
    backups_dir: Path,
    clock_ms: Callable[[], int],
    key: DataKey | None = None,
) -> MigrationResult:
    """Bring ``db`` (the file at ``path``) up to the newest migration in ``migrations``.

    Args:
        db: an open database whose connection is in autocommit mode (peewee's default).
        path: the database file, for backups and error messages.
        migrations: folder of ``NNNN_name.sql`` files.
        backups_dir: where the pre-migration copy goes.
        clock_ms: wall clock in milliseconds.
        key: the database's SQLCipher key (the backup copy is keyed with it too).

    Raises:
        SchemaTooNewError: the database is newer than the app.
        MigrationError: a migration failed (the database is unchanged) or an
            applied one was edited or removed.
        StorageError: the database was locked, full or damaged meanwhile.
    """
    known = discover(migrations)
    applied = _applied(db)
    from_version = max(applied, default=0)
    if not _plan(path, known, applied):
        return MigrationResult(from_version=from_version, to_version=from_version)
    conn = raw_connection(db)
    conn.execute("BEGIN IMMEDIATE")  # from here nobody else can write
    try:
        applied = _applied(db)  # another process may have migrated meanwhile
        from_version = max(applied, default=0)
        pending = _plan(path, known, applied)
        backup = None
        if pending and _has_data(db):
            backup = backup_database(
                path, backups_dir=backups_dir, version=from_version, now_ms=clock_ms(), key=key
            )
        conn.execute(_CREATE_TABLE)
        for migration in pending:
            _run(conn, path, migration, clock_ms())
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # SQLite may already have rolled back (e.g. on SQLITE_FULL)
            conn.execute("ROLLBACK")
        raise
    to_version = pending[-1].version if pending else from_version
    return MigrationResult(
        from_version=from_version,
        to_version=to_version,
        applied=tuple(m.version for m in pending),
        backup=backup,
    )
