"""What a test router needs besides ``model_ready`` and ``answer``: a route plan that stays local.

Fake routers in the conductor tests subclass :class:`LocalPlan`; wrappers of a
real :class:`~aether_qt.engines.router.router.Router` subclass :class:`WrappedPlan`.
"""

from __future__ import annotations

import threading
from typing import Any

from aether_qt.core.generation import GenerationRequest, GenerationResult, Route, Tier, TokenSink


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


class FakeLocalRouter(LocalPlan):
    """Always ready, answers on ``route`` (local unless a test changes it) and keeps every request;
    :meth:`respond` says what."""

    def __init__(self) -> None:
        self.route = Route(Tier.LOCAL, "fake", "m")
        self.requests: list[GenerationRequest] = []

    def model_ready(self) -> bool:
        return True

    def answer(
        self,
        request: GenerationRequest,
        category: str,
        on_token: TokenSink,
        cancel: threading.Event,
        **kw: Any,
    ) -> tuple[Route, GenerationResult]:
        self.requests.append(request)
        return self.route, self.respond(request, on_token)

    def respond(self, request: GenerationRequest, on_token: TokenSink) -> GenerationResult:
        raise NotImplementedError


class EchoRouter(FakeLocalRouter):
    """Answers ``"About <the user's words>."``."""

    def respond(self, request: GenerationRequest, on_token: TokenSink) -> GenerationResult:
        text = f"About {request.user_text}."
        on_token(text)
        return GenerationResult(text, 1, "done")
