"""Blink intervals and the eyelid curve (aether_qt/engines/presence/blink.py)."""

from __future__ import annotations

import itertools
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aether_qt.engines.presence.blink import (
    BLINK_NS,
    MAX_INTERVAL_MS,
    MEMORY,
    MIN_INTERVAL_MS,
    BlinkIntervals,
    BlinkTimer,
    blink_closure,
    clamp_rate,
)

TEN_MINUTES_MS = 600_000


def draw_for(intervals: BlinkIntervals, total_ms: int) -> list[int]:
    out: list[int] = []
    while sum(out) < total_ms:
        out.append(intervals.next_ms())
    return out


@pytest.mark.parametrize("rate", [10.0, 15.0, 20.0])
@pytest.mark.parametrize("seed", [0, 1, 42])
def test_ten_minutes_of_intervals_are_jittered_in_range_and_never_repeat(rate: float, seed: int) -> None:
    drawn = draw_for(BlinkIntervals(rate_per_min=rate, seed=seed), TEN_MINUTES_MS)
    assert all(MIN_INTERVAL_MS <= ms <= MAX_INTERVAL_MS for ms in drawn)
    assert len(set(drawn)) == len(drawn)  # not only consecutive: none at all in ten minutes
    assert statistics.pstdev(drawn) > 100
    per_minute = len(drawn) / 10
    assert 10 <= per_minute <= 20


def test_the_rate_orders_the_blinks() -> None:
    counts = [len(draw_for(BlinkIntervals(rate_per_min=r, seed=3), TEN_MINUTES_MS)) for r in (10, 15, 20)]
    assert counts[0] < counts[1] < counts[2]


def test_no_repeat_within_memory_even_when_the_range_is_crowded() -> None:
    intervals = BlinkIntervals(rate_per_min=20, seed=9)
    drawn = [intervals.next_ms() for _ in range(3 * MEMORY)]
    for i in range(len(drawn)):
        window = drawn[max(0, i - MEMORY + 1) : i + 1]
        assert len(set(window)) == len(window)


@given(st.integers(min_value=0, max_value=2**32), st.floats(allow_nan=True, allow_infinity=True))
def test_any_seed_and_rate_give_valid_distinct_neighbours(seed: int, rate: float) -> None:
    intervals = BlinkIntervals(rate_per_min=rate, seed=seed, memory=4)
    drawn = [intervals.next_ms() for _ in range(50)]
    assert all(MIN_INTERVAL_MS <= ms <= MAX_INTERVAL_MS for ms in drawn)
    assert all(a != b for a, b in itertools.pairwise(drawn))
    assert 10 <= intervals.rate <= 20


def test_rate_is_clamped() -> None:
    assert clamp_rate(3) == 10
    assert clamp_rate(99) == 20
    assert clamp_rate(12.5) == 12.5
    assert clamp_rate(float("nan")) == 15


def test_same_seed_same_sequence() -> None:
    a = BlinkIntervals(rate_per_min=15, seed=7)
    b = BlinkIntervals(rate_per_min=15, seed=7)
    assert [a.next_ms() for _ in range(20)] == [b.next_ms() for _ in range(20)]


def test_memory_must_be_positive() -> None:
    with pytest.raises(ValueError, match="memory"):
        BlinkIntervals(rate_per_min=15, seed=0, memory=0)


def test_blink_curve_closes_fully_and_reopens_in_about_150_ms() -> None:
    samples = [blink_closure(ms * 1_000_000) for ms in range(0, 200)]
    assert samples[0] == 0.0
    assert max(samples) == 1.0
    assert BLINK_NS == 150_000_000
    assert all(s == 0.0 for s in samples[150:])
    peak = samples.index(1.0)
    assert all(a <= b for a, b in itertools.pairwise(samples[: peak + 1]))  # closing
    assert blink_closure(-1) == 0.0


def test_timer_skips_overdue_blinks_instead_of_catching_up() -> None:
    timer = BlinkTimer(intervals=BlinkIntervals(rate_per_min=15, seed=1), now_ns=0)
    assert timer.closure(0) == 0.0
    # nobody looked for a minute: no blink now, and none in the next 2.9 s
    later = 60_000_000_000
    assert [timer.closure(later + k * 33_000_000) for k in range(88)] == [0.0] * 88
