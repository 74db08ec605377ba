"""The Costs tab and the remote banners over the real cost ledger: the user's click is the approval.

:class:`CostsService` satisfies :class:`~aether_qt.widgets.ports.Costs`. Reading
is one short transaction on ``aether.db``. Changing the caps and re-arming a
tripped cap are the same acts as ``aether costs cap`` and ``aether costs rearm``:
a gate decision for the user (``cost.admin`` on ``costs:caps`` / ``costs:rearm``;
the click answers an Ask), audited, and the permit handed to the ledger, which
records the audit id with the change. Nothing is decided in the widget.
"""

from __future__ import annotations

from aether_qt.core.cost_views import CostRow, CostsView, RemoteView
from aether_qt.core.errors import ExplainedError
from aether_qt.engines.router.cost_ledger import CAPS_RESOURCE, REARM_RESOURCE, CostLedger
from aether_qt.engines.router.costs import CostEntry, CostRefused, format_usd, micros_from_usd, usd
from aether_qt.engines.router.providers import Posture
from aether_qt.engines.router.router import Router
from aether_qt.policy.decisions import Allow, Permit, decision_as_dict
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.gate.user_acts import decide_as_user

ADMIN = "cost.admin"


class CostsRefusedError(ExplainedError):
    """The gate refused the user's change, or an amount is not one a cap can be."""


def _row(entry: CostEntry) -> CostRow:
    return CostRow(
        when_ms=entry.created_at_ms,
        provider=entry.provider,
        model=entry.model,
        input_tokens=entry.input_tokens,
        output_tokens=entry.output_tokens,
        charged_usd=usd(entry.charged_micros),
        state=entry.state,
    )


class CostsService:
    """Spend, caps and re-arm for the window (see the module docstring).

    Args:
        runtime: the app's policy runtime (its gate and its database).
        router: the router whose remote tier the banners describe (None: no conversation).
    """

    def __init__(self, *, runtime: PolicyRuntime, router: Router | None = None) -> None:
        self._rt = runtime
        self._router = router
        self._ledger = CostLedger(database=runtime.database)

    def view(self, limit: int) -> CostsView:
        """Spend against the caps and the newest ``limit`` entries.

        Raises:
            CostRefused: the ledger is locked, damaged or not persisted (its sentence says which).
        """
        state = self._ledger.state()
        rows = tuple(_row(entry) for entry in self._ledger.entries(limit))
        return CostsView(
            day=state.day,
            month=state.month,
            today_usd=usd(state.used_day_micros),
            month_usd=usd(state.used_month_micros),
            daily_cap_usd=usd(state.daily_cap_micros),
            monthly_cap_usd=usd(state.monthly_cap_micros),
            tripped=(state.tripped_reason or "A cost cap was reached.") if state.tripped else "",
            rows=rows,
        )

    def _permit(self, resource: str, what: str) -> tuple[Permit, str]:
        decision = decide_as_user(self._rt.gate, ADMIN, resource)
        if isinstance(decision, Allow):
            return decision.permit, decision.audit_id
        data = decision_as_dict(decision)
        if data["decision"] == "needs_upgrade":
            why = (
                f"the {self._rt.preset().value} preset does not allow it; the "
                f"{data['suggested_preset']} preset in Permissions does"
            )
        else:
            why = f"{data.get('reason') or data['decision']}: {data.get('message') or ''}".rstrip(": ")
        raise CostsRefusedError(f"{what} was refused by the policy: {why}.")

    def set_caps(self, daily_usd: float, monthly_usd: float) -> str:
        """Set both caps (``aether costs cap``), audited; a sentence with the audit id.

        Raises:
            CostsRefusedError: an amount is invalid (checked before the gate) or the gate refused.
            CostRefused: the ledger is locked or damaged (nothing was asked or changed).
        """
        try:
            micros_from_usd(daily_usd, what="the daily cap")
            micros_from_usd(monthly_usd, what="the monthly cap")
        except ValueError as exc:
            raise CostsRefusedError(f"Caps not changed: {exc}.") from None
        self._ledger.state()  # an unusable ledger is said before any audited decision
        permit, audit_id = self._permit(CAPS_RESOURCE, "Changing the cost caps")
        state = self._ledger.set_caps(
            daily_usd=daily_usd, monthly_usd=monthly_usd, permit=permit, verifier=self._rt.gate
        )
        still = " A reached cap stays tripped until you re-arm it." if state.tripped else ""
        return (
            f"Caps set: {format_usd(state.daily_cap_micros)} a day, "
            f"{format_usd(state.monthly_cap_micros)} a month (audited as {audit_id}).{still}"
        )

    def rearm(self) -> str:
        """Re-arm a tripped cap (``aether costs rearm``), audited; nothing is asked when none is tripped.

        Raises:
            CostsRefusedError: the gate refused.
            CostRefused: the ledger is locked or damaged.
        """
        if self._ledger.state().tripped is None:
            return "No cap is tripped: nothing to re-arm."
        permit, audit_id = self._permit(REARM_RESOURCE, "Re-arming the cost cap")
        self._ledger.rearm(permit=permit, verifier=self._rt.gate)
        return f"Re-armed: remote models may spend again up to the caps (audited as {audit_id})."

    def remote(self) -> RemoteView:
        """The active remote provider, today's spend (None when unreadable) and the breaker's banner.

        An empty view while no provider is active or the posture is local-only (nothing leaves).
        """
        tier = self._router.remote if self._router is not None else None
        provider = tier.provider if tier is not None else None
        if tier is None or provider is None or tier.settings.posture is Posture.LOCAL_ONLY:
            return RemoteView()  # local-only: set up, but no turn goes there
        try:
            state = self._ledger.state()
        except CostRefused:
            today = cap = None
            capped = False  # said as "spending unknown"
        else:
            today, cap = usd(state.used_day_micros), usd(state.daily_cap_micros)
            capped = (
                state.tripped is not None
                or state.used_day_micros >= state.daily_cap_micros
                or state.used_month_micros >= state.monthly_cap_micros
            )
        return RemoteView(
            provider=provider.name,
            model=provider.model,
            today_usd=today,
            daily_cap_usd=cap,
            unavailable=tier.banner(),
            capped=capped,
        )
