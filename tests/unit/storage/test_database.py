"""Tests for aether_qt/storage/database.py on real SQLite files."""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import peewee
import pytest

from aether_qt.storage.database import close_database, open_database, translate_sqlite_error
from aether_qt.storage.errors import (
    DatabaseCorruptError,
    DatabaseLockedError,
    DatabaseUnreadableError,
    DiskFullError,
    MigrationError,
    StorageError,
)
from aether_qt.storage.migrations import current_version, latest_version

OpenDb = Callable[..., peewee.SqliteDatabase]


def _pragma(db: peewee.SqliteDatabase, name: str) -> object:
    return db.connection().execute(f"PRAGMA {name}").fetchone()[0]


def _make_db_with_data(path: Path, rows: int = 400) -> None:
    """A plain (rollback-journal) SQLite file with several pages of data."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    conn.executemany("INSERT INTO notes (body) VALUES (?)", [(f"note {i} " * 20,) for i in range(rows)])
    conn.commit()
    conn.close()


def test_open_creates_folder_and_sets_pragmas(open_db: OpenDb, tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "aether.db"

    db = open_db(path, busy_timeout_ms=1234)

    assert path.is_file()
    assert _pragma(db, "journal_mode") == "wal"
    assert _pragma(db, "foreign_keys") == 1
    assert _pragma(db, "busy_timeout") == 1234
    assert _pragma(db, "synchronous") == 2  # FULL: acknowledged writes survive power loss


def test_synchronous_full_for_the_audit_database(open_db: OpenDb, tmp_path: Path) -> None:
    db = open_db(tmp_path / "audit.db", synchronous="full")

    assert _pragma(db, "synchronous") == 2


def test_unknown_synchronous_mode_is_a_programming_error(open_db: OpenDb) -> None:
    with pytest.raises(ValueError, match="synchronous"):
        open_db(synchronous="sometimes")


def test_fresh_database_is_migrated_to_latest(
    open_db: OpenDb, shipped_migrations: Path, backups: Path
) -> None:
    db = open_db()

    assert current_version(db) == latest_version(shipped_migrations) >= 2
    assert db.table_exists("settings")
    assert not backups.exists() or not any(backups.iterdir())  # nothing to back up


def test_foreign_keys_are_enforced(
    open_db: OpenDb, shipped_migrations: Path, write_migration: Callable[[Path, str, str], Path]
) -> None:
    write_migration(
        shipped_migrations,
        "0900_fk.sql",
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);\n"
        "CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parent(id));\n",
    )
    db = open_db()

    with pytest.raises(peewee.IntegrityError, match="FOREIGN KEY"):
        db.execute_sql("INSERT INTO child (parent_id) VALUES (42)")


def test_random_bytes_file_is_corrupt(open_db: OpenDb, tmp_path: Path) -> None:
    path = tmp_path / "noise.db"
    path.write_bytes(os.urandom(3 * 4096))

    with pytest.raises(DatabaseCorruptError) as caught:
        open_db(path)

    assert str(path) in str(caught.value)
    assert caught.value.path == path


def test_overwritten_pages_are_corrupt_and_file_untouched(open_db: OpenDb, tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    _make_db_with_data(path)
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 6 * page
    data[2 * page : 5 * page] = bytes((i * 37 + 11) & 0xFF for i in range(3 * page))
    path.write_bytes(bytes(data))

    with pytest.raises(DatabaseCorruptError, match="damaged"):
        open_db(path)

    assert path.read_bytes() == bytes(data)  # no journal-mode switch on a damaged file
    assert not Path(f"{path}-wal").exists()


def test_damage_reported_by_quick_check_rows_is_corrupt(open_db: OpenDb, tmp_path: Path) -> None:
    pristine = tmp_path / "pristine.db"
    _make_db_with_data(pristine)
    data = pristine.read_bytes()
    page = 4096
    for number in range(2, len(data) // page):  # find a page whose damage quick_check reports as rows
        damaged = bytearray(data)
        damaged[number * page + 200 : number * page + 260] = b"Z" * 60
        candidate = tmp_path / f"damaged-{number}.db"
        candidate.write_bytes(bytes(damaged))
        with sqlite3.connect(candidate) as probe:
            rows = probe.execute("PRAGMA quick_check").fetchall()
        if rows != [("ok",)]:
            break
    else:
        pytest.fail("no page damage was reported by quick_check")

    with pytest.raises(DatabaseCorruptError, match="integrity check failed"):
        open_db(candidate)


def test_file_truncated_mid_page_is_corrupt(open_db: OpenDb, tmp_path: Path) -> None:
    path = tmp_path / "truncated.db"
    _make_db_with_data(path)
    data = path.read_bytes()
    path.write_bytes(data[: 3 * 4096 + 1000])

    with pytest.raises(DatabaseCorruptError):
        open_db(path)


def test_directory_in_place_of_the_file_is_unreadable(open_db: OpenDb, tmp_path: Path) -> None:
    path = tmp_path / "folder.db"
    path.mkdir()

    with pytest.raises(DatabaseUnreadableError, match="not a regular file") as caught:
        open_db(path)

    assert str(path) in caught.value.user_message


def test_parent_that_is_a_file_is_unreadable(open_db: OpenDb, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")

    with pytest.raises(DatabaseUnreadableError, match="cannot create folder"):
        open_db(blocker / "aether.db")


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0,
    reason="root ignores chmod 000, so permissions cannot block the read; the directory case covers it",
)
def test_file_without_permissions_is_unreadable(open_db: OpenDb, tmp_path: Path) -> None:
    path = tmp_path / "secret.db"
    _make_db_with_data(path, rows=1)
    path.chmod(0)
    try:
        with pytest.raises(DatabaseUnreadableError):
            open_db(path)
    finally:
        path.chmod(0o600)


def test_exclusive_lock_held_elsewhere_is_locked(open_db: OpenDb, tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    _make_db_with_data(path, rows=1)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(DatabaseLockedError, match="locked") as caught:
            open_db(path, busy_timeout_ms=50)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert str(path) in str(caught.value)


def test_write_lock_blocks_a_pending_migration_as_locked(
    open_db: OpenDb,
    shipped_migrations: Path,
    write_migration: Callable[[Path, str, str], Path],
    tmp_path: Path,
) -> None:
    path = tmp_path / "wal.db"
    close_database(open_db(path))
    write_migration(shipped_migrations, "0900_more.sql", "CREATE TABLE more (x INTEGER);")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # WAL: readers pass, writers wait
    try:
        with pytest.raises(DatabaseLockedError):
            open_db(path, busy_timeout_ms=50)
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_missing_migrations_folder_is_a_migration_error(open_db: OpenDb, tmp_path: Path) -> None:
    with pytest.raises(MigrationError, match="does not exist"):
        open_db(migrations=tmp_path / "nowhere")


def test_close_database_is_idempotent(open_db: OpenDb) -> None:
    db = open_db()

    close_database(db)
    close_database(db)

    assert db.is_closed()


def test_disk_full_is_translated_from_a_real_sqlite_full(open_db: OpenDb) -> None:
    db = open_db()
    conn = db.connection()
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages + 1}")
    conn.execute("CREATE TABLE IF NOT EXISTS filler (x TEXT)")  # may take the last free page

    with pytest.raises(sqlite3.OperationalError) as raw:
        conn.execute("INSERT INTO filler VALUES (?)", ("x" * 100_000,))

    error = translate_sqlite_error(raw.value, Path("/data/aether.db"))
    assert isinstance(error, DiskFullError)
    assert "/data/aether.db" in str(error)


# ------------------------------------------------------------ translate_sqlite_error


def _coded(message: str, code: int) -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError(message)
    exc.sqlite_errorcode = code  # type: ignore[attr-defined]
    return exc


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (sqlite3.OperationalError("database is locked"), DatabaseLockedError),
        (sqlite3.OperationalError("database table is locked"), DatabaseLockedError),
        (sqlite3.DatabaseError("file is not a database"), DatabaseCorruptError),
        (sqlite3.DatabaseError("database disk image is malformed"), DatabaseCorruptError),
        (sqlite3.OperationalError("database or disk is full"), DiskFullError),
        (sqlite3.OperationalError("unable to open database file"), DatabaseUnreadableError),
        (sqlite3.OperationalError("attempt to write a readonly database"), DatabaseUnreadableError),
        (sqlite3.OperationalError("disk I/O error"), DatabaseUnreadableError),
        (_coded("busy", 5), DatabaseLockedError),
        (_coded("whatever", 517), DatabaseLockedError),  # SQLITE_BUSY_SNAPSHOT (extended)
        (_coded("bad page", 11), DatabaseCorruptError),
        (_coded("not a db", 26), DatabaseCorruptError),
        (_coded("full", 13), DiskFullError),
        (_coded("cannot open", 14), DatabaseUnreadableError),
        (OSError(errno.ENOSPC, "No space left on device"), DiskFullError),
        (PermissionError(errno.EACCES, "Permission denied"), DatabaseUnreadableError),
        (IsADirectoryError(errno.EISDIR, "Is a directory"), DatabaseUnreadableError),
        (peewee.OperationalError(sqlite3.OperationalError("database is locked")), DatabaseLockedError),
    ],
)
def test_translate_known_errors(exc: BaseException, expected: type[StorageError]) -> None:
    path = Path("/home/u/aether.db")

    error = translate_sqlite_error(exc, path)

    assert type(error) is expected
    assert error.path == path
    assert str(path) in str(error)
    assert error.detail


def test_translate_unknown_error_keeps_its_text_as_plain_storage_error() -> None:
    error = translate_sqlite_error(sqlite3.OperationalError("no such table: nope"), Path("x.db"))

    assert type(error) is StorageError
    assert "no such table: nope" in str(error)


def test_translate_unknown_code_and_errno_fall_back_to_the_message() -> None:
    assert type(translate_sqlite_error(_coded("database is locked", 1), Path("a.db"))) is DatabaseLockedError
    assert type(translate_sqlite_error(OSError(errno.EIO, "I/O"), Path("a.db"))) is StorageError
    assert "OSError" in translate_sqlite_error(OSError(), Path("a.db")).detail


def test_translate_reads_a_bare_peewee_error_by_its_message() -> None:
    assert type(translate_sqlite_error(peewee.OperationalError("database is locked"), Path("a.db"))) is (
        DatabaseLockedError
    )


def test_default_clock_is_the_wall_clock(tmp_path: Path, shipped_migrations: Path) -> None:
    before_ms = time.time_ns() // 1_000_000
    db = open_database(tmp_path / "real.db", migrations=shipped_migrations, backups_dir=tmp_path / "b")
    try:
        stamps = [row[0] for row in db.connection().execute("SELECT applied_at_ms FROM schema_migrations")]
    finally:
        close_database(db)

    assert stamps and all(before_ms <= stamp <= time.time_ns() // 1_000_000 for stamp in stamps)


def test_translate_unwraps_an_old_style_peewee_wrapper() -> None:
    wrapper = peewee.OperationalError("ignored")
    wrapper.args = (sqlite3.OperationalError("database or disk is full"),)

    assert type(translate_sqlite_error(wrapper, Path("a.db"))) is DiskFullError


def test_translate_passes_storage_errors_through() -> None:
    original = DiskFullError(Path("a.db"))

    assert translate_sqlite_error(original, Path("b.db")) is original
    assert translate_sqlite_error(peewee.DatabaseError(original), Path("b.db")) is original
