"""What a test router needs besides ``model_ready`` and ``answer``: a route plan that stays local.

Fake routers in the conductor tests subclass :class:`LocalPlan`; wrappers of a
real :class:`~aether_qt.engines.router.router.Router` subclass :class:`WrappedPlan`.
"""

from __future__ import annotations

from typing import Any

from aether_qt.core.generation import Route, Tier


class LocalPlan:
    """Every turn is planned local (a fake has no remote tier)."""

    def plan(self, category: str, **_: Any) -> Route:
        return Route(Tier.LOCAL, "fake", reason="a test router answers locally")

    def remote_resource(self) -> str:
        return ""


class WrappedPlan:
    """Plans with the wrapped router (``self.inner``)."""

    inner: Any = None

    def plan(self, category: str, **facts: Any) -> Route:
        route: Route = self.inner.plan(category, **facts)
        return route

    def remote_resource(self) -> str:
        resource: str = self.inner.remote_resource()
        return resource
