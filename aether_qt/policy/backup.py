"""``aether backup``: a consistent copy of a home, taken while the app runs, sealed with a passphrase.

What goes in (:mod:`aether_qt.policy.backup_format`): ``aether.db``, still
encrypted with the data key (SQLCipher's online-backup API copies it into a
file beside it, which is sealed into the bundle and deleted); ``audit.db``
(SQLite's online-backup API copies it into memory: no copy of it is left on
disk); the audit anchor that copy extends; the user's personas; the window's
settings file; and the installation's keys (data key, audit HMAC key, Ed25519
seed), so the backup can be restored on a new machine. Everything is sealed
with a key derived from the passphrase (:mod:`aether_qt.storage.sealed_stream`)
and streamed to the file by the ``data.backup`` effector: the bundle is never
held whole in memory and nothing in it is ever written in clear.

Consistency: the anchor is read first, then each database is copied in one read
transaction (a WAL snapshot), so the copy of the log extends that anchor, and
its rows since the anchor's verified point are verified before anything is
written (a backup never carries a log that fails its checks). The two databases
are copied one after the other: a grant given in between is in one copy and not
in the other, which the restored home's first start settles from the verified
audit rows (the ledger is rebuilt from them).
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aether_qt import __version__
from aether_qt.core.paths import AppPaths
from aether_qt.policy.audit_anchor import Anchor, AnchorReading
from aether_qt.policy.audit_start import check_connection
from aether_qt.policy.audit_verify import open_readonly
from aether_qt.policy.backup_format import (
    ANCHOR,
    APP_DB,
    AUDIT_DB,
    KEYS,
    LIMITS,
    MAX_PERSONAS,
    PERSONAS,
    UI_SETTINGS,
    AuditPoint,
    BundledKeys,
    BundleError,
    KeyPrints,
    Manifest,
    Source,
    describe,
    encode_payload,
    hmac_fingerprint,
    member_limit,
)
from aether_qt.policy.canonical import canonical_json
from aether_qt.policy.contracts import PolicyError
from aether_qt.policy.effects import remove_own_file
from aether_qt.policy.keys import AuditKeys
from aether_qt.storage.cipher import DRIVER_ERRORS, DataKey, connect_keyed
from aether_qt.storage.sealed_stream import CHUNK, MODERATE, KdfCost, StreamSealer, sealed_size

if TYPE_CHECKING:
    from aether_qt.policy.decisions import Permit
    from aether_qt.policy.runtime import PolicyRuntime

Progress = Callable[[int, int | None], None]
SNAPSHOT_PREFIX = ".snapshot-"


class BackupError(PolicyError):
    """The backup cannot be made (the message says why); no file was written."""


@dataclass(frozen=True, slots=True)
class BackupDone:
    """What :func:`make_backup` wrote.

    Attributes:
        path: the backup file.
        manifest: its manifest.
        size: its size in bytes.
        skipped: entries of the personas folder left out (not persona files).
    """

    path: Path
    manifest: Manifest
    size: int
    skipped: tuple[str, ...] = ()


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while piece := handle.read(CHUNK):
            yield piece


@contextmanager
def app_db_copy(paths: AppPaths, key: DataKey) -> Iterator[Path]:
    """A consistent copy of ``aether.db``, encrypted with the same key, beside it for the ``with`` block.

    SQLCipher checks the HMAC of every page the backup API reads, so a damaged
    page fails the copy here; the restore checks the copy's structure again.

    Raises:
        BackupError: the database cannot be read (a wrong key, a damaged page, a full disk).
    """
    paths.backups_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    copy = paths.backups_dir / f"{SNAPSHOT_PREFIX}{uuid.uuid4().hex}.tmp"
    try:
        try:
            source = connect_keyed(paths.app_db, key, read_only=True)
            try:
                target = connect_keyed(copy, key)
                try:
                    source.backup(target)  # one step: one read transaction, a consistent snapshot
                    target.execute("PRAGMA journal_mode=DELETE")  # opens read-only without a -wal
                finally:
                    target.close()
            finally:
                source.close()
        except DRIVER_ERRORS as exc:
            raise BackupError(f"aether.db could not be copied: {exc}") from None
        yield copy
    finally:
        for leftover in (copy, copy.with_name(copy.name + "-journal")):
            remove_own_file(leftover, root=paths.data_dir)


def audit_copy(
    path: Path, keys: AuditKeys, anchor: Anchor, *, limit: int = LIMITS[AUDIT_DB]
) -> tuple[bytes, AuditPoint]:
    """A consistent in-memory copy of ``audit.db`` checked against ``anchor``, and its head.

    The image is marked as a rollback-journal database (header bytes 18 and 19),
    which SQLite needs to open it in memory; the log turns it back to WAL when it
    opens it. A copy larger than ``limit`` bytes is refused (it is held in memory).

    Raises:
        BackupError: it cannot be read, is too large, or fails its checks.
    """
    try:
        source, memory = open_readonly(path), sqlite3.connect(":memory:")
        try:
            source.backup(memory)
            check = check_connection(memory, keys=keys, reading=AnchorReading(anchor), live=True)
            image = bytearray(memory.serialize())
        finally:
            source.close()
            memory.close()
    except sqlite3.Error as exc:
        raise BackupError(f"audit.db could not be copied: {exc}") from None
    if not check.ok:
        raise BackupError(f"the audit log fails its checks, so it is not backed up: {check.message}")
    if len(image) > limit:
        raise BackupError(f"the audit log is larger than a backup can hold ({limit} bytes)")
    image[18:20] = b"\x01\x01"
    point = AuditPoint(anchor.log_id, check.epoch, check.verified_seq, check.verified_hash)
    return bytes(image), point


def persona_files(folder: Path) -> tuple[dict[str, bytes], tuple[str, ...]]:
    """The persona files of ``folder`` by member name, and the entries left out.

    Raises:
        BackupError: a persona file is too large, or there are too many.
    """
    found: dict[str, bytes] = {}
    skipped: list[str] = []
    entries = sorted(folder.iterdir()) if folder.is_dir() else []
    for entry in entries:
        name = PERSONAS + entry.name
        try:
            limit = member_limit(name)
        except BundleError:
            limit = -1
        if limit < 0 or entry.is_symlink() or not entry.is_file():
            skipped.append(entry.name)
            continue
        data = entry.read_bytes()
        if len(data) > limit:
            raise BackupError(f"the persona file {entry.name} is larger than {limit} bytes")
        found[name] = data
    if len(found) > MAX_PERSONAS:
        raise BackupError(f"there are more than {MAX_PERSONAS} persona files")
    return found, tuple(skipped)


def ui_settings(path: Path) -> bytes | None:
    """The window's settings file, if there is one.

    Raises:
        BackupError: it is too large.
    """
    if path.is_symlink() or not path.is_file():
        return None
    data = path.read_bytes()
    if len(data) > LIMITS[UI_SETTINGS]:
        raise BackupError(f"{path.name} is larger than a backup holds")
    return data


def _constant(data: bytes) -> Source:
    return lambda: (data,)


def make_backup(
    rt: PolicyRuntime,
    permit: Permit,
    out: Path,
    passphrase: str,
    *,
    cost: KdfCost = MODERATE,
    progress: Progress | None = None,
) -> BackupDone:
    """Write the backup of ``rt``'s home to the new file ``out`` under the ``data.backup`` ``permit``.

    Args:
        rt: the open policy runtime of the home.
        permit: the Allow's permit for ``data.backup`` on ``out``.
        out: the new file (it must not exist).
        passphrase: seals the backup (never stored, never logged).
        cost: the key derivation's cost (tests pass a cheaper one).
        progress: ``progress(bytes written, total)`` while the file is written.

    Raises:
        BackupError: the home cannot be backed up (no keys, a log failing its checks,
            a passphrase too short...); nothing was written.
        EffectError: the file could not be written (it exists, outside the approved folders, disk full).
        PermitError: the permit is not for this file.
        BundleError: a member changed between its two reads (the file is removed).
    """
    keys, data_key = rt.keys, rt.data_key
    if keys is None or data_key is None or rt.audit is None:
        raise BackupError(
            f"the home's keys or audit log are not available: {rt.audit_error or rt.keys_error}"
        )
    try:
        sealer = StreamSealer(passphrase, cost=cost)
    except ValueError as exc:
        raise BackupError(str(exc)) from None
    anchor = rt.anchor()  # before the copy: the copied log then extends it
    if anchor is None:
        raise BackupError("the audit log has no valid anchor to back up")
    audit_image, point = audit_copy(rt.paths.audit_db, keys, anchor)
    personas, skipped = persona_files(rt.paths.personas_dir)
    secrets = BundledKeys(data_key.secret, keys.hmac_key, bytes(keys.signing_key))
    sources: dict[str, Source] = {
        KEYS: _constant(secrets.encode()),
        ANCHOR: _constant(canonical_json(anchor.to_json())),
        AUDIT_DB: _constant(audit_image),
    }
    settings = ui_settings(rt.paths.ui_settings_file)
    if settings is not None:
        sources[UI_SETTINGS] = _constant(settings)
    sources.update({name: _constant(data) for name, data in personas.items()})
    with app_db_copy(rt.paths, data_key) as copy:
        sources[APP_DB] = lambda: _file_chunks(copy)
        manifest = Manifest(
            created_wall_ms=rt.clock.wall_ms(),
            app_version=__version__,
            members=tuple(describe(name, source) for name, source in sources.items()),
            audit=point,
            keys=KeyPrints(data_key.fingerprint(), keys.key_id, hmac_fingerprint(keys.hmac_key)),
        )
        size = sealed_size(manifest.payload_size)
        chunks = sealer.seal(encode_payload(manifest, sources))
        written = rt.effectors.write_backup(permit, out, chunks, size=size, progress=progress)
    return BackupDone(path=written, manifest=manifest, size=size, skipped=skipped)


__all__ = [
    "SNAPSHOT_PREFIX",
    "BackupDone",
    "BackupError",
    "app_db_copy",
    "audit_copy",
    "make_backup",
    "persona_files",
    "ui_settings",
]
