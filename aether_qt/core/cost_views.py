"""What the Costs tab and the remote banners show: plain values, amounts in US dollars.

They live in ``core`` because both ends use them: the widgets (through the
:class:`~aether_qt.widgets.ports.Costs` port) and the service that fills them
from the cost ledger (:mod:`aether_qt.services.gate.costs`), which may not
import the widgets.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CostRow:
    """One ledger entry as the Costs tab shows it (amounts in US dollars)."""

    when_ms: int
    provider: str
    model: str
    input_tokens: int | None
    output_tokens: int | None
    charged_usd: float
    state: str


@dataclass(frozen=True, slots=True)
class CostsView:
    """Spend against the caps now, and the newest ledger entries (amounts in US dollars)."""

    day: str
    month: str
    today_usd: float
    month_usd: float
    daily_cap_usd: float
    monthly_cap_usd: float
    tripped: str  # "" when armed, else the sentence that says which cap was reached
    rows: tuple[CostRow, ...] = ()


@dataclass(frozen=True, slots=True)
class RemoteView:
    """The remote tier as the window's banners show it ("" provider: no remote provider is active)."""

    provider: str = ""
    model: str = ""
    today_usd: float | None = None  # None: the ledger cannot be read
    daily_cap_usd: float | None = None
    unavailable: str = ""  # the breaker is open: "Remote unavailable: answering locally (…)"
    capped: bool = False  # a cap is reached (tripped or used up): paid calls are answered locally
