"""``aether costs [cap|rearm]``: spend against the caps, the ledger, and the user's changes to them.

``aether costs`` only reads (no audit session). Changing a cap and re-arming a
tripped one are the user's acts through the gate (``cost.admin`` on
``costs:caps`` / ``costs:rearm``, typed by the user, so an ``Ask`` is answered
for them) and audited; the ledger records the audit id with the change. Exit
codes: 0 done, 1 refused or bad input, 2 the home or the ledger cannot be used.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from aether_qt.commands.output import emit_json, emit_pairs, emit_table
from aether_qt.commands.session import CommandError, app_database, guarded, policy_runtime, user_allow
from aether_qt.core.paths import resolve_paths
from aether_qt.engines.router.cost_ledger import CAPS_RESOURCE, REARM_RESOURCE, CostLedger
from aether_qt.engines.router.costs import (
    CostEntry,
    CostRefused,
    CostState,
    format_usd,
    micros_from_usd,
    usd,
)
from aether_qt.storage.errors import StorageError

ENTRIES = 20


def _entry_dict(entry: CostEntry) -> dict[str, Any]:
    return {
        "id": entry.entry_id,
        "when": dt.datetime.fromtimestamp(entry.created_at_ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%MZ"),
        "provider": entry.provider,
        "model": entry.model,
        "state": entry.state,
        "reserved_usd": usd(entry.reserved_micros),
        "charged_usd": usd(entry.charged_micros),
        "input_tokens": entry.input_tokens,
        "output_tokens": entry.output_tokens,
        "usage_reported": entry.usage_reported,
    }


def _print_state(state: CostState) -> None:
    day, month = format_usd(state.used_day_micros), format_usd(state.used_month_micros)
    emit_pairs(
        {
            "today": f"{day} of {format_usd(state.daily_cap_micros)} ({state.day} UTC)",
            "this month": f"{month} of {format_usd(state.monthly_cap_micros)}",
            "in flight": f"{state.open_reservations} call(s), {format_usd(state.reserved_month_micros)}",
            "status": state.tripped_reason if state.tripped else "armed",
        }
    )
    if state.clock_behind_ms:
        sys.stdout.write("note: the system clock is behind the ledger's; periods follow the ledger's clock\n")


_guarded = guarded(CostRefused, StorageError)  # ledger and storage errors exit 2


@_guarded
def show(args: argparse.Namespace) -> int:
    """Print spend against the caps and the newest ledger entries."""
    paths = resolve_paths(getattr(args, "home", None))
    with app_database(paths, allow_key_file=getattr(args, "allow_key_file", False)) as db:
        ledger = CostLedger(database=db)
        state, entries = ledger.state(), ledger.entries(ENTRIES)
    if args.json:
        emit_json({**state.as_dict(), "entries": [_entry_dict(e) for e in entries]})
        return 0
    _print_state(state)
    rows = [_entry_dict(e) for e in entries]
    for row in rows:
        row["charged"] = format_usd(round(row["charged_usd"] * 1_000_000))
    emit_table(rows, ["when", "provider", "model", "state", "charged", "input_tokens", "output_tokens"])
    return 0


@_guarded
def cap(args: argparse.Namespace) -> int:
    """Set the daily and/or monthly cap (the user's audited act)."""
    if args.daily is None and args.monthly is None:
        raise CommandError("give --daily USD and/or --monthly USD")
    try:  # checked before the gate: a typo is not an audited decision
        for amount, what in ((args.daily, "the daily cap"), (args.monthly, "the monthly cap")):
            if amount is not None:
                micros_from_usd(amount, what=what)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    with policy_runtime(args) as rt:
        allow = user_allow(rt, "cost.admin", CAPS_RESOURCE, "changing the cost caps")
        state = CostLedger(database=rt.database).set_caps(
            daily_usd=args.daily, monthly_usd=args.monthly, permit=allow.permit, verifier=rt.gate
        )
    if args.json:
        emit_json({**state.as_dict(), "audit_id": allow.audit_id})
        return 0
    _print_state(state)
    if state.tripped:
        sys.stdout.write("the cap is still tripped: `aether costs rearm` re-arms it\n")
    sys.stdout.write(f"audited as {allow.audit_id}\n")
    return 0


@_guarded
def rearm(args: argparse.Namespace) -> int:
    """Re-arm a tripped cap (the user's audited act); says so when nothing is tripped."""
    with policy_runtime(args) as rt:
        ledger = CostLedger(database=rt.database)
        before = ledger.state()
        audit_id = None
        if before.tripped is not None:
            allow = user_allow(rt, "cost.admin", REARM_RESOURCE, "re-arming the cost cap")
            ledger.rearm(permit=allow.permit, verifier=rt.gate)
            audit_id = allow.audit_id
        state = ledger.state()
    if args.json:
        emit_json({**state.as_dict(), "rearmed": audit_id is not None, "audit_id": audit_id})
        return 0
    if audit_id is None:
        sys.stdout.write("no cap is tripped: nothing to re-arm\n")
    else:
        sys.stdout.write(f"re-armed ({before.tripped}); audited as {audit_id}\n")
    _print_state(state)
    return 0
