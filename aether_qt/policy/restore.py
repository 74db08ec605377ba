"""``aether restore``: replace a home's data with a checked backup, keeping everything it replaces.

The caller holds the home's instance lock (no app runs on it, none can start)
and has read the bundle with :func:`~aether_qt.policy.restore_bundle.read_bundle`,
which verified everything before the home was touched. Then:

1. :func:`plan_restore` compares the bundle with the home. A home with no data is
   *fresh*. A backup of the same log that ends before the home's anchor (a lower
   epoch or seq, or another row where the anchor points) is the *rollback* it is:
   the caller must ask the user, and the restore records the acknowledgement.
2. :func:`install` writes what the swap needs into the staging folder first, then
   moves the home's ``aether.db``, ``audit.db`` (with their ``-wal``/``-shm``) and
   personas folder into ``data/replaced-<time>/`` (with copies of the window's
   settings and the anchor file), moves the bundle's files into place, stores the
   bundled keys in this home's keyring namespace or key file (a different key is
   kept under a ``replaced-<time>`` entry, so the data set aside stays readable)
   and saves the bundled anchor, never over a newer one of the same log. A failure
   before the keys are stored moves everything back. Nothing is ever deleted.
3. :func:`finish` acknowledges a rollback as a new audit epoch whose row names the
   restore (:mod:`aether_qt.policy.audit_epoch`), then opens the restored home once:
   its start checks run, the grant ledger is checked against the verified rows,
   a ``data_restore`` row records what was restored, and it closes cleanly, so
   ``aether audit verify`` exits 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aether_qt.core.paths import AppPaths
from aether_qt.policy.audit_anchor import Anchor, AnchorWriteError
from aether_qt.policy.audit_epoch import AcknowledgeError, acknowledge
from aether_qt.policy.audit_home import anchor_store_for, keystore_for
from aether_qt.policy.contracts import AuditEntry, AuditWriteError
from aether_qt.policy.effects import remove_own_file, remove_own_folder, replace_own_file, write_own_file
from aether_qt.policy.keys import KeysUnavailableError
from aether_qt.policy.restore_bundle import Bundle, RestoreError
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.storage.errors import StorageError

_SIDES = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True, slots=True)
class RestorePlan:
    """What a restore of one bundle would do to one home.

    Attributes:
        fresh: the home holds no data yet.
        rollback: the bundle is an older state of the home's own log.
        current: the home's anchor, when the bundle's key vouches for it (same installation).
        present: what the home holds now (all of it is set aside, never deleted).
        summary: sentences for the confirmation.
    """

    fresh: bool
    rollback: bool
    current: Anchor | None
    present: tuple[str, ...]
    summary: str


@dataclass(frozen=True, slots=True)
class Restored:
    """What a restore did.

    Attributes:
        replaced: where the replaced data is kept (None on a fresh home).
        keys: where the restored keys went (``keyring`` or ``key_file``).
        epoch: the audit epoch the restored home starts in.
        audit_id: the ``data_restore`` row.
        acknowledged: the new epoch's summary, when the restore was a rollback.
    """

    replaced: Path | None
    keys: str
    epoch: int
    audit_id: str
    acknowledged: str = ""


def _present(paths: AppPaths) -> tuple[str, ...]:
    found = [name for name, path in _state_files(paths) if path.exists()]
    folder = paths.personas_dir
    if folder.is_dir() and any(folder.iterdir()):
        found.insert(2, "personas")
    return tuple(found)


def _state_files(paths: AppPaths) -> tuple[tuple[str, Path], ...]:
    return (
        ("aether.db", paths.app_db),
        ("audit.db", paths.audit_db),
        ("window settings", paths.ui_settings_file),
        ("audit anchor", paths.anchor_file),
    )


def plan_restore(paths: AppPaths, bundle: Bundle) -> RestorePlan:
    """Compare ``bundle`` with the home (see the module docstring)."""
    keys = bundle.audit_keys
    reading = anchor_store_for(paths, keystore_for(paths)).read(
        public_key=keys.public_key, key_id=keys.key_id
    )
    current, point = reading.anchor, bundle.manifest.audit
    rollback = False
    if current is not None and current.log_id == point.log_id:
        behind = current.order > (point.epoch, point.seq)
        elsewhere = current.order[0] == point.epoch and 0 < current.seq <= point.seq
        rollback = behind or (elsewhere and bundle.audit_hash_at(current.seq) != current.head_hash)
    present = _present(paths)
    if not present:
        summary = "This home holds no data: the backup is restored into it."
    elif rollback:
        assert current is not None  # rollback implies an anchor of the same log
        summary = (
            f"This backup is older than this home's audit log: it ends at row {point.seq} "
            f"(epoch {point.epoch}), the home's log is at row {current.seq} (epoch {current.epoch}). "
            "Restoring it rolls the log back; a new audit epoch will record that you chose to. "
            "The current data is kept in data/replaced-<time>/."
        )
    else:
        summary = (
            f"This home already holds data ({', '.join(present)}); restoring replaces it. "
            "The current data is kept in data/replaced-<time>/."
        )
    return RestorePlan(
        fresh=not present, rollback=rollback, current=current, present=present, summary=summary
    )


class _Undo:
    """Actions that reverse what :func:`install` did so far, run newest first."""

    def __init__(self) -> None:
        self._actions: list[Callable[[], object]] = []

    def add(self, action: Callable[[], object]) -> None:
        self._actions.append(action)

    def run(self) -> None:
        for action in reversed(self._actions):
            action()


def _move(source: Path, target: Path, root: Path, undo: _Undo) -> None:
    if source.exists() or source.is_symlink():
        replace_own_file(source, target, root=root)
        undo.add(lambda: replace_own_file(target, source, root=root))


def _copy(source: Path, target: Path, root: Path, undo: _Undo) -> None:
    write_own_file(target, source.read_bytes(), root=root)
    undo.add(lambda: remove_own_file(target, root=root))


def _stage(bundle: Bundle, staging: Path, root: Path) -> None:
    """Write the personas into ``staging`` beside the databases, so the swap is renames only."""
    personas = staging / "personas"
    personas.mkdir(mode=0o700)
    for name, data in sorted(bundle.personas.items()):
        write_own_file(personas / name, data, root=root)


def _swap(paths: AppPaths, bundle: Bundle, staging: Path, replaced: Path | None, undo: _Undo) -> None:
    """Set the home's data aside (into ``replaced``) and move the staged bundle into place."""
    root = paths.data_dir
    if replaced is not None:
        replaced.mkdir(mode=0o700)
        undo.add(lambda: remove_own_folder(replaced, root=root))
        copies = replaced / "config"
        copies.mkdir(mode=0o700)
        undo.add(lambda: remove_own_folder(copies, root=root))
        for name, path in _state_files(paths)[:2]:
            for side in _SIDES:
                _move(path.with_name(path.name + side), replaced / (name + side), root, undo)
        _move(paths.personas_dir, replaced / "personas", root, undo)
        for _, path in _state_files(paths)[2:]:  # config files: copied (another folder, maybe another disk)
            if path.is_file():
                _copy(path, copies / path.name, root, undo)
    for name, path in _state_files(paths)[:2]:
        for side in _SIDES:
            _move(staging / (name + side), path.with_name(path.name + side), root, undo)
    _move(staging / "personas", paths.personas_dir, root, undo)
    ini, config = paths.ui_settings_file, paths.config_dir
    old = ini.read_bytes() if ini.is_file() else None
    if bundle.ui_settings is not None:
        write_own_file(ini, bundle.ui_settings, root=config)
    else:
        remove_own_file(ini, root=config)
    undo.add(
        lambda: (
            write_own_file(ini, old, root=config) if old is not None else remove_own_file(ini, root=config)
        )
    )


