"""Tests for aether_qt/policy/app_data.py: encrypting an older plaintext database, finishing a crashed run.

The end-to-end upgrade (a real home through the command line, killed at each step) is in
tests/e2e/test_cli_data_at_rest.py; these cover each rule on small files.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import keyring.backends.fail
import pytest

from aether_qt.core.paths import resolve_paths
from aether_qt.policy.app_data import (
    ASIDE_SUFFIX,
    PARTIAL_SUFFIX,
    encrypt_backups,
    encrypt_database,
    encrypted_data_exists,
    finish_encryption,
    open_app_database,
)
from aether_qt.policy.keys import KeyStore
from aether_qt.storage.cipher import DataKey, connect_keyed, is_plaintext_sqlite
from aether_qt.storage.errors import DatabaseLockedError, DataKeyError, StorageError


def _plain(path: Path, rows: int = 3) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE notes (text TEXT)")
    conn.executemany("INSERT INTO notes VALUES (?)", [(f"note {i}",) for i in range(rows)])
    conn.execute("CREATE VIRTUAL TABLE notes_fts USING fts5(text)")
    conn.execute("INSERT INTO notes_fts SELECT text FROM notes")
    conn.commit()
    conn.close()


def _texts(path: Path, key: DataKey) -> list[str]:
    conn = connect_keyed(path, key, read_only=True)
    try:
        return [str(r[0]) for r in conn.execute("SELECT text FROM notes_fts WHERE notes_fts MATCH 'note'")]
    finally:
        conn.close()


def test_a_plaintext_file_is_encrypted_in_place_with_every_row(tmp_path: Path) -> None:
    db, key = tmp_path / "aether.db", DataKey.generate(source="keyring")
    _plain(db)
    steps: list[str] = []
    assert encrypt_database(db, key, root=tmp_path, step=steps.append)
    assert steps == ["exported", "verified", "set_aside", "swapped"]
    assert not is_plaintext_sqlite(db) and b"note 1" not in db.read_bytes()
    assert sorted(_texts(db, key)) == ["note 0", "note 1", "note 2"]
    aside = db.with_name(db.name + ASIDE_SUFFIX)
    assert is_plaintext_sqlite(aside)  # kept until the encrypted file has opened
    finish_encryption(db, root=tmp_path)
    assert not aside.exists()
    assert not encrypt_database(db, key, root=tmp_path)  # already encrypted: nothing to do


def test_a_crash_between_the_two_renames_puts_the_plaintext_back_and_finishes(tmp_path: Path) -> None:
    db, key = tmp_path / "aether.db", DataKey.generate(source="keyring")
    _plain(db)
    db.rename(db.with_name(db.name + ASIDE_SUFFIX))  # the state after "set_aside"
    (tmp_path / f"aether.db{PARTIAL_SUFFIX}").write_bytes(b"half an export")
    assert encrypted_data_exists(db) is False
    assert encrypt_database(db, key, root=tmp_path)
    assert sorted(_texts(db, key)) == ["note 0", "note 1", "note 2"]
    assert not (tmp_path / f"aether.db{PARTIAL_SUFFIX}").exists()


def test_a_plaintext_someone_still_writes_is_left_alone(tmp_path: Path) -> None:
    db, key = tmp_path / "aether.db", DataKey.generate(source="keyring")
    _plain(db)
    script = (  # an older Aether, another process, in the middle of a write (locks are per process)
        "import sqlite3, sys\n"
        f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
        "c.execute('PRAGMA journal_mode=WAL'); c.execute('BEGIN IMMEDIATE')\n"
        "c.execute(\"INSERT INTO notes VALUES ('late')\"); print('writing', flush=True); sys.stdin.read()\n"
    )
    writer = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline() == "writing\n"
        with pytest.raises(DatabaseLockedError, match="another program"):
            encrypt_database(db, key, root=tmp_path)
    finally:
        writer.communicate("")
    assert is_plaintext_sqlite(db) and not (tmp_path / f"aether.db{PARTIAL_SUFFIX}").exists()


def test_a_damaged_plaintext_is_refused_and_kept_as_it_was(tmp_path: Path) -> None:
    db = tmp_path / "aether.db"
    _plain(db, rows=2000)
    damaged = db.read_bytes()[: db.stat().st_size // 2]  # the header says more pages than there are
    db.write_bytes(damaged)
    with pytest.raises(StorageError):
        encrypt_database(db, DataKey.generate(source="keyring"), root=tmp_path)
    assert db.read_bytes() == damaged and not (tmp_path / f"aether.db{PARTIAL_SUFFIX}").exists()


def test_pre_migration_copies_are_encrypted_too(tmp_path: Path) -> None:
    backups, key = tmp_path / "backups", DataKey.generate(source="keyring")
    backups.mkdir()
    _plain(backups / "aether-v3-x.db")
    _plain(backups / "aether-v4-y.db")
    assert encrypt_backups(backups, key, root=tmp_path) == 2
    assert not any(is_plaintext_sqlite(p) for p in backups.iterdir())
    assert sorted(p.name for p in backups.iterdir()) == ["aether-v3-x.db", "aether-v4-y.db"]
    assert encrypt_backups(tmp_path / "none", key, root=tmp_path) == 0


def test_opening_without_any_key_store_is_a_data_key_error_and_creates_nothing(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path / "home").ensure()
    store = KeyStore(namespace="t", key_file=paths.key_file, backend=keyring.backends.fail.Keyring())
    with pytest.raises(DataKeyError, match="opt in"):
        open_app_database(paths, store, allow_key_file=False)
    assert not paths.app_db.exists()
    data = open_app_database(paths, store, allow_key_file=True)
    data.database.close()
    assert data.key.source == "key_file" and encrypted_data_exists(paths.app_db)
