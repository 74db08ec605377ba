"""Tests for aether_qt/storage/migrations.py: order, records, backups, rollback."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import peewee
import pytest

from aether_qt.storage import migrations as migrations_module
from aether_qt.storage.cipher import DRIVER_ERRORS
from aether_qt.storage.database import close_database
from aether_qt.storage.errors import DiskFullError, MigrationError, SchemaTooNewError
from aether_qt.storage.migrations import (
    apply_migrations,
    backup_database,
    current_version,
    discover,
    latest_version,
    split_statements,
)

OpenDb = Callable[..., peewee.SqliteDatabase]
WriteMigration = Callable[[Path, str, str], Path]

INIT = "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);"
SECOND = (
    "ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;\n"
    "CREATE INDEX notes_pinned ON notes (pinned);"
)


@pytest.fixture
def folder(tmp_path: Path, write_migration: WriteMigration) -> Path:
    """A migrations folder holding only ``0001_notes.sql``."""
    target = tmp_path / "mig"
    write_migration(target, "0001_notes.sql", INIT)
    return target


def _rows(db: peewee.SqliteDatabase) -> list[tuple[object, ...]]:
    query = "SELECT version, name, applied_at_ms, checksum FROM schema_migrations ORDER BY version"
    return list(db.connection().execute(query).fetchall())


# ------------------------------------------------------------------ discovery


def test_discover_sorts_numerically_and_ignores_other_files(
    tmp_path: Path, write_migration: WriteMigration
) -> None:
    for name in ("0010_ten.sql", "0002_two.sql", "0001_one.sql"):
        write_migration(tmp_path, name, "SELECT 1;")
    (tmp_path / "README.md").write_text("notes")

    found = discover(tmp_path)

    assert [m.version for m in found] == [1, 2, 10]
    assert found[0].filename == "0001_one.sql"
    assert len(found[0].checksum) == 64
    assert latest_version(tmp_path) == 10


def test_checksum_ignores_line_endings(tmp_path: Path, write_migration: WriteMigration) -> None:
    write_migration(tmp_path / "a", "0001_x.sql", "SELECT 1;\nSELECT 2;\n")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "0001_x.sql").write_bytes(b"SELECT 1;\r\nSELECT 2;\r\n")

    assert discover(tmp_path / "a")[0].checksum == discover(tmp_path / "b")[0].checksum


def test_latest_version_of_an_empty_folder_is_zero(tmp_path: Path) -> None:
    assert latest_version(tmp_path) == 0


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["1_short.sql"], "NNNN_name.sql"),
        (["0001-dash.sql"], "NNNN_name.sql"),
        (["0000_zero.sql"], "start at 0001"),
        (["0001_a.sql", "0001_b.sql"], "also used by 0001_a.sql"),
    ],
)
def test_discover_rejects_bad_folders(
    tmp_path: Path, write_migration: WriteMigration, names: list[str], message: str
) -> None:
    for name in names:
        write_migration(tmp_path, name, "SELECT 1;")

    with pytest.raises(MigrationError, match=message) as caught:
        discover(tmp_path)

    assert caught.value.migration == names[-1]


# ------------------------------------------------------------------ statements


def test_split_statements_handles_strings_comments_and_triggers() -> None:
    sql = """
    -- a comment; with a semicolon
    CREATE TABLE t (x TEXT DEFAULT 'a;b');
    /* block; comment */
    CREATE TRIGGER t_guard BEFORE DELETE ON t BEGIN
        SELECT RAISE(ABORT, 'no; deletes');
    END;
    ;
    -- trailing comment
    """

    statements = split_statements(sql)

    assert len(statements) == 2
    assert statements[0].endswith("CREATE TABLE t (x TEXT DEFAULT 'a;b');")
    assert "CREATE TRIGGER" in statements[1] and statements[1].endswith("END;")


def test_split_statements_rejects_an_unterminated_statement() -> None:
    with pytest.raises(ValueError, match="closing ';'"):
        split_statements("CREATE TABLE a (x);\nCREATE TABLE b (y)")


def test_split_statements_of_nothing_is_empty() -> None:
    assert split_statements("") == []
    assert split_statements("-- only a comment\n") == []


# ------------------------------------------------------------------ applying


def test_fresh_database_applies_all_in_order_and_records_them(
    open_db: OpenDb, shipped_migrations: Path, clock: Callable[[], int]
) -> None:
    db = open_db()

    rows = _rows(db)
    known = discover(shipped_migrations)
    assert [(r[0], r[1], r[3]) for r in rows] == [(m.version, m.filename, m.checksum) for m in known]
    assert all(r[2] == clock() for r in rows)
    assert current_version(db) == known[-1].version


def test_second_open_is_a_no_op(
    open_db: OpenDb, tmp_path: Path, shipped_migrations: Path, backups: Path, clock: Any
) -> None:
    path = tmp_path / "data" / "aether.db"
    db = open_db(path)
    before = _rows(db)
    close_database(db)
    clock.advance(60_000)

    again = open_db(path)
    result = apply_migrations(
        again, path=path, migrations=shipped_migrations, backups_dir=backups, clock_ms=clock
    )

    assert _rows(again) == before
    assert result.applied == () and result.backup is None
    assert result.from_version == result.to_version == before[-1][0]
    assert not backups.exists()


def test_current_version_of_an_empty_database_is_zero(tmp_path: Path) -> None:
    db = peewee.SqliteDatabase(str(tmp_path / "empty.db"))
    db.connect()
    try:
        assert current_version(db) == 0
    finally:
        db.close()


def test_existing_database_is_backed_up_before_migrating(
    open_db: OpenDb, folder: Path, tmp_path: Path, backups: Path, write_migration: WriteMigration
) -> None:
    path = tmp_path / "notes.db"
    db = open_db(path, migrations=folder)
    db.connection().execute("INSERT INTO notes (body) VALUES ('remember the milk')")
    close_database(db)
    write_migration(folder, "0002_pinned.sql", SECOND)

    db = open_db(path, migrations=folder)

    assert current_version(db) == 2
    copies = sorted(backups.iterdir())
    assert [c.name for c in copies] == ["notes-v1-20231114T221320123Z.db"]
    old = sqlite3.connect(copies[0])
    try:
        assert old.execute("SELECT body FROM notes").fetchall() == [("remember the milk",)]
        assert old.execute("SELECT max(version) FROM schema_migrations").fetchone() == (1,)
        columns = [row[1] for row in old.execute("PRAGMA table_info(notes)")]
        assert "pinned" not in columns
    finally:
        old.close()


def test_backup_names_never_collide(tmp_path: Path, backups: Path) -> None:
    path = tmp_path / "a.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()

    first = backup_database(path, backups_dir=backups, version=3, now_ms=0)
    second = backup_database(path, backups_dir=backups, version=3, now_ms=0)

    assert first.name == "a-v3-19700101T000000000Z.db"
    assert second.name == "a-v3-19700101T000000000Z-2.db"
    assert not list(backups.glob("*.partial"))


@pytest.mark.parametrize("content", [None, b"not a database at all, just some bytes" * 200])
def test_failed_backup_leaves_no_partial_file(tmp_path: Path, backups: Path, content: bytes | None) -> None:
    source = tmp_path / "source.db"
    if content is not None:
        source.write_bytes(content)

    with pytest.raises(DRIVER_ERRORS):
        backup_database(source, backups_dir=backups, version=1, now_ms=0)

    assert list(backups.iterdir()) == []


def test_broken_migration_rolls_back_everything_and_names_the_file(
    open_db: OpenDb, folder: Path, tmp_path: Path, write_migration: WriteMigration
) -> None:
    path = tmp_path / "notes.db"
    db = open_db(path, migrations=folder)
    db.connection().execute("INSERT INTO notes (body) VALUES ('keep me')")
    close_database(db)
    write_migration(folder, "0002_pinned.sql", SECOND)
    write_migration(folder, "0003_broken.sql", "CREATE TABLE extra (x INTEGER);\nCREATE TABLE oops (;\n")

    with pytest.raises(MigrationError) as caught:
        open_db(path, migrations=folder)

    assert caught.value.migration == "0003_broken.sql"
    assert "0003_broken.sql" in str(caught.value)
    assert "syntax error" in str(caught.value)
    check = sqlite3.connect(path)
    try:
        assert check.execute("SELECT max(version) FROM schema_migrations").fetchone() == (1,)
        tables = {row[0] for row in check.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "extra" not in tables
        assert [row[1] for row in check.execute("PRAGMA table_info(notes)")] == ["id", "body"]
        assert check.execute("SELECT body FROM notes").fetchall() == [("keep me",)]
    finally:
        check.close()


def test_failure_on_a_fresh_database_leaves_it_at_version_zero(
    open_db: OpenDb, folder: Path, tmp_path: Path, write_migration: WriteMigration
) -> None:
    write_migration(folder, "0002_bad.sql", "INSERT INTO nowhere VALUES (1);")
    path = tmp_path / "fresh.db"

    with pytest.raises(MigrationError, match="no such table: nowhere"):
        open_db(path, migrations=folder)

    check = sqlite3.connect(path)
    try:
        assert check.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    finally:
        check.close()


def test_migration_that_makes_sqlite_roll_back_by_itself_is_reported(
    open_db: OpenDb, folder: Path, tmp_path: Path, write_migration: WriteMigration
) -> None:
    write_migration(
        folder,
        "0002_self_abort.sql",
        "CREATE TABLE guarded (x INTEGER);\n"
        "CREATE TRIGGER guarded_no BEFORE INSERT ON guarded BEGIN SELECT RAISE(ROLLBACK, 'refused'); END;\n"
        "INSERT INTO guarded VALUES (1);\n",
    )
    path = tmp_path / "abort.db"

    with pytest.raises(MigrationError, match="refused") as caught:
        open_db(path, migrations=folder)

    assert caught.value.migration == "0002_self_abort.sql"
    check = sqlite3.connect(path)
    try:
        assert check.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    finally:
        check.close()


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("BEGIN;\nCREATE TABLE x (y);\nCOMMIT;", "must not contain BEGIN/COMMIT"),
        ("CREATE TABLE x (y)", "closing ';'"),
    ],
)
def test_invalid_migration_text_is_refused(
    open_db: OpenDb, folder: Path, write_migration: WriteMigration, sql: str, message: str
) -> None:
    write_migration(folder, "0002_bad.sql", sql)

    with pytest.raises(MigrationError, match=message):
        open_db(migrations=folder)


def test_newer_schema_is_refused_with_both_versions(
    open_db: OpenDb, folder: Path, tmp_path: Path, write_migration: WriteMigration
) -> None:
    path = tmp_path / "future.db"
    newer = tmp_path / "newer"
    write_migration(newer, "0001_notes.sql", INIT)
    write_migration(newer, "0002_pinned.sql", SECOND)
    write_migration(newer, "0003_more.sql", "CREATE TABLE more (x);")
    close_database(open_db(path, migrations=newer))

    with pytest.raises(SchemaTooNewError) as caught:
        open_db(path, migrations=folder)

    assert (caught.value.db_version, caught.value.app_version) == (3, 1)
    assert "version 3" in str(caught.value) and "version 1" in str(caught.value)
    assert str(path) in str(caught.value)


def test_edited_applied_migration_is_detected(
    open_db: OpenDb, folder: Path, tmp_path: Path, write_migration: WriteMigration
) -> None:
    path = tmp_path / "notes.db"
    close_database(open_db(path, migrations=folder))
    write_migration(folder, "0001_notes.sql", INIT + "\nCREATE TABLE sneaky (x);")

    with pytest.raises(MigrationError, match="checksum mismatch") as caught:
        open_db(path, migrations=folder)

    assert caught.value.migration == "0001_notes.sql"


def test_removed_applied_migration_is_detected(
    open_db: OpenDb, folder: Path, tmp_path: Path, write_migration: WriteMigration
) -> None:
    path = tmp_path / "notes.db"
    write_migration(folder, "0002_pinned.sql", SECOND)
    close_database(open_db(path, migrations=folder))
    (folder / "0001_notes.sql").unlink()

    with pytest.raises(MigrationError, match="missing from the app") as caught:
        open_db(path, migrations=folder)

    assert caught.value.migration == "0001_notes.sql"


def test_gap_filled_after_a_later_migration_is_refused(
    open_db: OpenDb, folder: Path, tmp_path: Path, write_migration: WriteMigration
) -> None:
    path = tmp_path / "notes.db"
    write_migration(folder, "0003_more.sql", "CREATE TABLE more (x);")
    close_database(open_db(path, migrations=folder))
    write_migration(folder, "0002_pinned.sql", SECOND)

    with pytest.raises(MigrationError, match="older than the applied version 3") as caught:
        open_db(path, migrations=folder)

    assert caught.value.migration == "0002_pinned.sql"


def test_disk_full_during_a_migration_is_disk_full_and_rolled_back(
    open_db: OpenDb, folder: Path, tmp_path: Path, backups: Path, write_migration: WriteMigration
) -> None:
    path = tmp_path / "small.db"
    db = open_db(path, migrations=folder)
    conn = db.connection()
    conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0] + 2}")
    write_migration(
        folder,
        "0002_big.sql",
        "CREATE TABLE big (x TEXT);\n"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)\n"
        "INSERT INTO big SELECT hex(randomblob(200)) FROM n;\n",
    )

    with pytest.raises(DiskFullError):
        apply_migrations(db, path=path, migrations=folder, backups_dir=backups, clock_ms=lambda: 0)

    assert current_version(db) == 1
    assert not db.table_exists("big")


def test_migration_done_by_someone_else_meanwhile_is_not_repeated(
    open_db: OpenDb, folder: Path, tmp_path: Path, backups: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "race.db"
    db = open_db(path, migrations=folder)
    real = migrations_module._applied
    calls: list[int] = []

    def stale_first(database: peewee.SqliteDatabase) -> dict[int, tuple[str, str]]:
        calls.append(1)
        return {} if len(calls) == 1 else real(database)  # first look predates the other migrator

    monkeypatch.setattr(migrations_module, "_applied", stale_first)

    result = apply_migrations(db, path=path, migrations=folder, backups_dir=backups, clock_ms=lambda: 0)

    assert result.applied == ()
    assert result.from_version == result.to_version == 1
    assert len(calls) == 2
    assert not backups.exists()
