"""Reading a backup before anything is replaced: unseal it, check every member, verify its audit chain.

:func:`read_bundle` reads the file once, front to back, into a new staging
folder inside the data folder: ``aether.db`` (still encrypted with the bundled
data key) and ``audit.db`` are streamed there (the runtime guard refuses to open
a database image in memory, and the log holds no memory text: it is the file the
home keeps in the open anyway); every other member is held in memory, bounded by
the format's limits, and the keys never touch the disk. Only once the stream has
ended where its last chunk says it ends (so nothing was cut or appended) are the
members checked as a whole:

* the keys match the manifest's fingerprints;
* the anchor is signed by the bundled Ed25519 key and names the bundled log;
* the staged ``audit.db`` is verified in full with the bundled keys (chain,
  HMAC, checkpoints) against that anchor, and its head is the one the manifest
  names;
* the staged ``aether.db`` opens with the bundled data key, passes SQLite's
  quick check, and has no schema newer than this release knows (a check-only
  read hashes it without writing it).

Any failure removes the staging folder and raises
:class:`~aether_qt.policy.backup_format.BundleError` (a wrong passphrase and a
changed byte among them); the home is not touched.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from aether_qt.core.paths import migrations_dir
from aether_qt.policy.audit_anchor import Anchor, parse_anchor
from aether_qt.policy.audit_verify import open_readonly, verify_connection
from aether_qt.policy.backup_format import (
    ANCHOR,
    APP_DB,
    AUDIT_DB,
    KEYS,
    PERSONAS,
    UI_SETTINGS,
    BundledKeys,
    BundleError,
    Manifest,
    PayloadReader,
    hmac_fingerprint,
    parse_keys,
)
from aether_qt.policy.contracts import PolicyError
from aether_qt.policy.effects import remove_own_file, remove_own_folder, write_own_file
from aether_qt.policy.keys import AuditKeys
from aether_qt.storage.cipher import DRIVER_ERRORS, DataKey, connect_keyed
from aether_qt.storage.migrations import latest_version
from aether_qt.storage.sealed_stream import MODERATE, KdfCost, StreamOpener, plain_size

_log = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]
STAGED_DB, STAGED_AUDIT = "aether.db", "audit.db"


class RestoreError(PolicyError):
    """The restore cannot go on for a reason outside the bundle (disk, keys, a running app)."""


@dataclass(frozen=True, slots=True)
class Bundle:
    """A backup read and checked in full (see the module docstring).

    Attributes:
        manifest: its manifest.
        secrets: the raw keys inside (hidden from ``repr``).
        audit_keys: the audit keys built from them.
        data_key: the data key built from them.
        anchor: the anchor the bundled log extends.
        staging: the staging folder: ``audit.db`` and (unless only checked) ``aether.db``.
        personas: persona file name -> bytes.
        ui_settings: the window's settings file, if the backup has one.
        staged_db: whether ``aether.db`` was staged (False when only checked).
    """

    manifest: Manifest
    secrets: BundledKeys = field(repr=False)
    audit_keys: AuditKeys = field(repr=False)
    data_key: DataKey = field(repr=False)
    anchor: Anchor
    staging: Path
    personas: dict[str, bytes] = field(repr=False)
    ui_settings: bytes | None = field(repr=False)
    staged_db: bool

    def audit_hash_at(self, seq: int) -> str | None:
        """The bundled log's event hash at ``seq``, if it has that row."""
        conn = open_readonly(self.staging / STAGED_AUDIT)
        try:
            found = conn.execute("SELECT event_hash FROM audit_log WHERE seq = ?", (seq,)).fetchone()
        finally:
            conn.close()
        return None if found is None else str(found[0])


def _counted(chunks: Iterable[bytes], total: int, progress: Progress | None) -> Iterator[bytes]:
    done = 0
    for chunk in chunks:
        done += len(chunk)
        if progress is not None:
            progress(done, total)
        yield chunk


def _read_members(reader: PayloadReader, staging: Path, root: Path, *, keep_db: bool) -> dict[str, bytes]:
    """Databases streamed into ``staging`` (``aether.db`` only hashed unless ``keep_db``), the rest kept."""
    found: dict[str, bytes] = {}
    for member, data in reader.members():
        if member.name not in (APP_DB, AUDIT_DB):
            found[member.name] = b"".join(data)
        elif member.name == AUDIT_DB or keep_db:
            try:
                write_own_file(staging / member.name, data, root=root)
            except OSError as exc:
                raise RestoreError(f"the backup could not be unpacked in {staging}: {exc.strerror}") from None
    return found


def _keys(manifest: Manifest, raw: bytes) -> tuple[BundledKeys, AuditKeys, DataKey]:
    secrets = parse_keys(raw)
    audit_keys = AuditKeys.from_secrets(secrets.hmac_key, secrets.ed25519_seed, source="backup")
    data_key = DataKey(secrets.data_key, source="backup")
    prints = manifest.keys
    if (prints.data_key, prints.audit_key_id, prints.hmac_key) != (
        data_key.fingerprint(),
        audit_keys.key_id,
        hmac_fingerprint(secrets.hmac_key),
    ):
        raise BundleError("the keys inside the backup are not the ones its manifest names")
    return secrets, audit_keys, data_key


