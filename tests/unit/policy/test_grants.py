"""Tests of the grant ledger: issue, look-up, expiry, revocation, persistence, replay."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import peewee
import pytest
from gate_support import FakeSink, open_db

from aether_qt.policy.contracts import AuditEntry, FakeClock
from aether_qt.policy.decisions import Duration, Grant
from aether_qt.policy.grants import (
    GrantLedger,
    LedgerError,
    LedgerState,
    ephemeral,
    grant_facts,
    make_grant,
    replay,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db(tmp_path: Path) -> peewee.SqliteDatabase:
    return open_db(tmp_path / "aether.db")


@pytest.fixture
def ledger(db: peewee.SqliteDatabase, clock: FakeClock) -> GrantLedger:
    return GrantLedger(db, clock=clock)


def audited(sink: FakeSink, grant: Grant) -> Grant:
    """Write the grant's issue row like the gate does and return it with its audit_ref."""
    row = sink.append(
        AuditEntry("p", grant.capability, "", "allow", detail={"grant_issued": grant_facts(grant)})
    )
    return replace(grant, audit_ref=row.audit_id)


def grant(clock: FakeClock, **kw: object) -> Grant:
    args: dict[str, object] = {
        "capability": "net.fetch",
        "resource_pattern": "https://a.com",
        "persona": "p",
        "duration": Duration.PERSISTENT,
        "issued_by": "user",
        "clock": clock,
    }
    args.update(kw)
    return make_grant(**args)  # type: ignore[arg-type]


def revoke_row(
    sink: FakeSink, ids: list[str], at: int, cause: str = "revoked", event: str = "grant_revoked"
) -> None:
    detail = {"event": event, "grant_ids": ids, "revoked_at_ms": at, "cause": cause}
    sink.append(AuditEntry("u", "", "", event, detail=detail))


def test_issue_requires_audit_ref(ledger: GrantLedger, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="audited"):
        ledger.issue(grant(clock))


def test_find_valid_by_origin_and_persona(ledger: GrantLedger, clock: FakeClock) -> None:
    sink = FakeSink()
    g = ledger.issue(audited(sink, grant(clock)))
    now = clock.monotonic_ns()
    assert ledger.find_valid("net.fetch", "https://a.com/x", "p", None, now) == g
    assert ledger.find_valid("net.fetch", "https://a.com/x", "other", None, now) is None
    assert ledger.find_valid("net.fetch", "https://b.com/x", "p", None, now) is None
    assert ledger.find_valid("no.such", "x", "p", None, now) is None
    assert ledger.get(g.grant_id) == g and ledger.active() == [g]


def test_once_grants_are_never_found_and_spend(ledger: GrantLedger, clock: FakeClock) -> None:
    sink = FakeSink()
    g = ledger.issue(audited(sink, grant(clock, duration=Duration.ONCE, resource_pattern="https://a.com/x")))
    assert ledger.find_valid("net.fetch", "https://a.com/x", "p", None, clock.monotonic_ns()) is None
    assert ledger.is_valid(g.grant_id, clock.monotonic_ns())
    assert ledger.spend(g.grant_id, at_ms=5)
    assert not ledger.spend(g.grant_id, at_ms=6)
    assert ledger.snapshot()[g.grant_id].end_cause == "spent"
    assert not ledger.is_valid(g.grant_id, clock.monotonic_ns())


def test_task_grants_bind_to_their_task(ledger: GrantLedger, clock: FakeClock) -> None:
    g = ledger.issue(
        audited(FakeSink(), grant(clock, duration=Duration.TASK, task_id="t1", resource_pattern="*"))
    )
    now = clock.monotonic_ns()
    assert ledger.find_valid("net.fetch", "https://z.com/", "p", "t1", now) == g
    assert ledger.find_valid("net.fetch", "https://z.com/", "p", "t2", now) is None
    assert ledger.find_valid("net.fetch", "https://z.com/", "p", None, now) is None


