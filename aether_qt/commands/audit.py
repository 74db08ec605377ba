"""``aether audit verify|acknowledge|export|pubkey``.

``verify`` exits 0 only when the log is intact **and** anchored, 1 when
tampering is found (including a log that was deleted, replaced or rolled back,
or an anchor that is not valid), 2 when it cannot decide (unanchored, rows
written after the last anchor by a session that did not close, key missing or
mismatched, unreadable database). ``acknowledge`` is the audited way out of a
lost or rolled-back log: it starts a new epoch that records what was lost. ``export`` is itself a gated action
(``audit.export``): the user typing the command is the approval, recorded as
an answered ticket, and the bundle is written by an effector.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from aether_qt.commands.output import emit_json, fail
from aether_qt.commands.session import CommandError, policy_runtime, user_allow
from aether_qt.core.paths import resolve_paths
from aether_qt.policy.audit_verify import VerifyReport

EXIT_INTACT, EXIT_TAMPERED, EXIT_UNDECIDABLE = 0, 1, 2


def exit_code(report: VerifyReport) -> int:
    """0 intact and anchored, 1 tampered, 2 undecidable (see module docstring)."""
    if report.status == "tampered":
        return EXIT_TAMPERED
    if report.status == "intact" and report.anchored:
        return EXIT_INTACT
    return EXIT_UNDECIDABLE


def report_dict(report: VerifyReport) -> dict[str, Any]:
    """A verify report as plain data."""
    return {
        "status": report.status,
        "anchored": report.anchored,
        "first_bad_seq": report.first_bad_seq,
        "reason": report.reason,
        "rows_checked": report.rows_checked,
        "message": report.message,
    }


def verify(args: argparse.Namespace) -> int:
    """Verify the home's audit log, or an exported bundle with ``--bundle``."""
    from aether_qt.policy.audit_bundle import verify_bundle
    from aether_qt.policy.audit_home import verify_home

    if args.bundle:
        pubkey = bytes.fromhex(args.pubkey) if args.pubkey else None
        report = verify_bundle(Path(args.bundle), public_key=pubkey)
    else:
        paths = resolve_paths(args.home)
        report = verify_home(paths, allow_key_file=args.allow_key_file)
        if report.reason is None and report.rows_checked == 0 and not paths.audit_db.exists():
            return fail(f"no audit log at {paths.audit_db}", EXIT_UNDECIDABLE)
    code = exit_code(report)
    if args.json:
        emit_json({**report_dict(report), "exit_code": code})
        return code
    verdict = {EXIT_INTACT: "INTACT", EXIT_TAMPERED: "TAMPERED", EXIT_UNDECIDABLE: "UNDECIDABLE"}[code]
    anchored = "anchored" if report.anchored else "not anchored"
    sys.stdout.write(f"{verdict}: {report.rows_checked} rows checked, {anchored}\n")
    if report.first_bad_seq is not None or report.reason:
        sys.stdout.write(f"first bad seq: {report.first_bad_seq}  reason: {report.reason}\n")
    if report.message:
        sys.stdout.write(f"{report.message}\n")
    return code


def acknowledge(args: argparse.Namespace) -> int:
    """Start a new epoch when the log does not extend its anchor (itself an audited row)."""
    from aether_qt.policy.audit_epoch import AcknowledgeError
    from aether_qt.policy.audit_epoch import acknowledge as start_epoch

    paths = resolve_paths(args.home)
    try:
        done = start_epoch(paths.ensure(), allow_key_file=args.allow_key_file)
    except AcknowledgeError as exc:
        return fail(str(exc), EXIT_UNDECIDABLE)
    if args.json:
        emit_json(
            {"acknowledged": done.done, "epoch": done.epoch, "summary": done.summary, "lost": done.lost}
        )
    else:
        sys.stdout.write(done.summary + "\n")
    return 0


def export(args: argparse.Namespace) -> int:
    """Export a signed bundle through the gate (``audit.export``) and an effector."""
    from aether_qt.policy.audit_bundle import bundle_bytes
    from aether_qt.policy.effect_types import EffectError

    out = Path(args.out).expanduser().absolute()
    try:
        with policy_runtime(args) as rt:
            if rt.audit is None:
                raise CommandError(f"the audit log cannot be opened: {rt.audit_error or rt.keys_error}", 2)
            decision = user_allow(rt, "audit.export", str(out), "export")
            try:
                rt.effectors.write_export(
                    decision.permit, out, bundle_bytes(rt.audit), capability="audit.export"
                )
            except EffectError as exc:
                raise CommandError(f"export failed: {exc}") from None
            public_key = rt.audit.public_key.hex()
    except CommandError as exc:
        return fail(str(exc), exc.code)
    sys.stdout.write(f"wrote {out}\npublic key: {public_key}\n")
    return 0


def pubkey(args: argparse.Namespace) -> int:
    """Print the audit log's Ed25519 public key as hex."""
    try:
        with policy_runtime(args) as rt:
            if rt.audit is None:
                raise CommandError(f"the audit log cannot be opened: {rt.audit_error or rt.keys_error}", 2)
            sys.stdout.write(rt.audit.public_key.hex() + "\n")
    except CommandError as exc:
        return fail(str(exc), exc.code)
    return 0