def _anchor(manifest: Manifest, raw: bytes, keys: AuditKeys) -> Anchor:
    try:
        anchor = parse_anchor(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BundleError("the backup's audit anchor is malformed") from None
    if anchor.key_id != keys.key_id or not anchor.signature_ok(keys.public_key):
        raise BundleError("the backup's audit anchor is not signed by its key")
    if anchor.log_id != manifest.audit.log_id or max(anchor.epoch, 1) != manifest.audit.epoch:
        raise BundleError("the backup's audit anchor is not the one of its log")
    return anchor


def _verify_audit(manifest: Manifest, path: Path, keys: AuditKeys, anchor: Anchor) -> None:
    """The staged log verifies in full against its anchor and ends at the manifest's head."""
    try:
        conn = open_readonly(path)
        try:
            report = verify_connection(conn, keys=keys, anchor=anchor, live=True)
            head = conn.execute("SELECT seq, event_hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        finally:
            conn.close()
    except (sqlite3.Error, AttributeError, IndexError, KeyError, OverflowError, TypeError, ValueError) as exc:
        # a bundle sealed with the right passphrase can still hold any bytes: none may escape untyped
        raise BundleError(f"the backup's audit log cannot be read ({type(exc).__name__})") from None
    if not report.intact:
        raise BundleError(f"the backup's audit log fails verification: {report.message}")
    point = manifest.audit
    if head is None or (head[0], head[1]) != (point.seq, point.head_hash):
        raise BundleError("the backup's audit log does not end where its manifest says")


def _check_app_db(staged: Path, key: DataKey) -> None:
    """The staged ``aether.db`` opens with ``key``, passes the quick check, and has a schema we know."""
    try:
        conn = connect_keyed(staged, key, read_only=True)
        try:
            verdict = str(conn.execute("PRAGMA quick_check").fetchone()[0])
            known = conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'schema_migrations'")
            version = 0
            if known.fetchone()[0]:
                version = int(
                    conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]
                )
        finally:
            conn.close()
    except DRIVER_ERRORS:
        verdict, version = "it does not open with the bundled data key", 0
    except MemoryError:  # SQLITE_NOMEM: the engine gave up on a page it cannot make sense of
        verdict, version = "the database engine cannot read it", 0
    if verdict != "ok":
        raise BundleError(f"the backup's aether.db is damaged: {verdict}")
    newest = latest_version(migrations_dir())
    if version > newest:
        raise BundleError(
            f"the backup was made by a newer Aether (database schema {version}, this release knows "
            f"{newest}): update Aether, then restore it"
        )


def discard_staging(staging: Path, *, root: Path) -> None:
    """Remove what a failed, refused or check-only restore left in ``staging`` (nothing outside it)."""
    if not staging.is_dir():
        return
    personas = staging / "personas"
    try:
        if personas.is_dir():
            for entry in personas.iterdir():
                remove_own_file(entry, root=root)
            remove_own_folder(personas, root=root)
        for name in (STAGED_DB, STAGED_AUDIT):
            for side in ("", "-wal", "-shm", "-journal"):
                remove_own_file(staging / (name + side), root=root)
        remove_own_folder(staging, root=root)
    except OSError as exc:  # said, not raised: the restore's own outcome is what the user must see
        _log.warning("the staging folder %s was not removed: %s", staging.name, exc.strerror)


def read_bundle(
    source: Path,
    passphrase: str,
    *,
    staging: Path,
    root: Path,
    keep_db: bool = True,
    min_cost: KdfCost = MODERATE,
    progress: Progress | None = None,
) -> Bundle:
    """Unseal and check the backup at ``source`` (see the module docstring).

    Args:
        source: the backup file.
        passphrase: its passphrase.
        staging: a new folder inside ``root`` that receives the databases (the caller
            removes it with :func:`discard_staging` once done; a failure here removes it).
        root: the data folder.
        keep_db: stage ``aether.db`` (False: a check only, which hashes it without writing it).
        min_cost: the cheapest key derivation accepted (tests lower it).
        progress: ``progress(bytes unsealed, total)``.

    Raises:
        BundleError: not a backup, a wrong passphrase, a changed or cut file, or a check failed.
        RestoreError: the staging folder could not be written (the disk is full...).
    """
    try:
        handle = source.open("rb")
    except OSError as exc:
        raise BundleError(f"the backup cannot be read: {exc.strerror}") from None
    try:
        staging.mkdir(mode=0o700)
    except OSError as exc:
        handle.close()
        raise RestoreError(f"the staging folder {staging} cannot be made: {exc.strerror}") from None
    try:
        with handle:
            total = plain_size(os.fstat(handle.fileno()).st_size)
            if total is None:
                raise BundleError("not a sealed Aether backup, or it was cut short")
            opener = StreamOpener(handle, passphrase, min_cost=min_cost)
            reader = PayloadReader(_counted(opener.chunks(), total, progress))
            manifest = reader.manifest()
            if manifest.payload_size != total:
                raise BundleError("the backup's size is not the one its manifest adds up to")
            members = _read_members(reader, staging, root, keep_db=keep_db)
        return _checked(manifest, members, staging, keep_db=keep_db)
    except BaseException:
        discard_staging(staging, root=root)
        raise


def _checked(manifest: Manifest, members: dict[str, bytes], staging: Path, *, keep_db: bool) -> Bundle:
    secrets, audit_keys, data_key = _keys(manifest, members[KEYS])
    anchor = _anchor(manifest, members[ANCHOR], audit_keys)
    _verify_audit(manifest, staging / STAGED_AUDIT, audit_keys, anchor)
    if keep_db:
        _check_app_db(staging / STAGED_DB, data_key)
    personas = {name[len(PERSONAS) :]: data for name, data in members.items() if name.startswith(PERSONAS)}
    return Bundle(
        manifest=manifest,
        secrets=secrets,
        audit_keys=audit_keys,
        data_key=data_key,
        anchor=anchor,
        staging=staging,
        personas=personas,
        ui_settings=members.get(UI_SETTINGS),
        staged_db=keep_db,
    )


__all__ = ["STAGED_AUDIT", "STAGED_DB", "Bundle", "RestoreError", "discard_staging", "read_bundle"]
