"""Tests of the turn clock on a fake monotonic clock."""

from __future__ import annotations

import pytest

from aether_qt.engines.interaction.fsm import Timer
from aether_qt.engines.interaction.timing import BUDGET_MS, TURN_TIMERS, TimerSchedule
from aether_qt.policy.contracts import FakeClock


def test_budget_table_matches_the_design() -> None:
    assert dict(BUDGET_MS) == {
        "first_visible": 250,
        "reflex": 150,
        "recall": 150,
        "ack": 800,
        "soft": 2000,
        "hard": 4000,
        "barge_in": 150,
    }
    with pytest.raises(TypeError):
        BUDGET_MS["ack"] = 1  # type: ignore[index]


def test_timers_fall_due_once_each_in_order() -> None:
    clock = FakeClock()
    schedule = TimerSchedule(clock=clock)
    assert schedule.due() == ()
    assert schedule.pending == TURN_TIMERS
    clock.advance(0.149)
    assert schedule.due() == ()
    clock.advance(0.001)
    assert schedule.due() == (Timer("reflex"),)
    clock.advance(0.700)  # 850 ms
    assert schedule.due() == (Timer("first_visible"), Timer("ack"))
    assert schedule.due() == ()
    clock.advance(10)
    assert schedule.due() == (Timer("soft"), Timer("hard"))
    assert schedule.pending == ()
    assert schedule.next_deadline_ns() is None
    assert schedule.timeout_s() is None


def test_timeout_tells_a_host_loop_how_long_to_block() -> None:
    clock = FakeClock()
    schedule = TimerSchedule(clock=clock)
    assert schedule.timeout_s() == pytest.approx(0.150)
    assert schedule.next_deadline_ns() == schedule.started_ns + 150_000_000
    clock.advance(0.2)
    assert schedule.timeout_s() == 0.0  # overdue: do not block
    schedule.due()
    assert schedule.timeout_s() == pytest.approx(0.050)
    assert schedule.elapsed_ms() == pytest.approx(200)


def test_explicit_start_and_cancel() -> None:
    clock = FakeClock(mono_ns=5_000_000_000)
    schedule = TimerSchedule(clock=clock, started_ns=4_000_000_000)
    assert schedule.started_ns == 4_000_000_000
    assert schedule.elapsed_ms() == pytest.approx(1000)
    assert [t.name for t in schedule.due()] == ["reflex", "first_visible", "ack"]
    schedule.cancel()
    clock.advance(10)
    assert schedule.due() == ()
