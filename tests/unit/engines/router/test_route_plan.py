"""The route of a turn: the user's posture, the persona, the content, the server's health, in that order."""

from __future__ import annotations

import dataclasses

import pytest

from aether_qt.core.generation import Tier
from aether_qt.engines.router.providers import Posture, make_config
from aether_qt.engines.router.route_plan import RouteFacts, decide_route

LAN = make_config("lan", "http://127.0.0.1:8080/v1", "m")
OPEN = RouteFacts(
    category="DirectLocal",
    local_ready=True,
    local_model="tiny",
    posture=Posture.REMOTE_NON_SENSITIVE,
    provider=LAN,
)


def test_a_clean_turn_goes_to_the_active_provider_with_its_reason() -> None:
    route = decide_route(OPEN)
    assert (route.tier, route.provider, route.model) == (Tier.REMOTE, "lan", "m")
    assert route.reason == "remote allowed: lan"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"provider": None}, "no remote provider is set up"),
        ({"posture": Posture.LOCAL_ONLY}, "you chose local only"),
        ({"persona_tier": "local", "persona_name": "Sage"}, "Sage keeps conversations on this computer"),
        ({"persona_posture": "local_only"}, "keeps conversations on this computer"),
        ({"persona_tier": "reflex"}, "prefers built-in answers"),
        ({"sensitive": "a credential or an identifier"}, "holds a credential or an identifier"),
        ({"tainted": True}, "untrusted content"),
        ({"sensitive_memories": 2}, "uses 2 sensitive memories"),
        ({"breaker_open": True}, "remote unavailable: answering locally"),
    ],
)
def test_each_rule_keeps_the_turn_local_and_says_why(change: dict[str, object], reason: str) -> None:
    route = decide_route(dataclasses.replace(OPEN, **change))  # type: ignore[arg-type]
    assert route.tier is Tier.LOCAL and route.provider == "gpt4all" and route.model == "tiny"
    assert reason in route.reason


def test_sensitive_words_and_taint_stay_local_even_when_the_user_allows_everything_remote() -> None:
    everything = dataclasses.replace(OPEN, posture=Posture.REMOTE)
    without = decide_route(dataclasses.replace(everything, sensitive_memories=1))
    assert without.tier is Tier.REMOTE  # the request goes without the memory (the conductor strips it)
    assert without.reason == "remote allowed: lan; a sensitive memory stayed on this computer"
    assert decide_route(dataclasses.replace(everything, sensitive="a card number")).tier is Tier.LOCAL
    assert decide_route(dataclasses.replace(everything, tainted=True)).tier is Tier.LOCAL


def test_without_a_local_model_a_kept_turn_is_answered_by_the_reflex_tier_with_both_reasons() -> None:
    route = decide_route(dataclasses.replace(OPEN, local_ready=False, sensitive="health details"))
    assert route.tier is Tier.REFLEX
    assert "health details" in route.reason and "no local model is ready" in route.reason


def test_the_caption_under_a_reply_says_where_and_why_and_stays_quiet_for_the_everyday_answer() -> None:
    from aether_qt.core.generation import Route
    from aether_qt.engines.router.route_plan import route_caption

    assert route_caption(decide_route(OPEN)) == "Answered by lan (m) over the network"
    kept = decide_route(dataclasses.replace(OPEN, sensitive="a card number"))
    assert route_caption(kept) == (
        "Answered on this computer (privacy: the turn holds a card number, which never leaves this computer)"
    )
    assert route_caption(decide_route(dataclasses.replace(OPEN, provider=None))) == ""
    assert route_caption(Route(Tier.LOCAL, "gpt4all", "tiny", reason="category DirectLocal")) == ""
    failed = Route(Tier.REMOTE, "lan", "m", reason="remote failed: the connection closed", status="dropped")
    assert (
        route_caption(failed) == "Answered by lan (m) over the network (remote failed: the connection closed)"
    )
