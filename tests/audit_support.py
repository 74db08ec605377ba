"""Audit-chain test helpers shared by the unit and adversarial tests."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import nacl.utils

from aether_qt.core.paths import AppPaths
from aether_qt.policy.audit_records import COLUMNS
from aether_qt.policy.contracts import AuditEntry
from aether_qt.policy.keys import AuditKeys

REPO = Path(__file__).resolve().parents[1]
_HOLDER = """
import sys
from pathlib import Path
from aether_qt.core.instance_lock import InstanceLock
lock = InstanceLock.acquire(Path(sys.argv[1]))
print("held" if lock is not None else "busy", flush=True)
sys.stdin.read()  # until the test closes our stdin
"""


def random_keys() -> AuditKeys:
    """Fresh keys that never touch a keyring."""
    return AuditKeys.from_secrets(nacl.utils.random(32), nacl.utils.random(32), source="test")


def entry(i: int, **extra: Any) -> AuditEntry:
    """A plausible audited decision number ``i``."""
    return AuditEntry(
        actor="gate",
        capability="files.read",
        resource=f"/home/u/notes/{i}.txt",
        decision="allow" if i % 3 else "deny",
        reason="" if i % 3 else "policy_deny",
        change_id=f"chg_{i}",
        turn_id=f"turn_{i // 4}",
        stage_trace=({"stage": "scope", "outcome": "pass"}, {"stage": "mode", "outcome": "allow"}),
        detail={"i": i, "note": "ünïcode ✓", **extra},
    )


def tamper(db: Path, sql: str, params: Sequence[Any] = ()) -> None:
    """Run ``sql`` on ``db`` as anyone with access to the file can: the append-only triggers dropped first."""
    conn = sqlite3.connect(db)
    try:
        for table in ("meta", "audit_log", "checkpoints"):
            for op in ("UPDATE", "DELETE"):
                conn.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op}")
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


def forge_row(db: Path, **changes: Any) -> None:
    """Insert a copy of the newest row, numbered one past it, with ``changes`` (INSERT needs no key)."""
    conn = sqlite3.connect(db)
    try:
        columns = ", ".join(COLUMNS)
        newest = conn.execute(f"SELECT {columns} FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
        values = dict(zip(COLUMNS, newest, strict=True))
        values.update(seq=values["seq"] + 1, audit_id="aud_forged")
        values.update(changes)
        marks = ", ".join("?" * len(COLUMNS))
        conn.execute(f"INSERT INTO audit_log ({columns}) VALUES ({marks})", [values[c] for c in COLUMNS])
        conn.commit()
    finally:
        conn.close()


@contextmanager
def app_running(paths: AppPaths) -> Iterator[None]:
    """Another process holds the home's instance lock for the block, as the running app does."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(paths.data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
