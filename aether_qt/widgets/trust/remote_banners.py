"""The remote tier's two banners: "Remote: provider (model) · today $x of $cap" and "Remote unavailable".

Both come from the :class:`~aether_qt.widgets.ports.Costs` port's
:meth:`~aether_qt.widgets.ports.Costs.remote`. While a remote provider is
active the window says so, with what it spent today against the daily cap and a
"Costs…" button that opens the Costs tab: the user always sees that replies may
leave the machine and what they cost. While the provider's circuit breaker is
open, that banner gives way to "Remote unavailable: answering locally (trying
again in N s)"; its countdown is the explanation, so it has no button. The main
window refreshes them after each turn ends (and on F5, activation, policy
events); a one-second timer runs only while the countdown shows, so nothing
polls otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QObject, QTimer

from aether_qt.widgets.trust.costs_tab import money

if TYPE_CHECKING:
    from aether_qt.core.cost_views import RemoteView
    from aether_qt.widgets.ports import Costs
    from aether_qt.widgets.trust.banners import BannerArea

REMOTE_ACTIVE: Final = "remote_active"
REMOTE_UNAVAILABLE: Final = "remote_unavailable"
COUNTDOWN_MS: Final = 1000


def remote_unavailable_text(view: RemoteView) -> str:
    """``hosted (gpt-4o-mini): answering locally (trying again in 30 s).``, titled "Remote unavailable".

    The tier's sentence starts with the banner's own title; it is not said twice.
    """
    prefix = "remote unavailable:"
    text = view.unavailable
    rest = text[len(prefix) :].strip() if text.lower().startswith(prefix) else text
    return f"{view.provider} ({view.model}): {rest}"


def remote_active_text(view: RemoteView) -> str:
    """``Remote: openai (gpt-4o-mini) · today $0.0123 of $1.00`` (or why the spend is unknown)."""
    head = f"Remote: {view.provider} ({view.model})"
    if view.today_usd is None or view.daily_cap_usd is None:
        return f"{head} · spending unknown: the cost ledger cannot be read, so remote calls are refused"
    spent = f"today {money(view.today_usd)} of {money(view.daily_cap_usd)}"
    if view.capped:
        return f"{head} · cost cap reached: answering locally · {spent}"
    return f"{head} · {spent}"


class RemoteBanners(QObject):
    """Keeps the two remote banners of ``banners`` in step with ``costs.remote()``.

    Attributes:
        countdown: the one-second timer, active only while "Remote unavailable" shows.
    """

    def __init__(self, *, banners: BannerArea, costs: Costs | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._banners = banners
        self._costs = costs
        self.countdown = QTimer(self)
        self.countdown.setInterval(COUNTDOWN_MS)
        self.countdown.timeout.connect(self.refresh)

    def refresh(self) -> None:
        """Ask the port again and show, update or clear the banners."""
        view = self._costs.remote() if self._costs is not None else None
        active = unavailable = None
        if view is not None and view.provider:
            if view.unavailable:
                unavailable = remote_unavailable_text(view)
            else:
                active = remote_active_text(view)
        self._banners.set_condition(REMOTE_ACTIVE, active)
        self._banners.set_condition(REMOTE_UNAVAILABLE, unavailable)
        if unavailable is None:
            self.countdown.stop()
        elif not self.countdown.isActive():
            self.countdown.start()

    def stop(self) -> None:
        """Stop the countdown (the window is shutting down)."""
        self.countdown.stop()
