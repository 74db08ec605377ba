"""The route of a turn, decided before any model is called (DESIGN.md §7, issue 14).

Pure: the conductor gathers the facts (:class:`RouteFacts`) and this module
turns them into a :class:`~aether_qt.core.generation.Route` with a reason a
person can read. The order of the checks is the order of the promises: the
user's posture first, then the persona, then the content (sensitive words or
memories and untrusted content never leave the machine: under ``remote`` a
turn goes without its sensitive memories, under ``remote-non-sensitive`` it
stays here), then the server's health and the money. A remote route still needs the gate's ``router.remote``
Allow and a cost reservation; either refusal sends the turn to the local tier.
"""

from __future__ import annotations

from dataclasses import dataclass

from aether_qt.core.generation import Route, Tier
from aether_qt.engines.router.providers import Posture, ProviderConfig


@dataclass(frozen=True, slots=True)
class RouteFacts:
    """What the route depends on, gathered before any model call.

    Attributes:
        category: the turn's category.
        local_ready: the local model is loaded.
        local_model: its id.
        posture: the user's privacy posture.
        provider: the active remote provider, if any.
        persona_name: for reasons ("Sage keeps conversations on this computer").
        persona_tier: the persona's preferred tier (``local``, ``remote``, ``reflex``).
        persona_posture: the persona's own posture (``local_only``, ``ask``, ``allow_remote``).
        sensitive: why the user's words in this turn are sensitive ("" when not).
        sensitive_memories: how many recalled memories are marked sensitive.
        tainted: untrusted content (a file, a web page, a card) is in the model's context.
        breaker_open: the circuit breaker does not allow a remote try now.
    """

    category: str
    local_ready: bool
    local_model: str = ""
    posture: Posture = Posture.LOCAL_ONLY
    provider: ProviderConfig | None = None
    persona_name: str = "Aether"
    persona_tier: str = "remote"
    persona_posture: str = "allow_remote"
    sensitive: str = ""
    sensitive_memories: int = 0
    tainted: bool = False
    breaker_open: bool = False


def local_route(facts: RouteFacts, reason: str) -> Route:
    """The local tier (or the reflex tier when no local model is ready) with ``reason``."""
    if not facts.local_ready:
        return Route(Tier.REFLEX, "reflex", reason=f"{reason}; no local model is ready")
    return Route(Tier.LOCAL, "gpt4all", model=facts.local_model, reason=reason)


def _local_reason(facts: RouteFacts) -> str:
    """Why the turn stays on this computer ("" when nothing keeps it here)."""
    name = facts.persona_name
    count = facts.sensitive_memories
    memories = "a sensitive memory" if count == 1 else f"{count} sensitive memories"
    checks = (
        (facts.provider is None, "no remote provider is set up"),
        (facts.posture is Posture.LOCAL_ONLY, "privacy: you chose local only"),
        (facts.persona_tier == "reflex", f"{name} prefers built-in answers"),
        (
            facts.persona_posture == "local_only" or facts.persona_tier == "local",
            f"{name} keeps conversations on this computer",
        ),
        (
            bool(facts.sensitive),
            f"privacy: the turn holds {facts.sensitive}, which never leaves this computer",
        ),
        (facts.tainted, "privacy: untrusted content (a file, a page or a card) never leaves this computer"),
        (
            bool(count) and facts.posture is Posture.REMOTE_NON_SENSITIVE,
            f"privacy: the turn uses {memories} (remote only for turns without)",
        ),
        (facts.breaker_open, "remote unavailable: answering locally"),
    )
    return next((reason for hit, reason in checks if hit), "")


def decide_route(facts: RouteFacts) -> Route:
    """The route for one turn and why (see the module docstring for the order)."""
    reason = _local_reason(facts)
    provider = facts.provider
    count = facts.sensitive_memories
    memories = "a sensitive memory" if count == 1 else f"{count} sensitive memories"
    if reason or provider is None:
        return local_route(facts, reason or "no remote provider is set up")
    kept = f"; {memories} stayed on this computer" if count else ""
    return Route(
        Tier.REMOTE, provider.name, model=provider.model, reason=f"remote allowed: {provider.name}{kept}"
    )


_PLAIN = ("category ", "acknowledgement", "no remote provider is set up", "no local model is ready")


def route_caption(route: Route) -> str:
    """The route in words for the turn in the window ("" for the everyday local answer)."""
    if route.tier is Tier.REMOTE:
        failed = f" ({route.reason})" if route.status else ""
        return f"Answered by {route.provider} ({route.model}) over the network{failed}"
    if not route.reason or route.reason.startswith(_PLAIN):
        return ""
    where = "on this computer" if route.tier is Tier.LOCAL else "with a built-in answer"
    return f"Answered {where} ({route.reason})"
