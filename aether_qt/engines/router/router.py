"""The L4 router: which tier answers a turn, and the providers behind the tiers.

Pure Python (no Qt): the host wraps a :class:`Router` in a QObject moved to the
router thread, calls :meth:`Router.start` there at start-up, and turns each
:class:`ModelStatus` into a ``router.did_change_model_status`` event.

Tiers: ``reflex`` (no model), ``local`` (gpt4all) and ``remote`` (an
OpenAI-compatible endpoint the user set up, :mod:`.remote_tier`). The route is
decided before any model call (:meth:`Router.plan`, rules in :mod:`.route_plan`);
a remote route also needs the gate's ``router.remote`` permit, which the
conductor asks for and hands to :meth:`Router.answer`. Fallback: remote ->
local -> apology.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aether_qt.core.generation import (
    GenerationRequest,
    GenerationResult,
    ModelInfo,
    Provider,
    ProviderError,
    Route,
    Tier,
    TokenSink,
)
from aether_qt.engines.router import models, sampling
from aether_qt.engines.router.breaker import BreakerState
from aether_qt.engines.router.gguf import ModelFileError
from aether_qt.engines.router.gpt4all_provider import Gpt4AllProvider
from aether_qt.engines.router.reflex import ReflexProvider
from aether_qt.engines.router.remote_tier import RemoteTier
from aether_qt.engines.router.route_plan import RouteFacts, decide_route
from aether_qt.policy.provenance import remote_tag

ACKNOWLEDGE = (
    "Acknowledge"  # engines.interaction.states.Category.ACKNOWLEDGE (engines do not import each other)
)
CHOOSE_MODEL_HINT = "Choose a model: File > Choose model, or `aether models add PATH`."


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """Loading progress and readiness of the local model (mirrors ``ModelStatusChanged``).

    Attributes:
        model_id: the model concerned ("" before one is known).
        status: ``loading``, ``ready``, ``missing`` or ``failed``.
        progress: 0.0 to 1.0.
        message: a sentence for the status bar, or the banner text when not ready.
    """

    model_id: str
    status: str
    progress: float
    message: str


StatusSink = Callable[[ModelStatus], None]


class LocalProvider(Provider, Protocol):
    """What the router needs of a local provider (:class:`Gpt4AllProvider`, or a fake in tests)."""

    @property
    def loaded(self) -> bool:
        """True once loaded."""
        ...

    def load(self, progress: Callable[[float, str], None] | None = None) -> None:
        """Load the model or raise :class:`ProviderError`."""
        ...

    def warm(self, system_prompt: str) -> float:
        """Pre-ingest the system prompt; return the seconds it took."""
        ...

    def close(self) -> None:
        """Free the model."""
        ...


def choose_route(category: str, model_ready: bool, model_id: str = "") -> Route:
    """The route for a turn, decided before any model is called.

    The local gpt4all model answers every turn, greetings included, when it is
    ready: a companion greets in its own voice. The reflex tier answers when no
    local model is ready (templated replies) and supplies the timed
    acknowledgements of every turn through the phrase pools. (Remote comes in a
    later issue.)
    """
    if not model_ready:
        return Route(Tier.REFLEX, "reflex", reason="no local model is ready")
    reason = "acknowledgement" if category == ACKNOWLEDGE else f"category {category}"
    return Route(Tier.LOCAL, "gpt4all", model=model_id, reason=reason)


class Router:
    """Holds the providers and the local model's status; picks a route per turn.

    Args:
        models_dir: the app's model folder (:attr:`AppPaths.models_dir`).
        clock: monotonic seconds (injected so tests control time).
        model_id: the user's chosen model; ``None`` means the bundled default.
        provider_factory: builds the local provider for a model (tests pass a fake).
    """

    def __init__(
        self,
        *,
        models_dir: Path,
        clock: Callable[[], float],
        model_id: str | None = None,
        provider_factory: Callable[[ModelInfo], LocalProvider] | None = None,
    ) -> None:
        self.models_dir = models_dir
        self._clock = clock
        self._model_id = model_id
        self._factory = provider_factory or (lambda info: Gpt4AllProvider(info, clock=clock))
        self._local: LocalProvider | None = None
        self._local_bytes = 0  # size of the local model file: its sampling caps (sampling.py)
        self._status = ModelStatus("", "missing", 0.0, f"No local model is loaded yet. {CHOOSE_MODEL_HINT}")
        self._status_lock = threading.Lock()
        self.reflex = ReflexProvider(model_ready=self.model_ready)
        self.remote: RemoteTier | None = None  # set by the composition root when a provider is set up

    # ------------------------------------------------------------ status

    @property
    def status(self) -> ModelStatus:
        """The latest model status."""
        with self._status_lock:
            return self._status

    def model_ready(self) -> bool:
        """True when the local model is loaded and answers."""
        return self.status.status == "ready"

    def banner(self) -> str:
        """The degraded-mode banner text, or "" when the local model is ready."""
        return "" if self.model_ready() else self.status.message

    def remote_resource(self) -> str:
        """The active provider's base URL: the resource of ``router.remote`` ("" without one)."""
        provider = self.remote.provider if self.remote is not None else None
        return provider.base_url if provider is not None else ""

    def remote_banner(self) -> str:
        """'Remote unavailable: answering locally …' while the breaker is open, else ""."""
        return self.remote.banner() if self.remote is not None else ""

    def _set(self, status: ModelStatus, sink: StatusSink | None) -> ModelStatus:
        with self._status_lock:
            self._status = status
        if sink is not None:
            sink(status)
        return status

    # ------------------------------------------------------------ lifecycle

    def _resolve_model(self) -> ModelInfo:
        if self._model_id is not None:
            info = models.find_model(self.models_dir, self._model_id)
            if info is None:
                raise ModelFileError(self._model_id, "no such model is registered")
            return info
        return models.prepare_bundled(self.models_dir)

    def start(
        self, progress: StatusSink | None = None, *, system_prompt: str | Callable[[], str] = ""
    ) -> ModelStatus:
        """Prepare and load the local model, then pre-ingest ``system_prompt`` (router thread).

        ``system_prompt`` may be a callable, called once the model has loaded: the app
        starts loading before its persona is read, and the persona may still change.

        Never raises for a missing or broken model: the status becomes ``missing`` or
        ``failed`` with a banner message, and the router answers through the reflex tier.
        """
        self._set(ModelStatus(self._model_id or "", "loading", 0.0, "preparing the local model"), progress)
        try:
            info = self._resolve_model()
        except ModelFileError as exc:
            return self._set(self._down("missing", self._model_id or "", str(exc)), progress)
        except OSError as exc:  # disk full or unwritable model folder while preparing
            reason = f"cannot prepare the model in {self.models_dir}: {exc.strerror or exc}"
            return self._set(self._down("failed", self._model_id or "", reason), progress)
        if not Path(info.path).is_file():
            return self._set(self._down("missing", info.model_id, f"{info.path}: the file is gone"), progress)
        started = self._clock()
        provider = self._factory(info)

        def on_load(fraction: float, message: str) -> None:
            self._set(ModelStatus(info.model_id, "loading", 0.1 + 0.7 * fraction, message), progress)

        try:
            provider.load(on_load)
            if callable(system_prompt):
                system_prompt = system_prompt()
            if system_prompt:
                self._set(ModelStatus(info.model_id, "loading", 0.85, "reading the persona"), progress)
                provider.warm(system_prompt)
        except ProviderError as exc:
            provider.close()
            return self._set(self._down("failed", info.model_id, str(exc)), progress)
        self.stop()
        self._local, self._local_bytes = provider, info.size_bytes
        took = self._clock() - started
        return self._set(
            ModelStatus(info.model_id, "ready", 1.0, f"{info.model_id} ready ({took:.1f} s)"), progress
        )

    @staticmethod
    def _down(status: str, model_id: str, reason: str) -> ModelStatus:
        text = f"No local model ({reason}). I can only give short built-in answers. {CHOOSE_MODEL_HINT}"
        return ModelStatus(model_id, status, 0.0, text)

    def select(self, model_id: str | None) -> None:
        """Use ``model_id`` (None: the bundled default) from the next :meth:`start` on."""
        self._model_id = model_id

    def stop(self) -> None:
        """Free the local model (idempotent)."""
        local, self._local = self._local, None
        if local is not None:
            local.close()

    def share_cpu(self, listening: bool) -> None:
        """Decode with one thread while the microphone is live, so recognition keeps up; all after."""
        local = self._local
        setter = getattr(local, "set_threads", None)
        if setter is not None:
            setter(1 if listening else getattr(local, "n_threads", 2))

    def warm(self, system_prompt: str) -> float:
        """Pre-ingest a new persona's system prompt; 0.0 without a model."""
        return self._local.warm(system_prompt) if self._local is not None else 0.0

    # ------------------------------------------------------------ turns

    def route(self, category: str, model_ready: bool | None = None) -> Route:
        """The route for a turn of ``category`` (see :func:`choose_route`)."""
        ready = self.model_ready() if model_ready is None else model_ready
        return choose_route(category, ready and self._local is not None, self.status.model_id)

    def provider(self, route: Route) -> Provider:
        """The provider for ``route``."""
        if route.tier is Tier.LOCAL and self._local is not None:
            return self._local
        return self.reflex

    def plan(
        self,
        category: str,
        *,
        persona_name: str = "Aether",
        persona_tier: str = "remote",
        persona_posture: str = "allow_remote",
        sensitive: str = "",
        sensitive_memories: int = 0,
        taint: tuple[str, ...] = (),
    ) -> Route:
        """The route for a turn, before any model call (rules: :func:`.route_plan.decide_route`).

        ``taint`` names the untrusted content in the turn's context; the active
        provider's own earlier replies (``remote:<name>``) may go back to it.
        """
        local = self.route(category)
        remote = self.remote
        if remote is None:
            return local
        own = remote_tag(remote.provider.name) if remote.provider is not None else ""
        facts = RouteFacts(
            category=category,
            local_ready=local.tier is Tier.LOCAL,
            local_model=local.model,
            posture=remote.settings.posture,
            provider=remote.provider,
            persona_name=persona_name,
            persona_tier=persona_tier,
            persona_posture=persona_posture,
            sensitive=sensitive,
            sensitive_memories=sensitive_memories,
            tainted=any(tag != own for tag in taint),
            breaker_open=remote.breaker.state is BreakerState.OPEN,
        )
        route = decide_route(facts)
        if route.tier is not Tier.REMOTE and local.tier is Tier.LOCAL:
            return Route(Tier.LOCAL, local.provider, model=local.model, reason=route.reason)
        return route if route.tier is Tier.REMOTE else local

    def answer(
        self,
        request: GenerationRequest,
        category: str,
        on_token: TokenSink,
        cancel: threading.Event,
        *,
        route: Route | None = None,
        permit: object = None,
    ) -> tuple[Route, GenerationResult]:
        """Generate one reply on ``route`` (default: the local route); fall back remote -> local -> apology.

        A remote route needs ``permit`` (the gate's ``router.remote`` Allow). A remote
        failure before any word answers locally with the reason; one after words were
        shown ends the turn with the typed status and the words so far.
        """
        if route is not None and route.tier is Tier.REMOTE:
            return self._answer_remote(route, permit, request, category, on_token=on_token, cancel=cancel)
        local = self.route(category)
        if route is not None and route.tier is local.tier:
            local = route  # keep the planned reason
        return self._answer_local(local, request, on_token, cancel)

    def _answer_remote(
        self,
        route: Route,
        permit: object,
        request: GenerationRequest,
        category: str,
        *,
        on_token: TokenSink,
        cancel: threading.Event,
    ) -> tuple[Route, GenerationResult]:
        remote = self.remote
        if remote is None or permit is None:
            return self._answer_local(
                self._local_with(category, "remote was not allowed"), request, on_token, cancel
            )
        outcome = remote.try_answer(permit, request, on_token, cancel)
        if outcome.result is not None:
            return route, outcome.result
        if outcome.refused:
            return self._answer_local(self._local_with(category, outcome.refused), request, on_token, cancel)
        error = outcome.error
        assert error is not None
        failed = Route(
            route.tier, route.provider, route.model, reason=f"remote failed: {error}", status=error.status
        )
        if outcome.streamed or cancel.is_set():
            return failed, GenerationResult(text="", tokens=0, stopped="error", error=str(error))
        reason = f"remote failed ({error}); answering locally"
        local = self._local_with(category, reason)
        local = Route(local.tier, local.provider, local.model, reason=local.reason, status=error.status)
        return self._answer_local(local, request, on_token, cancel)

    def _local_with(self, category: str, reason: str) -> Route:
        local = self.route(category)
        return Route(local.tier, local.provider, local.model, reason=reason)

    def _answer_local(
        self, route: Route, request: GenerationRequest, on_token: TokenSink, cancel: threading.Event
    ) -> tuple[Route, GenerationResult]:
        if route.tier is Tier.LOCAL:  # a tiny local model gets sampling fit for its size
            request = sampling.for_model(request, self._local_bytes)
        try:
            return route, self.provider(route).generate(request, on_token, cancel)
        except ProviderError as exc:
            fallback = Route(Tier.REFLEX, "reflex", reason=f"local model failed: {exc}", status=route.status)
            apology = f"Sorry, my local model could not answer ({exc}). Please try again."
            return fallback, self.reflex.say(apology, request.max_tokens + 64, on_token, cancel)