def test_preset_grants_can_be_excluded(ledger: GrantLedger, clock: FakeClock) -> None:
    ledger.issue(audited(FakeSink(), grant(clock, issued_by="preset", resource_pattern="*")))
    now = clock.monotonic_ns()
    assert ledger.find_valid("net.fetch", "https://z.com/", "p", None, now) is not None
    assert ledger.find_valid("net.fetch", "https://z.com/", "p", None, now, include_preset=False) is None


def test_ttl_expires_on_monotonic_clock_and_survives_restart(
    db: peewee.SqliteDatabase, ledger: GrantLedger, clock: FakeClock
) -> None:
    g = ledger.issue(audited(FakeSink(), grant(clock, ttl_s=60)))
    clock.advance(30)
    assert ledger.find_valid("net.fetch", "https://a.com/", "p", None, clock.monotonic_ns()) == g
    reopened = GrantLedger(db, clock=clock)
    assert reopened.find_valid("net.fetch", "https://a.com/", "p", None, clock.monotonic_ns()) is not None
    clock.advance(31)
    assert ledger.find_valid("net.fetch", "https://a.com/", "p", None, clock.monotonic_ns()) is None
    assert reopened.find_valid("net.fetch", "https://a.com/", "p", None, clock.monotonic_ns()) is None
    assert reopened.snapshot() == ledger.snapshot()


def test_revoke_is_idempotent_and_persisted(
    db: peewee.SqliteDatabase, ledger: GrantLedger, clock: FakeClock
) -> None:
    g = ledger.issue(audited(FakeSink(), grant(clock)))
    assert ledger.revoke(g.grant_id, at_ms=10)
    assert not ledger.revoke(g.grant_id, at_ms=11)
    assert not ledger.revoke("grt_unknown", at_ms=11)
    record = GrantLedger(db, clock=clock).snapshot()[g.grant_id]
    assert record.grant.revoked_at_ms == 10 and record.end_cause == "revoked"
    assert ledger.find_valid("net.fetch", "https://a.com/", "p", None, clock.monotonic_ns()) is None


def test_revoke_where_cascades(ledger: GrantLedger, clock: FakeClock) -> None:
    sink = FakeSink()
    a = ledger.issue(audited(sink, grant(clock, persona="a", duration=Duration.SESSION)))
    b = ledger.issue(audited(sink, grant(clock, persona="a")))
    c = ledger.issue(audited(sink, grant(clock, persona="b", duration=Duration.SESSION)))
    assert ledger.revoke_where(at_ms=1, cause="x") == []
    assert ledger.revoke_where(
        at_ms=1, cause="swap", persona="a", durations=frozenset({Duration.SESSION})
    ) == [a.grant_id]
    assert ledger.revoke_where(at_ms=1, cause="x", persona="a") == [b.grant_id]
    assert ledger.revoke_where(at_ms=2, cause="emergency", all_grants=True) == [c.grant_id]
    assert ledger.active() == []
    assert ephemeral(a) and not ephemeral(b)


def test_snapshot_equals_replay_and_rebuild(
    db: peewee.SqliteDatabase, ledger: GrantLedger, clock: FakeClock
) -> None:
    sink = FakeSink()
    g1 = ledger.issue(audited(sink, grant(clock, ttl_s=5)))
    g2 = ledger.issue(audited(sink, grant(clock, duration=Duration.ONCE)))
    g3 = ledger.issue(audited(sink, grant(clock, persona="q")))
    revoke_row(sink, [g1.grant_id], 7)
    ledger.revoke(g1.grant_id, at_ms=7)
    sink.append(
        AuditEntry(
            "g",
            "",
            "",
            "grant_spent",
            detail={"event": "grant_spent", "grant_id": g2.grant_id, "spent_at_ms": 8},
        )
    )
    ledger.spend(g2.grant_id, at_ms=8)
    revoke_row(sink, [g3.grant_id, "grt_gone"], 9, cause="emergency", event="cascade")
    ledger.revoke_many([g3.grant_id], at_ms=9, cause="emergency")
    sink.append(AuditEntry("x", "", "", "allow", detail={}))  # rows without events are ignored
    assert replay(sink.rows).records == ledger.snapshot()
    assert replay(sink.rows).digest == ledger.digest()
    assert ledger.verify_against(sink.rows) and ledger.intact

    other = GrantLedger(db, clock=clock)
    db.execute_sql("DELETE FROM grants")
    other.rebuild_from_audit(sink.rows)
    assert other.snapshot() == ledger.snapshot()
    assert GrantLedger(db, clock=clock).snapshot() == ledger.snapshot()


