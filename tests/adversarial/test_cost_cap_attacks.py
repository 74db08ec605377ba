"""Attacks on the cost caps: parallel overshoot, the clock moved back, forged re-arms, a broken ledger.

Everything is real: the home's encrypted ``aether.db`` (keys in the opt-in key
file), the real gate for permits, 20 real threads and 2 real processes racing
for a cap that holds exactly one reservation.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_db_support import connect_app_db, data_key
from cost_support import DAY_MS, MAX_OUT, NOON, ONE, PRICE, PROMPT, Clock
from keyring_support import key_file_runtime

from aether_qt.core.paths import migrations_dir
from aether_qt.engines.router.cost_ledger import CostLedger
from aether_qt.engines.router.costs import (
    CapReached,
    CostRefused,
    LedgerUnavailable,
    Reservation,
    cost_check,
)
from aether_qt.policy.contracts import PermitError
from aether_qt.policy.decisions import ActionRequest, ApprovalChoice, Ask
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.gate.user_acts import decide_as_user
from aether_qt.storage.database import close_database, open_database, open_memory_database

FAIL_BACKEND = "keyring.backends.fail.Keyring"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[PolicyRuntime]:
    with key_file_runtime(tmp_path / "home") as rt:
        yield rt


def set_caps(rt: PolicyRuntime, ledger: CostLedger, *, daily_micros: int, monthly_micros: int) -> None:
    allow = decide_as_user(rt.gate, "cost.admin", "costs:caps")
    ledger.set_caps(
        daily_usd=daily_micros / 1e6, monthly_usd=monthly_micros / 1e6, permit=allow.permit, verifier=rt.gate
    )  # type: ignore[union-attr]


def reserve(ledger: CostLedger) -> Reservation:
    return ledger.reserve("hosted", "gpt-4o", PROMPT, MAX_OUT, PRICE)


def test_twenty_threads_racing_for_one_reservation_never_overshoot(runtime: PolicyRuntime) -> None:
    ledger = CostLedger(database=runtime.database)
    set_caps(runtime, ledger, daily_micros=ONE, monthly_micros=100 * ONE)
    barrier = threading.Barrier(20)
    won: list[Reservation] = []
    refused: list[CostRefused] = []
    lock = threading.Lock()

    def race() -> None:
        barrier.wait()
        try:
            got = reserve(ledger)
        except CostRefused as exc:
            with lock:
                refused.append(exc)
            return
        with lock:
            won.append(got)
        ledger.settle(got, PROMPT, MAX_OUT // 2)  # settled below the reservation: room frees up

    threads = [threading.Thread(target=race) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    state = ledger.state()
    assert len(won) + len(refused) == 20
    assert all(isinstance(exc, CapReached) for exc in refused), [str(e) for e in refused]
    assert state.used_day_micros <= ONE + ONE
    assert sum(e.charged_micros for e in ledger.entries(100)) == state.used_day_micros
    assert len(won) >= 1 and state.tripped is not None


CHILD = """
import sys, time
from pathlib import Path
from aether_qt.commands.session import app_database
from aether_qt.core.paths import resolve_paths
from aether_qt.engines.router.cost_ledger import CostLedger
from aether_qt.engines.router.costs import CostRefused, Price

home, go = Path(sys.argv[1]), Path(sys.argv[2])
with app_database(resolve_paths(home), allow_key_file=True) as db:
    ledger = CostLedger(database=db)
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)
    won = 0
    for _ in range(10):
        try:
            ledger.reserve("hosted", "gpt-4o", 1000, 500, Price(2.50, 10.00))
            won += 1
        except CostRefused as exc:
            print("refused", type(exc).__name__, flush=True)
    print("won", won, flush=True)
