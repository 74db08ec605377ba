"""What a remote call costs: prices, token estimates, periods, and the ledger's value types.

Pure: no database, no clock of its own. The persisted ledger that uses these
is :mod:`.cost_ledger`.

Money is counted in integer micro-dollars (:data:`MICROS_PER_USD`). A price in
USD per million tokens is, conveniently, micro-dollars per token, so the cost
of a call is ``price_in * input + price_out * output`` micro-dollars, computed
in :class:`~decimal.Decimal` (``0.15 * 100`` is not 15 in floating point) and
rounded *up*: the ledger may overstate a call by less than a micro-dollar,
never understate it.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from types import MappingProxyType
from typing import Any, Final

from aether_qt.core.errors import ExplainedError
from aether_qt.engines.router.prompt import estimate_tokens
from aether_qt.policy.decisions import ActionRequest
from aether_qt.policy.evaluator import CostCheck

MICROS_PER_USD: Final = 1_000_000
MAX_PRICE_PER_MTOK: Final = 10_000.0
"""Above any real model's price: a larger number is a typo (cents for dollars...), refused."""
MAX_CAP_USD: Final = 1_000_000.0
MAX_TOKENS: Final = 100_000_000
"""More tokens than any context window: a larger count is a bug, refused."""


@dataclass(frozen=True, slots=True)
class Price:
    """What a model costs, in USD per million tokens.

    Attributes:
        input_per_mtok: per million prompt (input) tokens.
        output_per_mtok: per million generated (output) tokens.

    Raises:
        ValueError: a price is negative, not finite or implausibly large.
    """

    input_per_mtok: float
    output_per_mtok: float

    def __post_init__(self) -> None:
        """Refuse prices that cannot be right (a NaN would make every cap comparison false)."""
        for name in ("input_per_mtok", "output_per_mtok"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number of USD per million tokens")
            if not math.isfinite(value) or value < 0 or value > MAX_PRICE_PER_MTOK:
                raise ValueError(
                    f"{name} must be between 0 and {MAX_PRICE_PER_MTOK:g} USD per million tokens"
                )

    @property
    def free(self) -> bool:
        """Whether the model costs nothing (a self-hosted server)."""
        return self.input_per_mtok == 0 and self.output_per_mtok == 0


FREE: Final = Price(0.0, 0.0)

DEFAULT_PRICES: Final[Mapping[str, Price]] = MappingProxyType(
    {
        # OpenAI's published list prices (USD per million tokens, standard tier).
        "gpt-4o": Price(2.50, 10.00),
        "gpt-4o-mini": Price(0.15, 0.60),
        "gpt-4.1": Price(2.00, 8.00),
        "gpt-4.1-mini": Price(0.40, 1.60),
        "gpt-4.1-nano": Price(0.10, 0.40),
        "o4-mini": Price(1.10, 4.40),
    }
)
"""Defaults for well-known hosted models; the user's own price always wins."""
_SNAPSHOT: Final = re.compile(r"(?P<name>.+?)(?:-\d{4}-\d{2}-\d{2})?")


def default_price(model: str, *, self_hosted: bool) -> Price | None:
    """The default price of ``model``, or None when it is unknown and the user must give one.

    A known name or one of its dated snapshots (``gpt-4o-mini-2024-07-18``) is
    priced; any other variant (``gpt-4o-audio-preview`` is priced differently)
    is unknown rather than guessed. A self-hosted server (Ollama, llama.cpp,
    vLLM on the user's machine or LAN) costs nothing whatever the model is called.
    """
    if self_hosted:
        return FREE
    match = _SNAPSHOT.fullmatch(model.strip().lower())
    return DEFAULT_PRICES.get(match["name"]) if match else None


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))


def check_tokens(count: int, what: str) -> int:
    """``count`` if it is a plausible token count, else ``ValueError`` naming ``what``."""
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_TOKENS:
        raise ValueError(f"{what} must be a whole number of tokens between 0 and {MAX_TOKENS}")
    return count


