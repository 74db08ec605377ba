"""``aether backup --out FILE`` and ``aether restore FILE``: the whole home in one passphrase-sealed file.

``backup`` is a gated write (``data.backup`` on FILE, asked in every preset: the
command the user typed answers the Ask, recorded as an answered ticket); it runs
while the app runs (see :mod:`aether_qt.policy.backup`). ``restore`` refuses
while the app runs on the home and holds the home's instance lock meanwhile, so
the app cannot start under it; it checks the whole bundle before asking anything
(see :mod:`aether_qt.policy.restore`). A home that already holds data is
replaced only after a confirmation (the prompt, or ``--yes``); the gate is asked
(``data.restore``) when the home can decide, and its answer is audited in the
log that is set aside.

The passphrase is asked twice on a terminal (without echo), or read from the
first line of ``--passphrase-file PATH`` or of standard input with
``--passphrase-stdin`` (:mod:`aether_qt.commands.passphrase`); it is never an
argument, never printed, never logged.

Exit codes: 0 done; 1 refused (not a backup, a wrong passphrase, a changed file,
declined, denied by the gate); 2 it cannot run (no usable passphrase, the app
holds the home, no keys, no usable keyring for the restored keys, a disk error).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from aether_qt.commands.output import emit_json, fail
from aether_qt.commands.passphrase import read_passphrase
from aether_qt.commands.session import CommandError, policy_runtime, user_allow
from aether_qt.core.instance_lock import InstanceLock, holder_pid
from aether_qt.core.paths import AppPaths, resolve_paths
from aether_qt.policy.backup_format import Manifest

EXIT_REFUSED, EXIT_CANNOT = 1, 2


def _size(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size} bytes"


def manifest_dict(manifest: Manifest) -> dict[str, Any]:
    """A manifest as plain data for ``--json`` (fingerprints only: it holds no secret)."""
    data = manifest.to_json()
    data["created"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(manifest.created_wall_ms / 1000))
    return data


def backup(args: argparse.Namespace) -> int:
    """Write a passphrase-sealed backup of the home to ``--out`` through the gate (``data.backup``)."""
    from aether_qt.policy.backup import BackupError, make_backup
    from aether_qt.policy.contracts import PermitError
    from aether_qt.policy.effect_types import EffectError

    out = Path(args.out).expanduser().absolute()
    try:
        passphrase = read_passphrase(args, confirm=True)
        with policy_runtime(args) as rt:
            if rt.audit is None:
                raise CommandError(f"the audit log cannot be opened: {rt.audit_error or rt.keys_error}", 2)
            decision = user_allow(rt, "data.backup", str(out), "backup")
            try:
                done = make_backup(rt, decision.permit, out, passphrase)
            except BackupError as exc:
                raise CommandError(f"backup failed: {exc}. Nothing was written.", EXIT_CANNOT) from None
            except (EffectError, PermitError) as exc:
                raise CommandError(f"backup failed: {exc}", EXIT_CANNOT) from None
    except CommandError as exc:
        return fail(str(exc), exc.code)
    if args.json:
        emit_json(
            {
                "path": str(done.path),
                "size": done.size,
                "skipped": list(done.skipped),
                **manifest_dict(done.manifest),
            }
        )
        return 0
    point, prints = done.manifest.audit, done.manifest.keys
    sys.stdout.write(f"wrote {done.path} ({_size(done.size)})\n")
    sys.stdout.write(f"audit log: row {point.seq}, epoch {point.epoch}, head {point.head_hash[:16]}\n")
    sys.stdout.write(f"keys inside: data {prints.data_key}, audit {prints.audit_key_id}\n")
    for member in done.manifest.members:
        sys.stdout.write(f"  {member.name}  {_size(member.size)}  sha256 {member.sha256[:16]}\n")
    for name in done.skipped:
        sys.stdout.write(f"  (not a persona file, left out: personas/{name})\n")
    sys.stdout.write("Keep the passphrase safe: without it nobody, you included, can open this backup.\n")
    return 0


def _confirm(args: argparse.Namespace, summary: str) -> None:
    """The user's yes to replacing the home's data (``--yes``, or a prompt on a terminal)."""
    if args.yes:
        return
    if args.passphrase_stdin or not sys.stdin.isatty():
        raise CommandError(f"{summary} Run again with --yes to restore. Nothing was changed.", EXIT_REFUSED)
    sys.stderr.write(summary + "\n")
    sys.stderr.write("Restore this backup? [y/N] ")
    sys.stderr.flush()
    if sys.stdin.readline().strip().lower() not in ("y", "yes"):
        raise CommandError("not restored: declined. Nothing was changed.", EXIT_REFUSED)


def _ask_gate(args: argparse.Namespace, paths: AppPaths, source: Path) -> str:
    """Ask this home's gate for ``data.restore`` on ``source`` (the user's command answers an Ask).

    Returns what the restore row records about it. A home with no data has no policy to ask;
    a home whose data or log is locked cannot answer (the user's confirmation then stands alone).

    Raises:
        CommandError: the gate refused.
    """
    from aether_qt.policy.runtime import PolicyRuntime
    from aether_qt.storage.errors import StorageError

    if not (paths.app_db.exists() or paths.audit_db.exists()):
        return "no policy yet (a home without data)"
    allow = getattr(args, "allow_key_file", False) or None
    try:
        rt = PolicyRuntime.open(paths, allow_key_file=allow, sole_writer=True)
    except StorageError as exc:
        return f"unavailable: {exc}"
    try:
        if rt.data_error or rt.audit is None:
            return f"unavailable: {rt.data_error or rt.audit_error or rt.keys_error}"
        decision = user_allow(rt, "data.restore", str(source), "restore")
        rt.gate.redeem(decision.permit, "data.restore", str(source))
        return f"allowed (audit row {decision.audit_id} of the replaced log)"
    finally:
        rt.close()


def restore(args: argparse.Namespace) -> int:
    """Replace the home's data with the backup FILE (see the module docstring)."""
    paths = resolve_paths(args.home)
    source = Path(args.file).expanduser().absolute()
    try:
        lock = InstanceLock.acquire(paths.data_dir)
    except OSError as exc:
        return fail(f"cannot lock the home: {exc.strerror}", EXIT_CANNOT)
    if lock is None:
        pid = holder_pid(paths.data_dir)
        who = f" (pid {pid})" if pid is not None else ""
        return fail(
            f"Aether is running on this home{who}: quit it, then run `aether restore` again. "
            "Nothing was changed.",
            EXIT_CANNOT,
        )
    try:
        with lock:
            result = _restore(args, paths.ensure(), source)
    except CommandError as exc:
        return fail(str(exc), exc.code)
    if args.json:
        emit_json(result)
    else:
        sys.stdout.write(f"restored the backup of {result['created']} ({result['members']} files)\n")
        if result["replaced"]:
            sys.stdout.write(f"the replaced data is kept in {result['replaced']}\n")
        if result["acknowledged"]:
            sys.stdout.write(result["acknowledged"] + "\n")
        sys.stdout.write(
            f"keys stored in the {result['keys'].replace('_', ' ')}; audit epoch {result['epoch']}\n"
        )
    return 0


def _restore(args: argparse.Namespace, paths: AppPaths, source: Path) -> dict[str, Any]:
    """Read, check, ask, install, record (the home's lock is held)."""
    from aether_qt.policy.restore import finish, install, plan_restore
    from aether_qt.policy.restore_bundle import RestoreError, discard_staging, read_bundle
    from aether_qt.policy.runtime import logging_guard
    from aether_qt.storage.cipher import SealedFileError

    passphrase = read_passphrase(args, confirm=False)
    logging_guard(paths.writable_roots).install()  # from here on, writes only in the home's folders
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + uuid.uuid4().hex[:4]
    staging = paths.data_dir / f"restore-{stamp}.partial"
    allow_key_file = bool(getattr(args, "allow_key_file", False)) or paths.key_file.exists()
    try:
        bundle = read_bundle(source, passphrase, staging=staging, root=paths.data_dir)
    except SealedFileError as exc:
        raise CommandError(f"not restored: {exc}. Nothing was changed.", EXIT_REFUSED) from None
    except RestoreError as exc:
        raise CommandError(f"not restored: {exc}", EXIT_CANNOT) from None
    try:
        first = plan_restore(paths, bundle)
        if not first.fresh:
            _confirm(args, first.summary)
        gate = _ask_gate(args, paths, source)
        plan = plan_restore(paths, bundle)  # the gate's own rows moved the home's anchor on
        replaced, keys = install(paths, bundle, staging=staging, allow_key_file=allow_key_file, stamp=stamp)
        done = finish(
            paths,
            bundle,
            plan,
            source=source,
            gate=gate,
            replaced=replaced,
            keys=keys,
            allow_key_file=allow_key_file,
        )
    except RestoreError as exc:
        raise CommandError(str(exc), EXIT_CANNOT) from None
    finally:
        discard_staging(staging, root=paths.data_dir)
    manifest = bundle.manifest
    return {
        "restored": str(source),
        "created": manifest_dict(manifest)["created"],
        "members": len(manifest.members),
        "manifest": manifest_dict(manifest),
        "replaced": str(done.replaced) if done.replaced is not None else "",
        "rollback": plan.rollback,
        "acknowledged": done.acknowledged,
        "keys": done.keys,
        "epoch": done.epoch,
        "audit_id": done.audit_id,
        "gate": gate,
    }


__all__ = ["backup", "manifest_dict", "restore"]