"""


def test_two_processes_racing_for_one_reservation_never_overshoot(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with key_file_runtime(home) as rt:
        ledger = CostLedger(database=rt.database)
        set_caps(rt, ledger, daily_micros=ONE, monthly_micros=100 * ONE)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": FAIL_BACKEND, "PYTHONPATH": os.getcwd()}
    script = textwrap.dedent(CHILD)
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(home), str(go)], stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    for child in children:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    go.touch()
    outputs = [child.communicate(timeout=120)[0] for child in children]
    assert [child.returncode for child in children] == [0, 0], outputs
    won = sum(int(out.strip().splitlines()[-1].split()[1]) for out in outputs)
    assert won == 1, outputs
    assert all("LedgerUnavailable" not in out for out in outputs), outputs
    with key_file_runtime(home) as rt:
        state = CostLedger(database=rt.database).state()
    assert state.used_day_micros <= ONE + ONE and state.open_reservations == 1


def test_moving_the_clock_back_never_opens_a_new_day(runtime: PolicyRuntime) -> None:
    clock = Clock(NOON + 11 * 3_600_000)  # 23:00 UTC
    ledger = CostLedger(database=runtime.database, clock_ms=clock)
    set_caps(runtime, ledger, daily_micros=ONE, monthly_micros=100 * ONE)
    ledger.settle(reserve(ledger), PROMPT, MAX_OUT)
    with pytest.raises(CapReached):
        reserve(ledger)
    clock.now_ms -= 2 * DAY_MS  # two days back: a naive ledger sees an empty day
    with pytest.raises(CapReached):
        reserve(ledger)
    restarted = CostLedger(database=runtime.database, clock_ms=clock)  # the mark is persisted
    with pytest.raises(CapReached):
        reserve(restarted)
    state = restarted.state()
    assert state.day == "2026-12-07" and state.clock_behind_ms == 2 * DAY_MS
    clock.now_ms = NOON + DAY_MS  # the day truly ended: the next day's budget opens
    assert reserve(restarted).day == "2026-12-08"


def test_a_reached_cap_stays_refused_even_for_a_reservation_that_would_fit(runtime: PolicyRuntime) -> None:
    ledger = CostLedger(database=runtime.database, clock_ms=Clock(NOON))
    set_caps(runtime, ledger, daily_micros=3 * ONE, monthly_micros=100 * ONE)
    ledger.settle(reserve(ledger), PROMPT, MAX_OUT)
    with pytest.raises(CapReached):
        ledger.reserve("hosted", "gpt-4o", PROMPT, 10 * MAX_OUT, PRICE)  # too big: trips
    with pytest.raises(CapReached, match="rearm"):
        reserve(ledger)  # would fit, but the cap tripped and nobody re-armed it


def test_rearm_needs_the_users_own_permit_for_cost_admin(runtime: PolicyRuntime) -> None:
    ledger = CostLedger(database=runtime.database, clock_ms=Clock(NOON))
    set_caps(runtime, ledger, daily_micros=ONE, monthly_micros=100 * ONE)
    ledger.release(reserve(ledger))
    with pytest.raises(CapReached):
        ledger.reserve("hosted", "gpt-4o", PROMPT, 2 * MAX_OUT, PRICE)
    other = decide_as_user(runtime.gate, "memory.delete", "memory:topic")
    with pytest.raises(PermitError):
        ledger.rearm(permit=other.permit, verifier=runtime.gate)  # type: ignore[union-attr]
    caps = decide_as_user(runtime.gate, "cost.admin", "costs:caps")
    with pytest.raises(PermitError):
        ledger.rearm(permit=caps.permit, verifier=runtime.gate)  # type: ignore[union-attr]
    asked = runtime.gate.evaluate(ActionRequest("cost.admin", "costs:rearm", actor_persona="default"))
    assert isinstance(asked, Ask)
    persona = runtime.gate.answer(asked.ticket.ticket_id, ApprovalChoice.ALLOW_ONCE)
    with pytest.raises(PermitError):
        ledger.rearm(permit=persona.permit, verifier=runtime.gate)  # type: ignore[union-attr]
    asked = runtime.gate.evaluate(ActionRequest("cost.admin", "costs:caps", actor_persona="default"))
    assert isinstance(asked, Ask)
    raise_caps = runtime.gate.answer(asked.ticket.ticket_id, ApprovalChoice.ALLOW_ONCE)
    with pytest.raises(PermitError):
        ledger.set_caps(daily_usd=100.0, monthly_usd=None, permit=raise_caps.permit, verifier=runtime.gate)  # type: ignore[union-attr]
    assert ledger.state().daily_cap_micros == ONE
    assert ledger.state().tripped is not None
    with pytest.raises(CapReached):
        reserve(ledger)


def test_a_damaged_ledger_refuses_remote_spending(runtime: PolicyRuntime) -> None:
    ledger = CostLedger(database=runtime.database)
    raw = connect_app_db(runtime.paths)
    try:
        raw.execute("DELETE FROM cost_state")
    finally:
        raw.close()
    with pytest.raises(LedgerUnavailable, match="damaged"):
        reserve(ledger)
    assert ledger.refusal() is not None
    check = cost_check(ledger.refusal)
    assert check(ActionRequest("router.remote", "https://api.example.invalid/v1")) is not None
    assert check(ActionRequest("files.read", "/tmp/x")) is None


def test_a_missing_table_refuses_remote_spending(runtime: PolicyRuntime) -> None:
    ledger = CostLedger(database=runtime.database)
    raw = connect_app_db(runtime.paths)
    try:
        raw.execute("DROP TABLE cost_entries")
    finally:
        raw.close()
    with pytest.raises(LedgerUnavailable):
        reserve(ledger)
    assert "cost" in (ledger.refusal() or "")


def test_a_locked_ledger_refuses_remote_spending_with_a_clear_error(runtime: PolicyRuntime) -> None:
    db = open_database(
        runtime.paths.app_db,
        migrations=migrations_dir(),
        backups_dir=runtime.paths.data_dir / "backups",
        busy_timeout_ms=50,
        key=data_key(runtime.paths),
    )
    holder = connect_app_db(runtime.paths)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process writing and never letting go
        ledger = CostLedger(database=db)
        with pytest.raises(LedgerUnavailable, match="locked"):
            reserve(ledger)
        holder.execute("ROLLBACK")
        assert reserve(ledger).amount_micros == ONE
    finally:
        holder.close()
        close_database(db)


def test_the_stand_in_database_of_locked_data_never_allows_spending() -> None:
    stand_in = open_memory_database(migrations=migrations_dir())
    try:
        ledger = CostLedger(database=stand_in)
        with pytest.raises(LedgerUnavailable, match="locked"):
            reserve(ledger)
        assert ledger.refusal() is not None
    finally:
        close_database(stand_in)


def test_a_reservation_inside_a_callers_transaction_is_refused(runtime: PolicyRuntime) -> None:
    ledger = CostLedger(database=runtime.database)
    with runtime.database.atomic(), pytest.raises(RuntimeError, match="own transaction"):
        reserve(ledger)  # a deferred outer transaction would give up the write lock's serialisation
    assert ledger.entries() == []
