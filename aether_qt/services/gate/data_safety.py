"""Backup and restore for the trust centre: the user's click is the approval, the policy layer does the work.

:class:`DataSafetyService` satisfies :class:`~aether_qt.widgets.ports.DataSafety`.
Its methods block (a key derivation, copies, a full audit verification), so the
trust centre calls them in a worker thread; expected failures come back as an
:class:`~aether_qt.core.errors.ExplainedError` whose message is for the user
(:class:`BackupRefusedError` among them), anything else is a bug.

*Backup* is the same gated write as ``aether backup``: ``data.backup`` on the
chosen file, asked as the user (the click answers the Ask), written by the
effector from a consistent online copy.

*Restore* only checks the backup in the running app (passphrase, every member,
the audit chain with the bundled keys) and hands the user the command that
restores it. Replacing the live databases in-process is not safe: the app holds
``aether.db`` and ``audit.db`` open in several threads (memory, conversation,
voice, the gate), the anchor moves on every Allow, and every host would have to
be stopped, reopened and re-verified; a half-swapped home is the one outcome a
restore must never produce. ``aether restore`` runs with the app closed and the
home's instance lock held, so nothing can write underneath it.
"""

from __future__ import annotations

import logging
import shlex
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from aether_qt.core.errors import ExplainedError
from aether_qt.policy.backup import make_backup
from aether_qt.policy.contracts import AuditWriteError
from aether_qt.policy.decisions import Allow, decision_as_dict
from aether_qt.policy.restore import plan_restore
from aether_qt.policy.restore_bundle import discard_staging, read_bundle
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.gate.user_acts import decide_as_user
from aether_qt.storage.cipher import SealedFileError
from aether_qt.storage.sealed_stream import MODERATE, KdfCost

_log = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]


class BackupRefusedError(ExplainedError):
    """The gate refused, or the backup file is not one that opens with this passphrase."""


def _when(wall_ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(wall_ms / 1000))


class DataSafetyService:
    """Backups for the trust centre (see the module docstring).

    Args:
        runtime: the app's policy runtime.
        home: the home the app was started with (``--home``), named in the restore command.
        cost: the key derivation of new backups; ``min_cost`` the cheapest one accepted
            when reading (tests lower both; the app keeps the defaults).
    """

    def __init__(
        self,
        *,
        runtime: PolicyRuntime,
        home: Path | None = None,
        cost: KdfCost = MODERATE,
        min_cost: KdfCost = MODERATE,
    ) -> None:
        self._rt = runtime
        self._home = home
        self._cost = cost
        self._min_cost = min_cost

    def backup(self, out: Path, passphrase: str, progress: Progress) -> str:
        """Write a backup to the new file ``out`` (``data.backup``, the click answers the Ask).

        Raises:
            ExplainedError: refused by the gate, or it could not be written (nothing was).
        """
        target = out.expanduser().absolute()
        decision = decide_as_user(self._rt.gate, "data.backup", str(target))
        if not isinstance(decision, Allow):
            data = decision_as_dict(decision)
            why = data.get("reason") or data["decision"]
            raise BackupRefusedError(f"the policy refused it ({why}). {data.get('message') or ''}".strip())
        done = make_backup(self._rt, decision.permit, target, passphrase, cost=self._cost, progress=progress)
        point = done.manifest.audit
        return (
            f"Backed up to {done.path} ({done.size / 1_000_000:.1f} MB, {len(done.manifest.members)} files, "
            f"audit log at row {point.seq}). Keep the passphrase: without it the backup cannot be opened."
        )

    def check_backup(self, bundle: Path, passphrase: str, progress: Progress) -> str:
        """Check the backup ``bundle`` in full and say what it holds (then: quit, ``aether restore``).

        Raises:
            ExplainedError: not a backup, a wrong passphrase, a changed file, or a check failed.
        """
        source = bundle.expanduser().absolute()
        root = self._rt.paths.data_dir
        staging = root / f"check-{uuid.uuid4().hex[:8]}.partial"
        try:
            read = read_bundle(
                source, passphrase, staging=staging, root=root, keep_db=False,
                min_cost=self._min_cost, progress=progress,
            )  # fmt: skip
            self._vouch()
            plan = plan_restore(self._rt.paths, read)
        except SealedFileError as exc:
            raise BackupRefusedError(f"This backup cannot be restored: {exc}.") from None
        finally:
            discard_staging(staging, root=root)
        manifest = read.manifest
        older = (
            " It is older than this home's audit log: restoring it rolls the log back."
            if plan.rollback
            else ""
        )
        return (
            f"The backup of {_when(manifest.created_wall_ms)} is sound: {len(manifest.members)} files, "
            f"its audit log verified up to row {manifest.audit.seq}.{older} "
            "To restore it, quit Aether and run this command in a terminal:"
        )

    def _vouch(self) -> None:
        """Move the anchor to this session's newest row, so "older than this home" compares with it."""
        if self._rt.audit is None:
            return
        try:
            self._rt.audit.vouch(keyring=False)
        except AuditWriteError as exc:  # the comparison then uses the last anchor: said, not raised
            _log.warning("anchor not moved before the backup check: %s", exc)

    def restore_command(self, bundle: Path) -> str:
        """The command that restores ``bundle`` into this home (``--home`` when the app was given one)."""
        home = [] if self._home is None else ["--home", str(self._home)]
        return shlex.join(["aether", *home, "restore", str(bundle.expanduser().absolute())])


__all__ = ["BackupRefusedError", "DataSafetyService"]
