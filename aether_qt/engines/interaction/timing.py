"""The turn clock: budgets in milliseconds and the timers they raise (DESIGN.md §4).

Time is measured from ``turn_begin`` on an injected monotonic :class:`Clock`, so
tests drive it with :class:`~aether_qt.policy.contracts.FakeClock`. A
:class:`TimerSchedule` does not sleep or start threads: the host loop asks it
which timers are due (:meth:`TimerSchedule.due`) and how long it may block
(:meth:`TimerSchedule.timeout_s`, e.g. for ``queue.get(timeout=...)``), and
feeds the due :class:`Timer` events to the FSM.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from aether_qt.engines.interaction.turn_io import Timer, TimerName
from aether_qt.policy.contracts import Clock

BUDGET_MS: Final[Mapping[str, int]] = MappingProxyType(
    {
        "first_visible": 250,  # show Thinking at once if nothing is visible
        "reflex": 150,  # classification late: treat as Acknowledge, drop the verdict
        "recall": 150,  # memory recall late: go on with what arrived, flag memory_miss
        "ack": 800,  # first acknowledgement: no silent turns
        "soft": 2000,  # a second, different ack; the avatar keeps working
        "hard": 4000,  # progress message or repair; never a silent cancel
        "barge_in": 150,  # stop speech and generation, back to Listening
    }
)
"""Every budget of the turn clock. ``recall`` and ``barge_in`` are enforced by the
memory and media engines; the others are timers of the turn FSM."""

TURN_TIMERS: Final[tuple[TimerName, ...]] = ("reflex", "first_visible", "ack", "soft", "hard")
"""The timers a turn schedules, in the order they fire."""

_NS_PER_MS: Final = 1_000_000


class TimerSchedule:
    """The pending timers of one turn, on a monotonic clock.

    Each timer is returned by :meth:`due` exactly once, in deadline order.
    """

    def __init__(self, *, clock: Clock, started_ns: int | None = None) -> None:
        """Start the turn clock.

        Args:
            clock: the monotonic clock (a ``FakeClock`` in tests).
            started_ns: the ``turn_begin`` instant; now when omitted.
        """
        self._clock = clock
        self._started_ns = clock.monotonic_ns() if started_ns is None else started_ns
        ordered = sorted(TURN_TIMERS, key=lambda name: BUDGET_MS[name])
        self._pending: list[tuple[int, TimerName]] = [
            (self._started_ns + BUDGET_MS[name] * _NS_PER_MS, name) for name in ordered
        ]

    @property
    def started_ns(self) -> int:
        """The monotonic instant the turn began."""
        return self._started_ns

    @property
    def pending(self) -> tuple[TimerName, ...]:
        """Names of the timers not yet returned by :meth:`due`."""
        return tuple(name for _, name in self._pending)

    def elapsed_ms(self) -> float:
        """Milliseconds since the turn began."""
        return (self._clock.monotonic_ns() - self._started_ns) / _NS_PER_MS

    def due(self) -> tuple[Timer, ...]:
        """Pop and return the timers whose deadline has passed, earliest first."""
        now = self._clock.monotonic_ns()
        fired = [name for deadline, name in self._pending if deadline <= now]
        self._pending = [(deadline, name) for deadline, name in self._pending if deadline > now]
        return tuple(Timer(name) for name in fired)

    def next_deadline_ns(self) -> int | None:
        """The monotonic instant of the next pending timer, or None when none is left."""
        return self._pending[0][0] if self._pending else None

    def timeout_s(self) -> float | None:
        """Seconds a host loop may block before the next timer is due (0.0 if overdue; None if none)."""
        deadline = self.next_deadline_ns()
        if deadline is None:
            return None
        return max(0.0, (deadline - self._clock.monotonic_ns()) / 1e9)

    def cancel(self) -> None:
        """Drop every pending timer (the turn ended)."""
        self._pending = []
