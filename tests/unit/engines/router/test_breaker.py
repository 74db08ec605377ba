"""The circuit breaker: 3 failures in 60 s open it, half-open after 30 s, one trial at a time."""

from __future__ import annotations

from aether_qt.engines.router.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_three_failures_within_a_minute_open_it_and_two_do_not() -> None:
    clock = Clock()
    breaker = CircuitBreaker(clock=clock)
    breaker.record_failure()
    clock.now += 30
    breaker.record_failure()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
    clock.now += 29
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    assert 29.0 < breaker.retry_in() <= 30.0


def test_failures_spread_over_more_than_a_minute_do_not_open_it() -> None:
    clock = Clock()
    breaker = CircuitBreaker(clock=clock)
    for _ in range(6):
        breaker.record_failure()
        clock.now += 31
    assert breaker.state is BreakerState.CLOSED


def test_after_the_cool_down_one_trial_runs_and_its_result_closes_or_reopens() -> None:
    clock = Clock()
    breaker = CircuitBreaker(clock=clock)
    for _ in range(3):
        breaker.record_failure()
    clock.now += 30
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow() and not breaker.allow()  # only one trial at a time
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN  # the trial failed: another cool-down
    clock.now += 30
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow()


def test_a_retry_after_holds_every_try_until_it_has_passed() -> None:
    clock = Clock()
    breaker = CircuitBreaker(clock=clock)
    breaker.hold(12.0)
    assert breaker.state is BreakerState.OPEN and not breaker.allow() and breaker.retry_in() == 12.0
    clock.now += 12.0
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
