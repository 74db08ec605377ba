"""``aether bench policy``: the gate with a durable audit commit, against raw SQLite; verification.

Measures, in a throw-away home with an opt-in key file (the benchmark never
writes into the user's keyring):

* evaluate + sealed audit commit (``synchronous=FULL``) latency p50/p99 and
  throughput, with 10,000 active grants in the ledger (every decision is an
  Allow, so every one also moves the anchor file);
* the same number of rows of the same size inserted by plain ``sqlite3`` with
  the same pragmas, one transaction per row, and the ratio of the two;
* ``verify`` speed on a 100,000-row log;
* the verification every start runs (:func:`~aether_qt.policy.audit_start.check_at_start`)
  on logs of 100,000 and 1,000,000 rows: after a clean close (only the rows
  since the last verified point are walked) and at the first start after an
  upgrade (the whole chain).

Targets: >= 1,000 audited decisions/s, p99 <= 5 ms, ratio >= 0.8 of raw SQLite,
verify >= 100,000 rows/s. The big logs are grown without fsync (the rows are
the same; only the bench's own writing is faster), then verified as written.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from aether_qt.core.paths import resolve_paths
from aether_qt.policy.audit_anchor import AnchorReading
from aether_qt.policy.audit_chain import AuditLog, connect_audit_db
from aether_qt.policy.audit_start import check_at_start
from aether_qt.policy.contracts import AuditEntry
from aether_qt.policy.decisions import ActionRequest, Allow, ApprovalChoice, Ask
from aether_qt.policy.runtime import PolicyRuntime


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _with_grants(rt: PolicyRuntime, root: Path, count: int) -> int:
    """Give the ledger ``count`` persistent grants, each through a real Ask and answer."""
    for i in range(count):
        decision = rt.gate.evaluate(ActionRequest("files.create", str(root / f"d{i}" / "x.txt")))
        if isinstance(decision, Ask):
            rt.gate.answer(decision.ticket.ticket_id, ApprovalChoice.ALWAYS_SCOPE)
    return len(rt.ledger.active())


def _measure_gate(rt: PolicyRuntime, root: Path, folders: int, n: int) -> tuple[list[float], float, int]:
    """Evaluate ``n`` requests covered by grants; each exit is a signed, committed audit row."""
    rng = random.Random(7)
    latencies: list[float] = []
    allowed = 0
    start = time.perf_counter()
    for _ in range(n):
        resource = str(root / f"d{rng.randrange(folders)}" / "new.txt")
        t0 = time.perf_counter()
        decision = rt.gate.evaluate(ActionRequest("files.create", resource))
        latencies.append((time.perf_counter() - t0) * 1000)
        allowed += isinstance(decision, Allow)
    return latencies, n / (time.perf_counter() - start), allowed


def _row_bytes(rt: PolicyRuntime) -> int:
    assert rt.audit is not None
    row = rt.audit.rows(after_seq=rt.audit.head().seq - 1)[-1]
    return sum(len(str(v)) for v in (row.__getattribute__(f) for f in row.__slots__))


def _measure_raw(path: Path, row_size: int, n: int) -> float:
    """Plain sqlite3: same pragmas, one committed transaction per row of ``row_size`` bytes."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    body = "x" * row_size
    start = time.perf_counter()
    for _ in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (body) VALUES (?)", (body,))
        conn.execute("COMMIT")
    rate = n / (time.perf_counter() - start)
    conn.close()
    return rate


def _grow(rt: PolicyRuntime, rows: int) -> None:
    """Append until the log has ``rows`` rows, through a second, fsync-free writer of the same log."""
    assert rt.audit is not None and rt.keys is not None
    fast = AuditLog.open(
        rt.paths.audit_db, keys=rt.keys, anchor_store=rt.anchor_store, clock=rt.clock, connect=_no_fsync
    )
    try:
        detail = {"event": "bench", "note": "a row of typical size"}
        trace = ({"stage": "pre.audit", "outcome": "pass"}, {"stage": "5.grant", "outcome": "allow"})
        entry = AuditEntry(
            "bench", "files.read", "/home/user/Documents/notes.txt", "allow", stage_trace=trace, detail=detail
        )
        for _ in range(rows - fast.head().seq):
            fast.append(entry)
    finally:
        fast.close_without_checkpoint()


def _no_fsync(path: Path) -> sqlite3.Connection:
    conn = connect_audit_db(path)
    conn.execute("PRAGMA synchronous=OFF")
    return conn