def cost_micros(price: Price, input_tokens: int, output_tokens: int) -> int:
    """The cost of a call in micro-dollars, rounded up (never understated).

    Raises:
        ValueError: a token count is negative, not an integer or absurdly large.
    """
    check_tokens(input_tokens, "input tokens")
    check_tokens(output_tokens, "output tokens")
    exact = _decimal(price.input_per_mtok) * input_tokens + _decimal(price.output_per_mtok) * output_tokens
    return int(exact.to_integral_value(rounding=ROUND_CEILING))


def prompt_token_estimate(text: str) -> int:
    """The tokens to reserve for ``text`` sent as a prompt.

    The same rule as the prompt builder (:func:`.prompt.estimate_tokens`): an
    upper estimate for byte-level BPE, so a reservation covers the prompt the
    server will count, and the cap holds without trusting the server first.
    """
    return estimate_tokens(text)


def micros_from_usd(usd: float, *, what: str = "a cap") -> int:
    """``usd`` in micro-dollars (rounded down: a cap never grows by rounding).

    Raises:
        ValueError: not a finite amount between 0 and :data:`MAX_CAP_USD`.
    """
    if isinstance(usd, bool) or not isinstance(usd, int | float) or not math.isfinite(usd):
        raise ValueError(f"{what} must be an amount in USD")
    if not 0 <= usd <= MAX_CAP_USD:
        raise ValueError(f"{what} must be between 0 and {MAX_CAP_USD:,.0f} USD")
    return int((_decimal(usd) * MICROS_PER_USD).to_integral_value(rounding="ROUND_FLOOR"))


def usd(micros: int) -> float:
    """Micro-dollars as USD (for display and JSON)."""
    return micros / MICROS_PER_USD


def format_usd(micros: int) -> str:
    """An amount exactly as counted, in as few decimals as it needs: ``$0.50``, ``$0.0150``, ``$0.000015``."""
    places = 2 if micros % 10_000 == 0 else 4 if micros % 100 == 0 else 6
    return f"${usd(micros):.{places}f}"


