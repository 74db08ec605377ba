"""The audit log of one home as a whole: its keys, its anchor, who writes it, verify and acknowledge.

These functions work on a home's folders without opening the policy runtime,
so ``aether audit verify`` and ``aether audit acknowledge`` can run when the
runtime refuses to (a log that does not extend its anchor leaves the gate
deny-all, see :mod:`aether_qt.policy.audit_start`).

:func:`acknowledge` is the only way out of that state, and it is audited: it
starts a new *epoch*. A log whose own chain is intact (a restored older copy, a
replaced or unanchored one, an invalid anchor copy) is kept and gets an
``audit_epoch`` row that records what was lost (the anchor's log, rows and head
hash); a log that fails its own verification (edited rows) is set aside as
``audit.db.tampered-<time>`` and a new log begins with that row; a missing log
is started afresh with it. The anchor then vouches for the new epoch.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aether_qt.core.instance_lock import LOCK_FILE
from aether_qt.core.paths import AppPaths
from aether_qt.policy.audit_anchor import AnchorReading, AnchorStore
from aether_qt.policy.audit_verify import VerifyReport, open_readonly, verify_log
from aether_qt.policy.keys import AuditKeys, KeyStore, KeysUnavailableError, install_namespace

INSTANCE_LOCK = LOCK_FILE


def keystore_for(paths: AppPaths) -> KeyStore:
    """The key store of one installation (namespaced by its config folder)."""
    return KeyStore(namespace=install_namespace(paths.config_dir), key_file=paths.key_file)


def anchor_store_for(paths: AppPaths, keystore: KeyStore) -> AnchorStore:
    """Anchor kept in the keyring (when usable) and in the config folder."""
    usable = keystore.status().usable
    return AnchorStore(anchor_file=paths.anchor_file, keystore=keystore if usable else None)


def home_in_use(paths: AppPaths, *, flock: Callable[[int, int], None] = fcntl.flock) -> bool:
    """Whether a running app holds this home (its instance lock in the data folder).

    The app keeps an exclusive ``flock`` on ``data/aether.lock`` for its life;
    probing takes the lock for an instant and releases it. A lock that cannot
    be probed (a file system without locks) is not taken for a running app.

    Args:
        paths: the home.
        flock: takes and releases the lock; tests pass one that fails the way a
            file system without a lock service does.
    """
    lock = paths.data_dir / INSTANCE_LOCK
    if not lock.exists():
        return False
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def log_key(path: Path) -> tuple[bytes, str]:
    """The public key and key id a log names in its ``meta`` (empty when unreadable)."""
    if not path.exists():
        return b"", ""
    try:
        conn = open_readonly(path)
    except sqlite3.Error:
        return b"", ""
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        return bytes.fromhex(str(meta["public_key"])), str(meta["key_id"])
    except (sqlite3.Error, KeyError, ValueError):
        return b"", ""
    finally:
        conn.close()


def load_home_keys(paths: AppPaths, *, allow_key_file: bool = False) -> AuditKeys | None:
    """The home's audit keys for reading (never minted here), or None."""
    try:
        return keystore_for(paths).load_keys(
            log_exists=True, allow_key_file=allow_key_file or paths.key_file.exists()
        )
    except KeysUnavailableError:
        return None


def read_anchors(paths: AppPaths, keys: AuditKeys | None) -> AnchorReading:
    """The anchor copies, checked against the keys (or, without keys, the key the log names)."""
    public_key, key_id = (keys.public_key, keys.key_id) if keys is not None else log_key(paths.audit_db)
    if not public_key:
        return AnchorReading(None)
    return anchor_store_for(paths, keystore_for(paths)).read(public_key=public_key, key_id=key_id)


def verify_home(paths: AppPaths, *, allow_key_file: bool = False, live: bool | None = None) -> VerifyReport:
    """Verify a home's audit log without opening it for writing (for ``doctor`` and ``audit verify``).

    Args:
        paths: the home.
        allow_key_file: the keys may be in the opt-in key file.
        live: a writer is alive (default: whether a running app holds the home).
    """
    keys = load_home_keys(paths, allow_key_file=allow_key_file)
    reading = read_anchors(paths, keys)
    return verify_log(
        paths.audit_db,
        keys=keys,
        anchor=reading.anchor,
        invalid_anchors=reading.invalid,
        live=home_in_use(paths) if live is None else live,
    )


@dataclass(frozen=True, slots=True)
class Acknowledged:
    """What :func:`acknowledge` did.

    Attributes:
        done: a new epoch was started (False: there was nothing to acknowledge).
        epoch: the epoch now in force.
        summary: one sentence for the user.
        lost: what the epoch row records as lost.
    """

    done: bool
    epoch: int
    summary: str
    lost: dict[str, Any]


__all__ = [
    "INSTANCE_LOCK",
    "Acknowledged",
    "anchor_store_for",
    "home_in_use",
    "keystore_for",
    "load_home_keys",
    "log_key",
    "read_anchors",
    "verify_home",
]