def install(
    paths: AppPaths, bundle: Bundle, *, staging: Path, allow_key_file: bool, stamp: str
) -> tuple[Path | None, str]:
    """Set the home's data aside and put the bundle's in its place (see the module docstring).

    Args:
        paths: the home (its instance lock held by the caller).
        bundle: the checked bundle, its ``aether.db`` staged in ``staging``.
        staging: the staging folder inside the data folder (removed once empty).
        allow_key_file: the keys may go to the opt-in 0600 key file.
        stamp: names ``replaced-<stamp>`` (a folder and the entries of replaced keys).

    Returns:
        Where the replaced data is kept (None when the home held none), and where the keys went.

    Raises:
        RestoreError: no store for the keys (nothing changed), or a step failed (what was done is undone).
    """
    if not bundle.staged_db:
        raise ValueError("a bundle read for a check only cannot be installed")
    keystore = keystore_for(paths)
    if not keystore.status().usable and not allow_key_file:
        raise RestoreError(
            f"no usable keyring ({keystore.status().backend}) for the restored keys: "
            "run again with --allow-key-file to keep them in a 0600 file. Nothing was changed."
        )
    root, undo = paths.data_dir, _Undo()
    replaced = root / f"replaced-{stamp}" if _present(paths) else None
    secrets = bundle.secrets
    try:
        _stage(bundle, staging, root)
        _swap(paths, bundle, staging, replaced, undo)
        where = keystore.install_keys(
            hmac_key=secrets.hmac_key,
            seed=secrets.ed25519_seed,
            data_key=secrets.data_key,
            allow_key_file=allow_key_file,
            keep_old_as=f"replaced-{stamp}",
        )
    except (OSError, KeysUnavailableError) as exc:
        undo.run()
        raise RestoreError(f"the restore failed and was undone: {exc}") from None
    try:
        anchors = anchor_store_for(paths, keystore)
        anchors.save(bundle.anchor, public_key=bundle.audit_keys.public_key)  # False: a newer one is kept
        anchors.close()
    except AnchorWriteError as exc:
        raise RestoreError(f"the data is restored but its audit anchor was not saved: {exc}") from None
    remove_own_folder(staging, root=root)
    return replaced, where


