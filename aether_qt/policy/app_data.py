"""``aether.db`` encrypted at rest: its key, the one-time encryption of an older plaintext file, opening.

Every opener of the app database goes through :func:`open_app_database`: it
loads the data key (:meth:`~aether_qt.policy.keys.KeyStore.load_data_key`),
encrypts a plaintext database left by an older release, and opens the SQLCipher
file. What cannot be done comes out as a typed
:class:`~aether_qt.storage.errors.StorageError` (a missing or wrong key is a
:class:`~aether_qt.storage.errors.DataKeyError`) and never as a new, empty
database over the old one.

Encrypting an old file is crash-safe at every step, and the next start
finishes an interrupted run:

1. ``aether.db.encrypting`` is written from the plaintext with SQLCipher's
   ``sqlcipher_export`` and checked (integrity and the row count of every table);
2. the plaintext is renamed ``aether.db.plaintext`` (the backup, kept until the
   encrypted file has opened), then the encrypted copy is renamed ``aether.db``;
3. after the first successful open, the plaintext copy is deleted.

A crash before step 2 leaves the plaintext in place (the partial copy is thrown
away); a crash between the two renames leaves only ``aether.db.plaintext``,
which the next start puts back. Older plaintext copies in ``backups/`` (taken
before schema migrations) are encrypted the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee

from aether_qt.core.paths import AppPaths, migrations_dir
from aether_qt.policy.effects import remove_own_file, replace_own_file
from aether_qt.policy.keys import KeyStore, KeysUnavailableError
from aether_qt.storage.cipher import DRIVER_ERRORS, DataKey, connect_keyed, is_plaintext_sqlite
from aether_qt.storage.database import open_database
from aether_qt.storage.errors import DatabaseLockedError, DataKeyError, StorageError, translate_sqlite_error
from aether_qt.storage.statement_hook import StatementHook

_log = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".encrypting"
ASIDE_SUFFIX = ".plaintext"
_SIDE_FILES = ("-wal", "-shm", "-journal")

Step = Callable[[str], None]
"""Called with the name of each step of an encryption (``exported``, ``verified``, ``set_aside``,
``swapped``); crash tests pass one that ends the process there."""


def _no_step(name: str) -> None:
    """The default :data:`Step`: nothing."""


@dataclass(frozen=True, slots=True)
class AppData:
    """The open app database and the key that opened it.

    Attributes:
        database: the SQLCipher database (connections are per thread).
        key: the data key (also seals the files derived from memory).
        encrypted_now: this open encrypted a plaintext database from an older release.
    """

    database: peewee.SqliteDatabase
    key: DataKey
    encrypted_now: bool = False


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _table_counts(conn: Any, schema: str = "main") -> dict[str, int]:
    """Row count of every ordinary table (virtual tables' shadow tables included) in ``schema``."""
    names = [
        str(row[0])
        for row in conn.execute(
            f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'"
        ).fetchall()
    ]
    return {
        name: int(conn.execute(f'SELECT count(*) FROM {schema}."{name}"').fetchone()[0]) for name in names
    }


def _export(path: Path, partial: Path, key: DataKey) -> None:
    """Write the encrypted copy of the plaintext ``path`` to ``partial`` and check it row for row."""
    conn = connect_keyed(path, None, timeout_s=1.0)
    try:
        # leaving WAL needs the only connection: another program still using the file is refused here
        try:
            mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
        except DRIVER_ERRORS:
            mode = "busy"
        if str(mode).lower() != "delete":
            raise DatabaseLockedError(path, detail="another program has it open")
        before = _table_counts(conn)
        conn.execute(f'ATTACH DATABASE ? AS encrypted KEY "{key.sqlcipher_pragma()}"', (str(partial),))
        conn.execute("SELECT sqlcipher_export('encrypted')")
        conn.execute("DETACH DATABASE encrypted")
    finally:
        conn.close()
    check = connect_keyed(partial, key, read_only=True)
    try:
        rows = check.execute("PRAGMA integrity_check").fetchall()
        problems = [str(row[0]) for row in rows if row[0] != "ok"]
        after = _table_counts(check)
    finally:
        check.close()
    if problems or after != before:
        detail = problems[0] if problems else "the encrypted copy does not hold the same rows"
        raise StorageError(f"Encrypting {path} failed: {detail}. The database was left as it was.", path=path)


def _plaintext_sides_idle(path: Path) -> None:
    """Refuse to swap while another program still writes the plaintext (its WAL is not empty)."""
    for suffix in ("-wal", "-journal"):
        side = _sibling(path, suffix)
        if side.exists() and side.stat().st_size > 0:
            raise DatabaseLockedError(path, detail=f"{side.name} is in use by another program")


def encrypt_database(path: Path, key: DataKey, *, root: Path, step: Step = _no_step) -> bool:
    """Encrypt the plaintext SQLite file ``path`` in place (or finish an interrupted run).

    Args:
        path: ``aether.db`` (or a backup copy of it).
        key: the data key.
        root: the app folder ``path`` lies in (every rename and removal stays inside it).
        step: called after each step (crash tests).

    Returns:
        True if a plaintext file was encrypted by this call.

    Raises:
        StorageError: the copy could not be made or checked (the plaintext is untouched), or
            another program is writing the plaintext.
    """
    aside, partial = _sibling(path, ASIDE_SUFFIX), _sibling(path, PARTIAL_SUFFIX)
    if not path.exists() and aside.exists():  # a crash between the two renames
        replace_own_file(aside, path, root=root)
        _log.warning("put back %s after an interrupted encryption", path.name)
    for leftover in (partial, *(_sibling(partial, s) for s in _SIDE_FILES)):
        remove_own_file(leftover, root=root)
    if not is_plaintext_sqlite(path):
        return False
    try:
        _export(path, partial, key)
        step("exported")
        _plaintext_sides_idle(path)
        step("verified")
        for suffix in ("-wal", "-shm"):
            remove_own_file(_sibling(path, suffix), root=root)  # empty: never replayed onto the new file
        replace_own_file(path, aside, root=root)
        step("set_aside")
        replace_own_file(partial, path, root=root)
    except DRIVER_ERRORS as exc:
        remove_own_file(partial, root=root)
        raise translate_sqlite_error(exc, path) from exc
    step("swapped")
    _log.info("encrypted %s with the data key", path.name)
    return True


def finish_encryption(path: Path, *, root: Path) -> None:
    """Delete the plaintext copy kept by :func:`encrypt_database` (call once the encrypted file opened)."""
    aside = _sibling(path, ASIDE_SUFFIX)
    for leftover in (aside, *(_sibling(aside, s) for s in _SIDE_FILES)):
        if remove_own_file(leftover, root=root):
            _log.info("removed the plaintext copy %s", leftover.name)


def encrypt_backups(folder: Path, key: DataKey, *, root: Path, step: Step = _no_step) -> int:
    """Encrypt every plaintext database copy in ``folder`` (pre-migration backups); return how many."""
    done = 0
    for copy in sorted(folder.glob("*.db")) if folder.is_dir() else ():
        if encrypt_database(copy, key, root=root, step=step):
            finish_encryption(copy, root=root)
            done += 1
    return done


def encrypted_data_exists(path: Path) -> bool:
    """An app database that only a data key opens (not empty, not plaintext) is at ``path``."""
    for candidate in (path, _sibling(path, ASIDE_SUFFIX)):
        if candidate.is_file() and candidate.stat().st_size > 0 and not is_plaintext_sqlite(candidate):
            return True
    return False


def open_app_database(
    paths: AppPaths,
    keystore: KeyStore,
    *,
    allow_key_file: bool,
    step: Step = _no_step,
    statement_hook: StatementHook | None = None,
) -> AppData:
    """Load the data key, encrypt an older plaintext database, and open ``aether.db``.

    Args:
        paths: the home.
        keystore: where the data key lives.
        allow_key_file: the user opted in to keys in the 0600 key file.
        step: crash-test hook passed to :func:`encrypt_database`.
        statement_hook: the fault sweep's hook (see :mod:`aether_qt.storage.statement_hook`).

    Raises:
        DataKeyError: no key for existing encrypted data, or the key does not open it.
        StorageError: the database cannot be used for another reason (locked, damaged, full...).
    """
    path, root = paths.app_db, paths.data_dir
    try:
        key = keystore.load_data_key(
            encrypted_data_exists=encrypted_data_exists(path), allow_key_file=allow_key_file
        )
    except KeysUnavailableError as exc:
        raise DataKeyError(path, detail=str(exc)) from None
    try:
        encrypted_now = encrypt_database(path, key, root=root, step=step)
        encrypt_backups(paths.backups_dir, key, root=root, step=step)
    except OSError as exc:
        raise translate_sqlite_error(exc, path) from exc
    database = open_database(
        path,
        migrations=migrations_dir(),
        backups_dir=paths.backups_dir,
        key=key,
        statement_hook=statement_hook,
    )
    finish_encryption(path, root=root)
    return AppData(database=database, key=key, encrypted_now=encrypted_now)


__all__ = [
    "ASIDE_SUFFIX",
    "PARTIAL_SUFFIX",
    "AppData",
    "Step",
    "encrypt_backups",
    "encrypt_database",
    "encrypted_data_exists",
    "finish_encryption",
    "open_app_database",
]
