"""The remote tier of the router: one provider, its breaker, its spending, and the fall back to local.

:class:`RemoteTier` is what the :class:`~aether_qt.engines.router.router.Router`
holds when the user set up a remote provider. The route was decided before
(:func:`~aether_qt.engines.router.route_plan.decide_route`) and the gate allowed
``router.remote``; here the spending is reserved before the call (a refusal
answers locally), the stream runs through the effector the permit opens, the
breaker counts the server's failures, and the reservation is settled on the
usage the server reported (or on counted tokens).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from aether_qt.core.generation import GenerationRequest, GenerationResult, RemoteError, TokenSink
from aether_qt.engines.router.breaker import BreakerState, CircuitBreaker
from aether_qt.engines.router.cost_ledger import CostLedger
from aether_qt.engines.router.costs import CostRefused, Price, Reservation, prompt_token_estimate
from aether_qt.engines.router.providers import ProviderConfig, RouterSettings

Opener = Callable[..., Any]
"""``opener(*, body, headers, connect_timeout, read_timeout, cancel) -> ChatStream``: the bound effector."""

_MAX_SETTLED_TOKENS = 100_000_000  # CostLedger.settle refuses more


class SpendRefusedError(Exception):
    """The spending limit refuses this request; the message is a sentence for the user."""


class RemoteBackend(Protocol):
    """What the tier needs of a remote provider (:class:`RemoteProvider`)."""

    def generate_with(
        self, opener: Opener, request: GenerationRequest, on_token: TokenSink, cancel: threading.Event
    ) -> GenerationResult:
        """Stream one reply through ``opener``.

        Raises:
            RemoteError: the server or the network failed.
        """
        ...


class Spending(Protocol):
    """What the tier needs of the cost ledger."""

    def reserve(self, provider: ProviderConfig, prompt_tokens: int, max_tokens: int) -> object:
        """Hold the worst-case cost of one request.

        Raises:
            SpendRefusedError: a cap would be passed.
        """
        ...

    def settle(self, reservation: object, input_tokens: int, output_tokens: int) -> None:
        """Record what the request really cost and free the rest of the reservation."""
        ...


@dataclass(frozen=True, slots=True)
class RemoteOutcome:
    """What one remote try gave: a result, or the error and whether any words reached the user."""

    result: GenerationResult | None
    error: RemoteError | None = None
    refused: str = ""  # the spending limit refused: the sentence
    streamed: bool = False


def prompt_tokens(request: GenerationRequest) -> int:
    """The estimate used for a reservation over everything sent (it over-counts: a cap is never beaten)."""
    parts = [request.system_prompt, request.user_text]
    parts += [m.text for m in request.history] + [d.text for m in request.history for d in m.data]
    parts += [f"{d.source} {d.text}" for d in request.data]
    return prompt_token_estimate("\n".join(parts)) + 4 * (len(request.history) + 2)  # the template's tokens


def provider_price(provider: ProviderConfig) -> Price:
    """The provider's price per million tokens as the user set it."""
    return Price(provider.price_in, provider.price_out)


class LedgerSpending:
    """:class:`Spending` over the persisted :class:`CostLedger` (caps, reservations, the ledger)."""

    def __init__(self, ledger: CostLedger) -> None:
        self.ledger = ledger

    def reserve(self, provider: ProviderConfig, prompt_tokens: int, max_tokens: int) -> object:
        """Reserve at the provider's price, or refuse with the ledger's sentence."""
        try:
            return self.ledger.reserve(
                provider.name, provider.model, prompt_tokens, max_tokens, provider_price(provider)
            )
        except CostRefused as exc:
            raise SpendRefusedError(str(exc)) from None

    def settle(self, reservation: object, input_tokens: int, output_tokens: int) -> None:
        """Settle on the tokens used; nothing used gives the reservation back."""
        assert isinstance(reservation, Reservation)
        if input_tokens == 0 and output_tokens == 0:
            self.ledger.release(reservation)
            return
        try:
            self.ledger.settle(reservation, input_tokens, output_tokens)
        except ValueError:  # absurd usage reported: record the most the ledger takes (it trips the cap)
            cap = _MAX_SETTLED_TOKENS
            self.ledger.settle(
                reservation, min(input_tokens, cap), min(output_tokens, cap), usage_reported=False
            )


class RemoteTier:
    """The active provider with its breaker and spending (thread-safe; calls run on the router thread).

    Args:
        settings: the router settings (posture, providers, the active one).
        backend: the remote provider for the active config.
        open_stream: binds a ``router.remote`` permit to the effector and returns an :data:`Opener`.
        spending: the cost ledger; ``None`` spends nothing (a free, self-hosted server is still counted).
        breaker: the circuit breaker.
    """

    def __init__(
        self,
        *,
        settings: RouterSettings,
        backend: RemoteBackend,
        open_stream: Callable[[object], Opener],
        spending: Spending | None,
        breaker: CircuitBreaker,
    ) -> None:
        self.settings = settings
        self._backend = backend
        self._open_stream = open_stream
        self._spending = spending
        self.breaker = breaker

    @property
    def provider(self) -> ProviderConfig | None:
        """The active provider config."""
        return self.settings.active_provider

    def banner(self) -> str:
        """'remote unavailable: answering locally' while the breaker is open, else ""."""
        if self.breaker.state is BreakerState.OPEN:
            return f"Remote unavailable: answering locally (trying again in {self.breaker.retry_in():.0f} s)."
        return ""

    def try_answer(
        self, permit: object, request: GenerationRequest, on_token: TokenSink, cancel: threading.Event
    ) -> RemoteOutcome:
        """Reserve, stream, settle; never raises for a server's failure (see :class:`RemoteOutcome`)."""
        provider = self.provider
        if provider is None:
            return RemoteOutcome(None, refused="no remote provider is active")
        reservation = None
        if self._spending is not None:
            try:
                reservation = self._spending.reserve(provider, prompt_tokens(request), request.max_tokens)
            except SpendRefusedError as exc:
                return RemoteOutcome(None, refused=str(exc))
        if not self.breaker.allow():
            self._settle(reservation, 0, 0)
            return RemoteOutcome(None, refused="remote unavailable: answering locally")
        words: list[str] = []

        def sink(text: str) -> None:
            words.append(text)
            on_token(text)

        try:
            result = self._backend.generate_with(self._open_stream(permit), request, sink, cancel)
        except RemoteError as exc:
            if exc.counts_for_breaker:
                self.breaker.record_failure()
            if exc.retry_after is not None:
                self.breaker.hold(exc.retry_after)  # honour Retry-After: local answers until then
            self._settle(reservation, prompt_tokens(request) if words else 0, -(-len("".join(words)) // 4))
            return RemoteOutcome(None, error=exc, streamed=bool(words))
        self.breaker.record_success()
        self._settle(reservation, result.prompt_tokens or prompt_tokens(request), result.tokens)
        return RemoteOutcome(result, streamed=bool(words))

    def _settle(self, reservation: object, input_tokens: int, output_tokens: int) -> None:
        if reservation is not None and self._spending is not None:
            self._spending.settle(reservation, input_tokens, output_tokens)