def finish(
    paths: AppPaths,
    bundle: Bundle,
    plan: RestorePlan,
    *,
    source: Path,
    gate: str,
    replaced: Path | None,
    keys: str,
    allow_key_file: bool,
) -> Restored:
    """Acknowledge a rollback, then open the restored home once and record the restore in its log.

    Raises:
        RestoreError: the restored home does not open cleanly (the message says what to run).
    """
    point = bundle.manifest.audit
    cause: dict[str, Any] = {
        "event": "data_restore",
        "backup_created_wall_ms": bundle.manifest.created_wall_ms,
        "backup_head": asdict(point),
        "replaced": replaced.name if replaced is not None else "",
    }
    acknowledged = ""
    try:
        if plan.rollback:
            acknowledged = acknowledge(paths, allow_key_file=allow_key_file, cause=cause).summary
        rt = PolicyRuntime.open(paths, allow_key_file=allow_key_file or None, sole_writer=True)
        try:
            if rt.audit is None or rt.data_error:
                why = rt.data_error or rt.audit_error
                raise RestoreError(f"the data is restored, but the home does not open cleanly: {why}")
            detail = {**cause, "gate": gate, "keys": keys, "rollback": plan.rollback}
            row = rt.audit.append(
                AuditEntry("user", "data.restore", str(source), "data_restore", detail=detail)
            )
            epoch = rt.audit.epoch
        finally:
            rt.close()
    except (AcknowledgeError, AuditWriteError, StorageError) as exc:
        raise RestoreError(f"the data is restored, but the restore could not be recorded: {exc}") from None
    return Restored(
        replaced=replaced, keys=keys, epoch=epoch, audit_id=row.audit_id, acknowledged=acknowledged
    )


__all__ = ["RestorePlan", "Restored", "finish", "install", "plan_restore"]
