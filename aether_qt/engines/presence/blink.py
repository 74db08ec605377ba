"""Blinks: 10-20 a minute, jittered, never the same interval twice (DESIGN.md §9).

:class:`BlinkIntervals` draws the time between two blinks from the persona's
rate. The rate is clamped to 10-20 per minute and each interval is jittered by
up to ±30 % and then *folded* back into 3-6 s (the intervals that 20 and 10
blinks a minute allow). Because every single interval lies in 3-6 s, any minute
holds between 10 and 20 blinks whatever the seed; the price is that a persona
asking for exactly 10 (or 20) blinks gets about 12 (or 17): at the edge of the
range, jitter can only point inwards.

Intervals are whole milliseconds; one equal to any of the last
:data:`MEMORY` intervals is drawn again, so no interval repeats within
several minutes (and never twice in a row).

:class:`BlinkTimer` turns the intervals into an eyelid curve on a clock:
a quick close, a short hold, a slower open -- :data:`BLINK_NS` in all.
"""

from __future__ import annotations

import math
import random
from collections import deque
from typing import Final

RATE_MIN: Final = 10.0
RATE_MAX: Final = 20.0
RATE_DEFAULT: Final = 15.0
MIN_INTERVAL_MS: Final = 3000  # 60 s / 20
MAX_INTERVAL_MS: Final = 6000  # 60 s / 10
JITTER: Final = 0.3
MEMORY: Final = 256
_MAX_DRAWS: Final = 32

CLOSE_NS: Final = 50_000_000
HOLD_NS: Final = 20_000_000
OPEN_NS: Final = 80_000_000
BLINK_NS: Final = CLOSE_NS + HOLD_NS + OPEN_NS


def clamp_rate(rate_per_min: float) -> float:
    """``rate_per_min`` limited to 10-20 (a non-finite rate becomes the default 15)."""
    if not math.isfinite(rate_per_min):
        return RATE_DEFAULT
    return min(max(rate_per_min, RATE_MIN), RATE_MAX)


def _fold(ms: int) -> int:
    """Reflect ``ms`` into [MIN_INTERVAL_MS, MAX_INTERVAL_MS] (keeps the spread, unlike a clamp)."""
    if ms < MIN_INTERVAL_MS:
        ms = 2 * MIN_INTERVAL_MS - ms
    if ms > MAX_INTERVAL_MS:
        ms = 2 * MAX_INTERVAL_MS - ms
    return min(max(ms, MIN_INTERVAL_MS), MAX_INTERVAL_MS)


class BlinkIntervals:
    """A seeded source of blink intervals in milliseconds, never repeating within :data:`MEMORY`."""

    def __init__(self, *, rate_per_min: float, seed: int, memory: int = MEMORY) -> None:
        """Start a sequence.

        Args:
            rate_per_min: the persona's blink rate (clamped to 10-20).
            seed: makes the sequence reproducible.
            memory: how many past intervals a new one must differ from (>= 1).
        """
        if memory < 1:
            raise ValueError("memory must be >= 1")
        self._rng = random.Random(seed)
        self._rate = clamp_rate(rate_per_min)
        self._recent: deque[int] = deque(maxlen=memory)

    @property
    def rate(self) -> float:
        """The clamped rate in blinks per minute."""
        return self._rate

    def set_rate(self, rate_per_min: float) -> None:
        """Use a new rate from the next interval on (persona hot reload)."""
        self._rate = clamp_rate(rate_per_min)

    def next_ms(self) -> int:
        """The next interval, in whole milliseconds within 3000-6000."""
        mean = 60_000.0 / self._rate
        ms = MIN_INTERVAL_MS
        for _ in range(_MAX_DRAWS):
            ms = _fold(round(mean * (1.0 + self._rng.uniform(-JITTER, JITTER))))
            if ms not in self._recent:
                break
        else:
            ms = self._nearest_unused(ms)
        self._recent.append(ms)
        return ms

    def _nearest_unused(self, ms: int) -> int:
        """The value closest to ``ms`` not among the recent ones (the range is far wider than MEMORY)."""
        used = set(self._recent)
        for step in range(MAX_INTERVAL_MS - MIN_INTERVAL_MS + 1):
            for candidate in (ms - step, ms + step):
                if MIN_INTERVAL_MS <= candidate <= MAX_INTERVAL_MS and candidate not in used:
                    return candidate
        raise RuntimeError("no unused blink interval left")  # impossible while MEMORY < 3001


def _smoothstep(x: float) -> float:
    x = min(max(x, 0.0), 1.0)
    return x * x * (3.0 - 2.0 * x)


def blink_closure(elapsed_ns: int) -> float:
    """Eyelid closure ``elapsed_ns`` after a blink began: 0 open .. 1 closed, 0 outside the blink."""
    if elapsed_ns < 0 or elapsed_ns >= BLINK_NS:
        return 0.0
    if elapsed_ns < CLOSE_NS:
        return _smoothstep(elapsed_ns / CLOSE_NS)
    if elapsed_ns < CLOSE_NS + HOLD_NS:
        return 1.0
    return 1.0 - _smoothstep((elapsed_ns - CLOSE_NS - HOLD_NS) / OPEN_NS)


class BlinkTimer:
    """Schedules blinks on a clock and reports the eyelid closure at any instant.

    A blink that falls due while nobody asks (the avatar hidden, degraded) is
    skipped rather than caught up, so a resume never starts with a flurry of
    blinks.
    """

    def __init__(self, *, intervals: BlinkIntervals, now_ns: int) -> None:
        """Schedule the first blink one interval after ``now_ns``."""
        self._intervals = intervals
        self._started_ns: int | None = None
        self._next_ns = now_ns + intervals.next_ms() * 1_000_000

    @property
    def intervals(self) -> BlinkIntervals:
        """The interval source (to change its rate)."""
        return self._intervals

    def closure(self, now_ns: int) -> float:
        """Eyelid closure at ``now_ns`` (call it with a clock that never goes back)."""
        if now_ns >= self._next_ns:
            if now_ns - self._next_ns < BLINK_NS:
                self._started_ns = self._next_ns
                self._next_ns += self._intervals.next_ms() * 1_000_000
            else:  # overdue: nobody watched; start afresh without a blink now
                self._started_ns = None
                self._next_ns = now_ns + self._intervals.next_ms() * 1_000_000
        if self._started_ns is None:
            return 0.0
        return blink_closure(now_ns - self._started_ns)