def test_verify_against_mismatch_marks_not_intact(ledger: GrantLedger, clock: FakeClock) -> None:
    ledger.issue(audited(FakeSink(), grant(clock)))
    assert not ledger.verify_against([])
    assert not ledger.intact
    ledger.rebuild_from_audit([])
    assert ledger.intact and ledger.active() == []


def test_write_failure_raises_and_marks_not_intact(
    db: peewee.SqliteDatabase, ledger: GrantLedger, clock: FakeClock
) -> None:
    g = audited(FakeSink(), grant(clock))
    db.execute_sql("DROP TABLE grants")
    with pytest.raises(LedgerError):
        ledger.issue(g)
    assert not ledger.intact
    assert ledger.active() == []


def test_unreadable_rows_mark_not_intact(db: peewee.SqliteDatabase, clock: FakeClock) -> None:
    db.execute_sql(
        "INSERT INTO grants (grant_id, capability, resource_pattern, persona, duration, issued_by, "
        "audit_ref, issued_wall_ms) VALUES ('g', 'net.fetch', '*', 'p', 'once', 'u', 'a', 'not-a-number')"
    )
    assert not GrantLedger(db, clock=clock).intact


def test_ten_thousand_grants_lookup_is_fast(ledger: GrantLedger, clock: FakeClock, tmp_path: Path) -> None:
    sink = FakeSink()
    for i in range(10_000):
        ledger.issue(
            audited(sink, grant(clock, capability="files.read", resource_pattern=f"{tmp_path}/d{i}/**"))
        )
    start = time.perf_counter()
    for i in range(1000):
        assert ledger.find_valid("files.read", f"{tmp_path}/d{i}/x.txt", "p", None, clock.monotonic_ns())
    assert time.perf_counter() - start < 0.5


def test_state_replaces_an_ended_record(clock: FakeClock) -> None:
    state = LedgerState()
    g = replace(grant(clock), audit_ref="a")
    state.add(g, end_cause="revoked")
    state.add(g)
    assert list(state.active) == [g.grant_id] and state.records[g.grant_id].end_cause is None


def test_a_grant_changed_by_another_process_is_seen_at_the_next_refresh(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Two ledgers on their own connections to one database, as the app and a command have."""
    app = GrantLedger(open_db(tmp_path / "aether.db"), clock=clock)
    cli = GrantLedger(open_db(tmp_path / "aether.db"), clock=clock)
    sink = FakeSink()
    g = app.issue(audited(sink, grant(clock)))
    assert not app.refresh()  # its own change: nothing to reload
    assert cli.get(g.grant_id) is None
    assert cli.refresh() and cli.get(g.grant_id) == g
    assert cli.revoke(g.grant_id, at_ms=5)
    assert app.is_valid(g.grant_id, clock.monotonic_ns())  # stale until it looks
    assert app.refresh()
    assert not app.is_valid(g.grant_id, clock.monotonic_ns())
    # A write made on top of another process's unseen change reloads at the next refresh.
    g2 = cli.issue(audited(sink, grant(clock, resource_pattern="https://b.com")))
    g3 = app.issue(audited(sink, grant(clock, resource_pattern="https://c.com")))
    assert app.refresh()
    assert app.get(g2.grant_id) is not None and app.get(g3.grant_id) is not None


def test_a_generation_that_cannot_be_read_marks_not_intact(tmp_path: Path, clock: FakeClock) -> None:
    """Another process broke the shared database: refresh says so instead of trusting stale grants."""
    ledger = GrantLedger(open_db(tmp_path / "aether.db"), clock=clock)
    g = ledger.issue(audited(FakeSink(), grant(clock)))
    other = open_db(tmp_path / "aether.db")
    other.execute_sql("DROP TABLE ledger_generation")
    assert ledger.intact
    assert not ledger.refresh()
    assert not ledger.intact
    assert ledger.get(g.grant_id) == g  # what it had is kept, flagged as not intact
