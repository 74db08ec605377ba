"""``aether policy|grants|approvals``: the gate from the command line.

Every evaluation here is real and audited, exactly as in the app. Policy
changes (revoke, revoke all, preset, approved folders) go through the same
gate-on-bus adapter as the app's, over a throw-away bus: each one is audited
under its own change id, like a change made in the trust centre.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aether_qt.commands.output import emit_json, emit_pairs, emit_table
from aether_qt.commands.session import (
    CommandError,
    absolute_resource,
    decision_line,
    guarded,
    policy_runtime,
)
from aether_qt.policy.approvals import TicketError
from aether_qt.policy.capabilities import CAPABILITIES, Preset, preset_matrix
from aether_qt.policy.decisions import ActionRequest, ApprovalChoice, Grant, decision_as_dict

if TYPE_CHECKING:
    from aether_qt.policy.runtime import PolicyRuntime
    from aether_qt.services.gate.gate_on_bus import GateOnBus


_guarded = guarded()  # CommandError -> "aether: message" and its exit code


def _controls(runtime: PolicyRuntime) -> GateOnBus:
    """The policy controls over ``runtime``, publishing on a throw-away bus (a command has no listener)."""
    from aether_qt.core.bus import EventBus  # lazy: Qt is not needed to parse the command line
    from aether_qt.services.gate.gate_on_bus import GateOnBus

    return GateOnBus(runtime=runtime, bus=EventBus())


def _when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@_guarded
def evaluate(args: argparse.Namespace) -> int:
    """Evaluate one request through the gate and print the audited decision."""
    if args.capability not in CAPABILITIES:
        known = ", ".join(sorted(CAPABILITIES))
        raise CommandError(f"unknown capability {args.capability!r}; known: {known}")
    request = ActionRequest(
        capability=args.capability,
        resource=absolute_resource(args.capability, args.resource),
        actor_persona=args.persona,
    )
    with policy_runtime(args) as rt:
        data = decision_as_dict(rt.gate.evaluate(request))
    data.update(capability=request.capability, resource=request.resource, request_id=request.request_id)
    if args.json:
        emit_json(data)
    else:
        sys.stdout.write(decision_line(data) + "\n")
        for stage in data["trace"]:
            sys.stdout.write(f"  {stage['stage']:<14} {stage['outcome']:<8} {stage['detail']}\n")
    return 0


@_guarded
def explain(args: argparse.Namespace) -> int:
    """Print one audit row: what was asked, what was decided, and each stage."""
    with policy_runtime(args) as rt:
        if rt.audit is None:
            raise CommandError(f"the audit log cannot be opened: {rt.audit_error or rt.keys_error}", code=2)
        row = rt.audit.get(args.audit_id)
    if row is None:
        raise CommandError(f"no audit row {args.audit_id!r}")
    data = {
        "seq": row.seq,
        "audit_id": row.audit_id,
        "time": _when(row.ts_wall_ms),
        "actor": row.actor,
        "capability": row.capability,
        "resource": row.resource,
        "decision": row.decision,
        "reason": row.reason,
        "change_id": row.change_id,
        "turn_id": row.turn_id,
        "stage_trace": list(row.stage_trace),
        "detail": row.detail,
    }
    if args.json:
        emit_json(data)
        return 0
    emit_pairs({k: v for k, v in data.items() if k not in ("stage_trace", "detail")})
    sys.stdout.write("stages:\n")
    for stage in row.stage_trace:
        sys.stdout.write(
            f"  {stage.get('stage', ''):<14} {stage.get('outcome', ''):<8} {stage.get('detail', '')}\n"
        )
    return 0


@_guarded
def preset(args: argparse.Namespace) -> int:
    """Show the preset and its capability matrix, or switch preset (an audited cascade)."""
    with policy_runtime(args) as rt:
        revoked: list[str] = []
        if args.name:
            try:
                chosen = Preset.parse(args.name)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            revoked = _controls(rt).set_preset(chosen)
        current = rt.preset()
    matrix = {cap: mode.value for cap, mode in preset_matrix(current).items()}
    if args.json:
        emit_json({"preset": current.value, "revoked": revoked, "matrix": matrix})
        return 0
    sys.stdout.write(f"preset: {current.value}\n")
    if args.name:
        sys.stdout.write(f"revoked {len(revoked)} grant(s) by the preset change\n")
    emit_table(
        [{"capability": c, "risk": CAPABILITIES[c].risk.name.title(), "mode": m} for c, m in matrix.items()],
        ["capability", "risk", "mode"],
    )
    return 0


@_guarded
def roots(args: argparse.Namespace) -> int:
    """List approved folders, or add/remove one (an audited config change)."""
    with policy_runtime(args) as rt:
        current = list(rt.approved_roots())
        if args.op:
            if not args.path:
                raise CommandError(f"`policy roots {args.op}` needs a PATH")
            path = Path(args.path).expanduser().absolute()
            if args.op == "add" and path not in current:
                current.append(path)
            elif args.op == "remove" and path in current:
                current.remove(path)
            _controls(rt).set_roots(tuple(current))
    for root in current:
        sys.stdout.write(f"{root}\n")
    return 0


def _grant_row(grant: Grant) -> dict[str, Any]:
    return {
        "grant_id": grant.grant_id,
        "capability": grant.capability,
        "pattern": grant.resource_pattern,
        "persona": grant.persona,
        "duration": grant.duration.value,
        "issued_by": grant.issued_by,
        "issued": _when(grant.issued_wall_ms),
        "expires": _when(grant.expires_wall_ms),
        "audit_ref": grant.audit_ref,
    }


@_guarded
def grants_list(args: argparse.Namespace) -> int:
    """List the grants in force."""
    with policy_runtime(args) as rt:
        rows = [_grant_row(g) for g in rt.ledger.active()]
    if args.json:
        emit_json(rows)
    else:
        emit_table(rows, ["grant_id", "capability", "pattern", "persona", "duration", "issued_by", "expires"])
    return 0


@_guarded
def grants_revoke(args: argparse.Namespace) -> int:
    """Revoke one grant; revoking twice is fine, an unknown id is an error."""
    with policy_runtime(args) as rt:
        if args.grant_id not in rt.ledger.snapshot():  # ended grants are known too
            raise CommandError(f"no grant {args.grant_id!r}")
        changed = _controls(rt).revoke(args.grant_id)
    sys.stdout.write(f"{'revoked' if changed else 'already revoked'}: {args.grant_id}\n")
    return 0


@_guarded
def grants_revoke_all(args: argparse.Namespace) -> int:
    """Emergency: revoke every grant (audited as one cascade)."""
    with policy_runtime(args) as rt:
        revoked = _controls(rt).revoke_all()
    sys.stdout.write(f"revoked {len(revoked)} grant(s)\n")
    return 0


@_guarded
def approvals_list(args: argparse.Namespace) -> int:
    """List pending approval tickets (they never expire on their own)."""
    with policy_runtime(args) as rt:
        rows = [
            {
                "ticket_id": t.ticket_id,
                "capability": t.request.capability,
                "resource": t.request.resource,
                "risk": t.risk,
                "persona": t.request.actor_persona,
                "turn_id": t.request.turn_id or "-",
                "opened": _when(t.created_wall_ms),
                "taint": list(t.request.provenance_tags),
            }
            for t in rt.tickets.pending()
        ]
    if args.json:
        emit_json(rows)
    else:
        table = [{**row, "taint": ", ".join(row["taint"]) or "-"} for row in rows]
        emit_table(table, ["ticket_id", "capability", "resource", "risk", "turn_id", "opened", "taint"])
    return 0


@_guarded
def approvals_answer(args: argparse.Namespace) -> int:
    """Answer a pending ticket; an allowed pending action (a turn's `write`...) runs now, once."""
    from aether_qt.companion import Companion
    from aether_qt.core.paths import resolve_paths
    from aether_qt.storage.errors import StorageError

    try:
        comp = Companion.open(resolve_paths(args.home), allow_key_file=args.allow_key_file, load_model=False)
    except StorageError as exc:
        raise CommandError(str(exc), code=2) from None
    try:
        decision, result = comp.conductor.answer(args.ticket_id, ApprovalChoice(args.choice), args.scope)
    except TicketError as exc:
        raise CommandError(str(exc)) from None
    finally:
        comp.close()
    data = decision_as_dict(decision)
    data["ticket_id"] = args.ticket_id
    data["action"] = None if result is None else {"ok": result.ok, "summary": result.summary}
    if args.json:
        emit_json(data)
    else:
        sys.stdout.write(decision_line(data) + "\n")
        if result is not None:
            sys.stdout.write(f"{'done' if result.ok else 'failed'}: {result.summary}\n")
    return 0