def day_key(wall_ms: int) -> str:
    """The UTC day of ``wall_ms`` (``2026-12-07``): the daily cap's period."""
    return time.strftime("%Y-%m-%d", time.gmtime(wall_ms // 1000))


def month_key(wall_ms: int) -> str:
    """The UTC month of ``wall_ms`` (``2026-12``): the monthly cap's period."""
    return time.strftime("%Y-%m", time.gmtime(wall_ms // 1000))


class CostRefused(ExplainedError):
    """A remote call may not spend money now; ``str(error)`` is the sentence for the user.

    The caller answers locally instead (DESIGN.md §7: remote -> local -> apology).
    """


class CapReached(CostRefused):
    """The call's reservation does not fit under a cap, or a cap was reached and not re-armed."""


class LedgerUnavailable(CostRefused):
    """The ledger cannot be read or written (locked, damaged, or the data is locked).

    Without a trustworthy ledger no spend can be checked against the caps, so
    remote spending is refused, never allowed unchecked.
    """


@dataclass(frozen=True, slots=True)
class Reservation:
    """A call's worst-case cost, held against the caps until it is settled or released.

    Attributes:
        entry_id: the ledger entry.
        provider: the provider's name.
        model: the model asked for.
        amount_micros: the amount reserved (prompt + max_tokens at the price, rounded up).
        day: the UTC day it counts in.
        month: the UTC month it counts in.
        price: the price it was reserved at (settling uses the same).
    """

    entry_id: str
    provider: str
    model: str
    amount_micros: int
    day: str
    month: str
    price: Price

    @property
    def amount_usd(self) -> float:
        """The amount reserved, in USD."""
        return usd(self.amount_micros)


@dataclass(frozen=True, slots=True)
class CostEntry:
    """One call in the ledger (for ``aether costs`` and the Costs tab).

    Attributes:
        entry_id: its id.
        provider: the provider's name.
        model: the model.
        day: the UTC day it counts in.
        state: ``reserved`` (in flight), ``settled``, ``released`` (failed before any
            usage) or ``abandoned`` (never settled: counted at its reservation).
        reserved_micros: the worst case reserved.
        charged_micros: what counts against the caps now.
        input_tokens: reported or counted prompt tokens once settled.
        output_tokens: reported or counted output tokens once settled.
        usage_reported: whether the server reported the usage (else it was counted).
        created_at_ms: when it was reserved (the ledger's clock).
    """

    entry_id: str
    provider: str
    model: str
    day: str
    state: str
    reserved_micros: int
    charged_micros: int
    input_tokens: int | None
    output_tokens: int | None
    usage_reported: bool | None
    created_at_ms: int


@dataclass(frozen=True, slots=True)
class CostState:
    """Spend against the caps now.

    Attributes:
        now_ms: the ledger's clock: ``max(wall clock, high-water mark)``.
        day: the current UTC day.
        month: the current UTC month.
        spent_day_micros: settled (and abandoned) spend today.
        reserved_day_micros: open reservations today.
        spent_month_micros: settled (and abandoned) spend this month.
        reserved_month_micros: open reservations this month.
        daily_cap_micros: the daily cap.
        monthly_cap_micros: the monthly cap.
        tripped: ``day:<day>`` or ``month:<month>`` while a reached cap refuses calls, else None.
        tripped_reason: the sentence given when it tripped.
        open_reservations: calls in flight.
        clock_behind_ms: how far the wall clock is behind the high-water mark (0 normally).
    """

    now_ms: int
    day: str
    month: str
    spent_day_micros: int
    reserved_day_micros: int
    spent_month_micros: int
    reserved_month_micros: int
    daily_cap_micros: int
    monthly_cap_micros: int
    tripped: str | None
    tripped_reason: str
    open_reservations: int
    clock_behind_ms: int

    @property
    def used_day_micros(self) -> int:
        """Spent plus reserved today: what the daily cap is compared with."""
        return self.spent_day_micros + self.reserved_day_micros

    @property
    def used_month_micros(self) -> int:
        """Spent plus reserved this month: what the monthly cap is compared with."""
        return self.spent_month_micros + self.reserved_month_micros

    def as_dict(self) -> dict[str, object]:
        """Plain data in USD (``aether costs --json``, the Costs tab)."""
        return {
            "day": self.day,
            "month": self.month,
            "spent_today_usd": usd(self.spent_day_micros),
            "reserved_today_usd": usd(self.reserved_day_micros),
            "spent_month_usd": usd(self.spent_month_micros),
            "reserved_month_usd": usd(self.reserved_month_micros),
            "daily_cap_usd": usd(self.daily_cap_micros),
            "monthly_cap_usd": usd(self.monthly_cap_micros),
            "tripped": self.tripped,
            "tripped_reason": self.tripped_reason,
            "open_reservations": self.open_reservations,
            "clock_behind_ms": self.clock_behind_ms,
        }


def entry_from_row(row: tuple[Any, ...]) -> CostEntry:
    """A :class:`CostEntry` from the ledger's columns, in the order the ledger selects them."""
    reported = None if row[9] is None else bool(row[9])
    return CostEntry(
        entry_id=row[0], provider=row[1], model=row[2], day=row[3], state=row[4], reserved_micros=row[5],
        charged_micros=row[6], input_tokens=row[7], output_tokens=row[8], usage_reported=reported,
        created_at_ms=row[10],
    )  # fmt: skip


def cap_sentence(which: str, cap_micros: int, used_micros: int, period: str) -> str:
    """The sentence for a reached ``daily`` or ``monthly`` cap, saying how it re-opens."""
    until = "tomorrow (UTC)" if which == "daily" else "next month"
    return (
        f"The {which} cost cap of {format_usd(cap_micros)} is reached ({format_usd(used_micros)} used in "
        f"{period}): remote models are off until {until} or until you run `aether costs rearm`."
    )


def _never(resource: str) -> bool:
    return False


def cost_check(refusal: Callable[[], str | None], *, is_free: Callable[[str], bool] = _never) -> CostCheck:
    """The gate's ``PolicyConfig.cost_check`` hook: refuse ``router.remote*`` while no money may be spent.

    Args:
        refusal: why a paid call would be refused now, else None (:meth:`.CostLedger.refusal`).
        is_free: whether the provider at a resource (its base URL) costs nothing; such
            calls are never refused by a cap (a self-hosted server).
    """

    def check(request: ActionRequest) -> str | None:
        if not request.capability.startswith("router.remote") or is_free(request.resource):
            return None
        return refusal()

    return check
