"""``aether bench``: measured numbers, printed as a table and as JSON.

Benchmarks are never part of the test suite; they run on demand (``make
bench``) against a throw-away home so they never touch the user's state.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aether_qt.commands.output import emit_json, fail


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if value < 100 else f"{value:,.0f}"
    return str(value)


def print_table(title: str, rows: list[tuple[str, Any, str]]) -> None:
    """Print ``(metric, value, target)`` rows under a title."""
    sys.stdout.write(f"\n{title}\n")
    width = max(len(r[0]) for r in rows)
    vwidth = max(len(_fmt(r[1])) for r in rows)
    for metric, value, target in rows:
        sys.stdout.write(f"  {metric.ljust(width)}  {_fmt(value).rjust(vwidth)}  {target}\n")


SUITES: dict[str, tuple[str, str]] = {
    "policy": ("policy", "run_policy_bench"),
    "turn": ("turn", "run_turn_bench"),
    "avatar": ("avatar", "run_avatar_bench"),
    "memory": ("memory", "run_memory_bench"),
    "voice": ("voice", "run_voice_bench"),
    "router": ("router", "run_router_bench"),
    "router-cache": ("router_cache", "run_router_cache_bench"),
    "router-remote": ("router_remote", "run_router_remote_bench"),
}
"""Suite name -> (module in this package, function): only the suite that runs is imported.

The turn suite times the app's cold start in this very process, so nothing heavy
(the companion, the engines) may be imported before it starts.
"""


def run(args: argparse.Namespace) -> int:
    """Run the chosen benchmark suite in a temporary home (or ``--home``)."""
    with tempfile.TemporaryDirectory(prefix="aether-bench-") as tmp:
        home = Path(args.home) if args.home else Path(tmp)
        if args.suite == "soak":
            from aether_qt.commands.bench.soak import run_soak_bench
            from aether_qt.commands.session import CommandError

            try:
                result = run_soak_bench(
                    home,
                    quick=args.quick,
                    turns=args.turns,
                    throwaway=not args.home,
                    allow_key_file=getattr(args, "allow_key_file", False),
                )
            except CommandError as exc:
                return fail(str(exc), exc.code)
        else:
            module, name = SUITES[args.suite]
            suite: Callable[..., dict[str, Any]] = getattr(
                importlib.import_module(f"aether_qt.commands.bench.{module}"), name
            )
            result = suite(home, quick=args.quick)
    if args.json:
        emit_json(result)
    else:
        print_table(f"aether bench {args.suite}", result["table"])
    return 1 if result.get("error") else 0  # a soak that stopped early
