"""Printing helpers shared by the sub-commands: JSON or aligned text."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON with sorted keys."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str, ensure_ascii=False) + "\n")


def emit_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Print ``rows`` as a left-aligned text table with ``columns`` as headers."""
    if not rows:
        sys.stdout.write("(none)\n")
        return
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    sys.stdout.write("  ".join(c.ljust(widths[c]) for c in columns).rstrip() + "\n")
    for r in rows:
        sys.stdout.write("  ".join(str(r.get(c, "")).ljust(widths[c]) for c in columns).rstrip() + "\n")


def emit_pairs(pairs: Mapping[str, Any]) -> None:
    """Print ``key: value`` lines with aligned keys."""
    width = max((len(k) for k in pairs), default=0)
    for key, value in pairs.items():
        sys.stdout.write(f"{key.ljust(width)}  {value}\n")


def fail(message: str, code: int = 1) -> int:
    """Print ``aether: message`` to stderr and return ``code``."""
    sys.stderr.write(f"aether: {message}\n")
    return code