def _measure_verify(rt: PolicyRuntime, rows: int) -> tuple[int, float, str]:
    """Grow the log to ``rows`` rows, then time a full verify."""
    _grow(rt, rows)
    t0 = time.perf_counter()
    report = rt.verify()
    elapsed = time.perf_counter() - t0
    return report.rows_checked, report.rows_checked / elapsed, f"{report.status}/{report.reason or '-'}"


def _measure_start(home: Path, rows: int) -> dict[str, float]:
    """Seconds of the start check on a ``rows``-row log: after a clean close, and from scratch."""
    paths = resolve_paths(home).ensure()
    with PolicyRuntime.open(paths, allow_key_file=True) as rt:
        _grow(rt, rows)
    with PolicyRuntime.open(paths, allow_key_file=True) as rt:  # verifies the grown rows, then closes
        assert rt.keys is not None
        keys, reading = rt.keys, rt.anchors()
    t0 = time.perf_counter()
    incremental = check_at_start(paths.audit_db, keys=keys, reading=reading, live=False)
    t_incremental = time.perf_counter() - t0
    assert reading.anchor is not None
    scratch = AnchorReading(replace(reading.anchor, verified_seq=0, verified_hash="", grants_digest=""))
    t0 = time.perf_counter()
    full = check_at_start(paths.audit_db, keys=keys, reading=scratch, live=False)
    t_full = time.perf_counter() - t0
    assert incremental.ok and full.ok, (incremental.message, full.message)
    return {"incremental_s": t_incremental, "full_s": t_full}


def run_policy_bench(home: Path, *, quick: bool = False) -> dict[str, Any]:
    """Run the policy benchmark in ``home``; returns the JSON result with a ``table``."""
    import keyring
    import keyring.backends.fail

    grants_wanted = 1_000 if quick else 10_000
    n = 300 if quick else 3_000
    verify_rows = 10_000 if quick else 100_000
    start_sizes = (10_000, 100_000) if quick else (100_000, 1_000_000)
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]  # key file only: never touch the user's keyring
    try:
        paths = resolve_paths(home / "home").ensure()
        root = home / "files"
        root.mkdir(parents=True, exist_ok=True)
        with PolicyRuntime.open(paths, allow_key_file=True) as rt:
            rt.set_roots((root,))
            t0 = time.perf_counter()
            active = _with_grants(rt, root, grants_wanted)
            setup_s = time.perf_counter() - t0
            latencies, rate, allowed = _measure_gate(rt, root, grants_wanted, n)
            row_size = _row_bytes(rt)
            raw_rate = _measure_raw(home / "raw.db", row_size, n)
            checked, verify_rate, verify_status = _measure_verify(rt, verify_rows)
        starts = {n: _measure_start(home / f"start{n}", n) for n in start_sizes}
    finally:
        keyring.set_keyring(previous)
    p50, p99 = statistics.median(latencies), _percentile(latencies, 0.99)
    result: dict[str, Any] = {
        "active_grants": active,
        "grant_setup_s": round(setup_s, 2),
        "decisions": n,
        "allowed": allowed,
        "gate_p50_ms": round(p50, 3),
        "gate_p99_ms": round(p99, 3),
        "gate_decisions_per_s": round(rate, 1),
        "audit_row_bytes": row_size,
        "raw_sqlite_rows_per_s": round(raw_rate, 1),
        "ratio_vs_raw": round(rate / raw_rate, 3),
        "verify_rows": checked,
        "verify_rows_per_s": round(verify_rate, 1),
        "verify_status": verify_status,
        **{f"start_{n}_incremental_s": round(t["incremental_s"], 3) for n, t in starts.items()},
        **{f"start_{n}_full_s": round(t["full_s"], 3) for n, t in starts.items()},
    }
    result["table"] = [
        ("active grants", active, f"(set up in {setup_s:.1f} s through Ask + answer)"),
        ("evaluate + audit p50 (ms)", p50, ""),
        ("evaluate + audit p99 (ms)", p99, "target <= 5"),
        ("audited decisions / s", rate, "target >= 1,000"),
        ("raw sqlite3 rows / s (same size, FULL)", raw_rate, f"{row_size} B rows"),
        ("ratio gate / raw", rate / raw_rate, "target >= 0.8"),
        (f"verify rows / s ({checked} rows)", verify_rate, f"target >= 100,000; {verify_status}"),
        *[
            (f"start check, {n:,} rows, after a clean close (s)", t["incremental_s"], "")
            for n, t in starts.items()
        ],
        *[
            (f"start check, {n:,} rows, whole chain (s)", t["full_s"], "first start after an upgrade")
            for n, t in starts.items()
        ],
    ]
    return result
