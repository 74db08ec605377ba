"""A circuit breaker for the remote tier (DESIGN.md §7): 3 failures in 60 s open it; half-open after 30 s.

While open, turns are answered locally without trying the server (the banner
says "remote unavailable: answering locally"). After the cool-down one turn
tries the server (half-open): a success closes the breaker, a failure opens it
for another cool-down. Failures of the user's setup (a wrong key, an unknown
model) are not the server's and are not counted (:attr:`RemoteError.counts_for_breaker`).
Thread-safe; the clock is injected (monotonic seconds).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    """Closed: remote is tried. Open: it is not. Half-open: one trial turn is."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Counts remote failures in a sliding window and decides whether to try the server.

    Args:
        clock: monotonic seconds.
        failures: how many failures within ``window_s`` open the breaker.
        window_s: the sliding window.
        cooldown_s: how long it stays open before a trial.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        failures: int = 3,
        window_s: float = 60.0,
        cooldown_s: float = 30.0,
    ) -> None:
        self._clock = clock
        self._limit, self._window, self._cooldown = failures, window_s, cooldown_s
        self._failures: deque[float] = deque()
        self._opened_at: float | None = None
        self._trial = False
        self._held_until = 0.0  # a 429's Retry-After: no try before then
        self._lock = threading.Lock()

    @property
    def state(self) -> BreakerState:
        """The state now (an open breaker past its cool-down reads half-open)."""
        with self._lock:
            return self._state_locked()

    def _state_locked(self) -> BreakerState:
        if self._clock() < self._held_until:
            return BreakerState.OPEN
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._trial or self._clock() - self._opened_at >= self._cooldown:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """Whether this turn may try the server (in half-open, only the first caller does)."""
        with self._lock:
            state = self._state_locked()
            if state is BreakerState.CLOSED:
                return True
            if state is BreakerState.HALF_OPEN and not self._trial:
                self._trial = True
                return True
            return False

    def record_success(self) -> None:
        """The server answered: close the breaker and forget earlier failures."""
        with self._lock:
            self._failures.clear()
            self._opened_at, self._trial = None, False

    def record_failure(self) -> None:
        """The server failed: count it; open (or re-open) the breaker when due."""
        with self._lock:
            now = self._clock()
            if self._trial:
                self._opened_at, self._trial = now, False  # the trial failed: another cool-down
                return
            self._failures.append(now)
            while self._failures and now - self._failures[0] > self._window:
                self._failures.popleft()
            if len(self._failures) >= self._limit:
                self._opened_at = now
                self._failures.clear()

    def hold(self, seconds: float) -> None:
        """The server asked to wait (429 Retry-After): no try for ``seconds`` (at most an hour)."""
        with self._lock:
            self._held_until = max(self._held_until, self._clock() + min(max(seconds, 0.0), 3600.0))

    def retry_in(self) -> float:
        """Seconds until a try is allowed (0 when closed or half-open)."""
        with self._lock:
            now = self._clock()
            held = max(0.0, self._held_until - now)
            if self._opened_at is None or self._trial:
                return held
            return max(held, self._cooldown - (now - self._opened_at))
