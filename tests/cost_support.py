"""Shared pieces of the cost ledger tests: a clock the test moves, a price and one reservation's worth."""

from __future__ import annotations

from aether_qt.engines.router.costs import Price, cost_micros

PRICE = Price(2.50, 10.00)
PROMPT, MAX_OUT = 1000, 500
ONE = cost_micros(PRICE, PROMPT, MAX_OUT)  # 7500 micro-dollars: one reservation
DAY_MS = 86_400_000
NOON = 1_796_644_800_000  # 2026-12-07 12:00 UTC


class Clock:
    """A wall clock the test moves, forward and back."""

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms
