"""Prices, costs, periods and the gate hook of the remote tier (pure)."""

from __future__ import annotations

import math

import pytest

from aether_qt.engines.router.costs import (
    DEFAULT_PRICES,
    FREE,
    Price,
    cost_check,
    cost_micros,
    day_key,
    default_price,
    format_usd,
    micros_from_usd,
    month_key,
    prompt_token_estimate,
)
from aether_qt.engines.router.prompt import estimate_tokens
from aether_qt.policy.decisions import ActionRequest


def test_cost_is_exact_in_micro_dollars_and_rounds_up() -> None:
    mini = Price(0.15, 0.60)
    assert cost_micros(mini, 100, 0) == 15  # 0.15 * 100 is 15.000000000000002 in floating point
    assert cost_micros(mini, 1, 0) == 1  # 0.15 micro-dollars: never rounded down to free
    assert cost_micros(Price(2.50, 10.00), 1000, 500) == 7500
    assert cost_micros(FREE, 10**6, 10**6) == 0


@pytest.mark.parametrize("tokens", [-1, 1.5, True, 10**9, "3"])
def test_malformed_token_counts_are_refused(tokens: object) -> None:
    with pytest.raises(ValueError, match="tokens"):
        cost_micros(Price(1, 1), tokens, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [-0.01, math.nan, math.inf, 10_001.0, True, "1"])
def test_impossible_prices_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="USD per million tokens"):
        Price(value, 1.0)  # type: ignore[arg-type]


def test_default_prices_take_the_longest_known_name_and_self_hosted_is_free() -> None:
    assert default_price("gpt-4o-mini-2024-07-18", self_hosted=False) == DEFAULT_PRICES["gpt-4o-mini"]
    assert default_price("gpt-4o-2024-08-06", self_hosted=False) == DEFAULT_PRICES["gpt-4o"]
    assert default_price("GPT-4.1-mini", self_hosted=False) == DEFAULT_PRICES["gpt-4.1-mini"]
    assert default_price("gpt-4o-minimal", self_hosted=False) is None  # not a dated snapshot of a known one
    assert default_price("llama3.1:8b", self_hosted=False) is None  # unknown on a hosted API: ask the user
    assert default_price("gpt-4o", self_hosted=True) == FREE


def test_periods_are_utc_days_and_months() -> None:
    last_second = 1_798_761_599_000  # 2026-12-31 23:59:59 UTC
    assert (day_key(last_second), month_key(last_second)) == ("2026-12-31", "2026-12")
    assert (day_key(last_second + 1000), month_key(last_second + 1000)) == ("2027-01-01", "2027-01")


def test_cap_amounts_round_down_and_refuse_nonsense() -> None:
    assert micros_from_usd(0.02) == 20_000
    assert micros_from_usd(0.0000019) == 1  # a cap never grows by rounding
    for bad in (-1.0, math.nan, math.inf, 2e6, True):
        with pytest.raises(ValueError, match="cap"):
            micros_from_usd(bad)  # type: ignore[arg-type]


def test_amounts_read_well() -> None:
    amounts = [format_usd(m) for m in (0, 15, 7500, 15_000, 500_000, 1_500_000, 1_234_567)]
    assert amounts == ["$0.00", "$0.000015", "$0.0075", "$0.0150", "$0.50", "$1.50", "$1.234567"]


def test_prompt_estimate_is_the_prompt_builders_upper_estimate() -> None:
    text = "Hello there, how are you today? 12345 안녕"
    assert prompt_token_estimate(text) == estimate_tokens(text) >= math.ceil(len(text) / 4)


def test_gate_hook_refuses_only_paid_remote_calls_while_the_ledger_refuses() -> None:
    reason: list[str | None] = ["the daily cost cap is reached"]
    check = cost_check(lambda: reason[0], is_free=lambda url: url.startswith("http://127.0.0.1"))
    assert check(ActionRequest("router.remote", "https://api.example.invalid/v1")) == reason[0]
    assert check(ActionRequest("router.remote_private", "https://api.example.invalid/v1")) == reason[0]
    assert check(ActionRequest("router.remote", "http://127.0.0.1:8080/v1")) is None
    assert check(ActionRequest("files.read", "/tmp/notes.txt")) is None
    reason[0] = None
    assert check(ActionRequest("router.remote", "https://api.example.invalid/v1")) is None
