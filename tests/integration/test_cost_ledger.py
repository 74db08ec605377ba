"""The cost ledger in a real home: restarts, settlements, abandoned and free calls, the audited re-arm."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from app_db_support import connect_app_db
from cost_support import DAY_MS, NOON, ONE, PRICE, Clock
from keyring_support import key_file_runtime

from aether_qt.engines.router.cost_ledger import STALE_AFTER_MS, CostLedger
from aether_qt.engines.router.costs import FREE, CapReached, cost_micros
from aether_qt.policy.decisions import Allow
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.gate.user_acts import decide_as_user


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[PolicyRuntime]:
    with key_file_runtime(tmp_path / "home") as rt:
        yield rt


def user_permit(rt: PolicyRuntime, resource: str) -> Allow:
    decision = decide_as_user(rt.gate, "cost.admin", resource)
    assert isinstance(decision, Allow)
    return decision


def ledger_with_caps(rt: PolicyRuntime, clock: Clock, *, daily: int, monthly: int) -> CostLedger:
    ledger = CostLedger(database=rt.database, clock_ms=clock)
    allow = user_permit(rt, "costs:caps")
    ledger.set_caps(daily_usd=daily / 1e6, monthly_usd=monthly / 1e6, permit=allow.permit, verifier=rt.gate)
    return ledger


def test_spend_and_open_reservations_survive_a_restart(tmp_path: Path) -> None:
    clock = Clock(NOON)
    with key_file_runtime(tmp_path / "home") as rt:
        ledger = ledger_with_caps(rt, clock, daily=10 * ONE, monthly=100 * ONE)
        ledger.settle(ledger.reserve("hosted", "gpt-4o", 1000, 500, PRICE), 800, 200, usage_reported=True)
        ledger.reserve("hosted", "gpt-4o", 1000, 500, PRICE)  # in flight when the app stops
    with key_file_runtime(tmp_path / "home") as rt:
        state = CostLedger(database=rt.database, clock_ms=clock).state()
        entries = CostLedger(database=rt.database, clock_ms=clock).entries()
    assert state.spent_day_micros == cost_micros(PRICE, 800, 200) == 4000
    assert (state.reserved_day_micros, state.open_reservations) == (ONE, 1)
    assert (state.daily_cap_micros, state.monthly_cap_micros) == (10 * ONE, 100 * ONE)
    assert [e.state for e in entries] == ["reserved", "settled"]
    assert (entries[1].input_tokens, entries[1].output_tokens, entries[1].usage_reported) == (800, 200, True)


def test_a_settlement_above_the_reservation_is_recorded_and_trips_the_next_call(
    runtime: PolicyRuntime,
) -> None:
    ledger = ledger_with_caps(runtime, Clock(NOON), daily=2 * ONE, monthly=100 * ONE)
    held = ledger.reserve("hosted", "gpt-4o", 1000, 500, PRICE)
    settled = ledger.settle(held, 1000, 1200, usage_reported=True)  # the server went past max_tokens
    assert settled.charged_micros == cost_micros(PRICE, 1000, 1200) > held.amount_micros
    with pytest.raises(CapReached, match=r"daily cost cap of \$0\.0150"):
        ledger.reserve("hosted", "gpt-4o", 1000, 500, PRICE)
    assert ledger.refusal() is not None


def test_release_gives_the_room_back_and_a_closed_reservation_cannot_be_reused(
    runtime: PolicyRuntime,
) -> None:
    ledger = ledger_with_caps(runtime, Clock(NOON), daily=ONE, monthly=100 * ONE)
    first = ledger.reserve("hosted", "gpt-4o", 1000, 500, PRICE)
    ledger.release(first)
    second = ledger.reserve("hosted", "gpt-4o", 1000, 500, PRICE)
    for close in (lambda: ledger.release(first), lambda: ledger.settle(first, 1, 1)):
        with pytest.raises(ValueError, match="already released"):
            close()
    ledger.settle(second, 10, 10)
    with pytest.raises(ValueError, match="already settled"):
        ledger.release(second)
    assert ledger.state().used_day_micros == cost_micros(PRICE, 10, 10)


def test_a_reservation_never_settled_counts_in_full(runtime: PolicyRuntime) -> None:
    clock = Clock(NOON)
    ledger = ledger_with_caps(runtime, clock, daily=2 * ONE, monthly=100 * ONE)
    dead = ledger.reserve("hosted", "gpt-4o", 1000, 500, PRICE)  # its process was killed
    clock.now_ms += STALE_AFTER_MS + 1
    ledger.settle(ledger.reserve("hosted", "gpt-4o", 1000, 500, PRICE), 1000, 500)
    state = ledger.state()
    assert (state.spent_day_micros, state.open_reservations) == (2 * ONE, 0)
    assert ledger.entries()[-1].state == "abandoned"
    ledger.settle(dead, 100, 0)  # a very late answer corrects it
    assert ledger.state().spent_day_micros == ONE + cost_micros(PRICE, 100, 0)


def test_free_calls_pass_a_tripped_cap_and_the_month_cap_reopens_next_month(runtime: PolicyRuntime) -> None:
    clock = Clock(NOON)
    ledger = ledger_with_caps(runtime, clock, daily=10 * ONE, monthly=ONE)
    ledger.settle(ledger.reserve("hosted", "gpt-4o", 1000, 500, PRICE), 1000, 500)
    with pytest.raises(CapReached, match="monthly"):
        ledger.reserve("hosted", "gpt-4o", 1, 1, PRICE)
    assert ledger.reserve("lan", "llama3", 5000, 500, FREE).amount_micros == 0
    clock.now_ms += 30 * DAY_MS  # 2027-01-06
    assert ledger.reserve("hosted", "gpt-4o", 1000, 500, PRICE).month == "2027-01"


def test_rearm_is_the_users_audited_act_and_the_log_verifies(runtime: PolicyRuntime) -> None:
    ledger = ledger_with_caps(runtime, Clock(NOON), daily=3 * ONE, monthly=100 * ONE)
    ledger.settle(ledger.reserve("hosted", "gpt-4o", 1000, 500, PRICE), 1000, 500)
    with pytest.raises(CapReached):
        ledger.reserve("hosted", "gpt-4o", 1000, 5000, PRICE)
    allow = user_permit(runtime, "costs:rearm")
    state = ledger.rearm(permit=allow.permit, verifier=runtime.gate)
    assert state.tripped is None
    assert ledger.reserve("hosted", "gpt-4o", 1000, 500, PRICE).amount_micros == ONE
    assert runtime.audit is not None
    row = runtime.audit.get(allow.audit_id)
    assert row is not None
    assert (row.capability, row.resource, row.decision, row.actor) == (
        "cost.admin",
        "costs:rearm",
        "allow",
        "user",
    )
    raw = connect_app_db(runtime.paths)
    try:
        events = raw.execute("SELECT kind, audit_id FROM cost_events ORDER BY seq").fetchall()
    finally:
        raw.close()
    assert [kind for kind, _ in events] == ["caps", "trip", "rearm"] and events[-1][1] == allow.audit_id
    assert runtime.verify().intact


def test_a_bad_cap_is_refused_before_the_permit_is_spent(runtime: PolicyRuntime) -> None:
    ledger = CostLedger(database=runtime.database)
    allow = user_permit(runtime, "costs:caps")
    with pytest.raises(ValueError, match="daily cap"):
        ledger.set_caps(daily_usd=-5.0, monthly_usd=None, permit=allow.permit, verifier=runtime.gate)
    state = ledger.set_caps(daily_usd=None, monthly_usd=3.0, permit=allow.permit, verifier=runtime.gate)
    assert (state.daily_cap_micros, state.monthly_cap_micros) == (1_000_000, 3_000_000)
