"""Remote turns in one running companion: the server stops and comes back, and parallel requests meet a cap.

Real parts throughout: the companion (runtime, gate, audit, conductor, the
bundled local model for the fallback), the cost ledger in the encrypted
``aether.db``, and the OpenAI-compatible server of ``tests/openai_server.py``
on 127.0.0.1. Only the breaker's clock is a parameter, so the 30-second
cool-down does not cost 30 seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai_server import Mode, OpenAIServer, fixed_words

from aether_qt.commands.providers import allow_provider
from aether_qt.commands.session import user_allow
from aether_qt.companion import Companion
from aether_qt.core.generation import GenerationRequest, Tier
from aether_qt.core.paths import AppPaths, resolve_paths
from aether_qt.engines.router.cost_ledger import CAPS_RESOURCE, CostLedger
from aether_qt.engines.router.costs import Price, cost_micros
from aether_qt.engines.router.providers import Posture, make_config, save_provider, set_active, set_posture
from aether_qt.engines.router.remote_tier import prompt_tokens
from aether_qt.policy.decisions import ActionRequest, Allow
from aether_qt.policy.runtime import PolicyRuntime

pytestmark = pytest.mark.slow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return resolve_paths(tmp_path / "home")


def set_up(paths: AppPaths, url: str, *, price: float = 0.0) -> None:
    """What ``aether providers add lan --url URL --model m`` leaves: config, active, posture, the grant."""
    runtime = PolicyRuntime.open(paths, allow_key_file=True)
    try:
        config = make_config("lan", url, "m", price, price)
        allow_provider(runtime, config)
        save_provider(runtime.settings, config)
        set_active(runtime.settings, "lan")
        set_posture(runtime.settings, Posture.REMOTE_NON_SENSITIVE)
    finally:
        runtime.close()


def open_companion(paths: AppPaths, clock: Clock | None = None, *, load_model: bool = True) -> Companion:
    return Companion.open(
        paths, allow_key_file=True, install_guard=False, load_model=load_model, clock=clock or Clock()
    )


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(fixed_words("waves come and go")) as running:
        yield running


def turn(comp: Companion, text: str) -> dict[str, str]:
    report = comp.conductor.run_turn(text)
    assert report is not None and report.outcome == "Answered", report
    assert report.reply
    return report.route


def test_a_stopped_server_opens_the_breaker_after_three_failures_and_it_closes_when_the_server_is_back(
    paths: AppPaths, server: OpenAIServer
) -> None:
    set_up(paths, server.base_url)
    port = int(server.base_url.rsplit(":", 1)[1].split("/")[0])
    clock = Clock()
    with open_companion(paths, clock) as comp:
        assert turn(comp, "tell me about the sea")["tier"] == "remote"
        server.stop()  # the user's server goes away mid-conversation
        for _ in range(3):
            route = turn(comp, "and about the tides?")
            assert (route["tier"], route["status"]) == ("local", "unreachable")
            assert "answering locally" in route["reason"]
        asked = len(server.requests)
        route = turn(comp, "and the moon?")
        assert (route["tier"], route["reason"]) == ("local", "remote unavailable: answering locally")
        assert comp.router.remote_banner().startswith("Remote unavailable: answering locally")
        assert len(server.requests) == asked  # an open breaker does not knock
        with OpenAIServer(fixed_words("back again"), port=port) as again:
            clock.now += 30  # the cool-down passes: one trial
            route = turn(comp, "are you there?")
            assert route["tier"] == "remote" and len(again.requests) == 1
            assert comp.router.remote_banner() == ""
            assert turn(comp, "good")["tier"] == "remote"  # closed again


def test_twenty_parallel_requests_never_spend_more_than_the_cap_plus_one_reservation(
    paths: AppPaths, server: OpenAIServer
) -> None:
    set_up(paths, server.base_url, price=50.0)  # $50 per million tokens each way
    request = GenerationRequest("t", "You are Aether.", "tell me about the sea", max_tokens=64)
    one = cost_micros(Price(50.0, 50.0), prompt_tokens(request), request.max_tokens)
    with open_companion(paths, load_model=False) as comp:
        caps = user_allow(comp.runtime, "cost.admin", CAPS_RESOURCE, "set the caps")
        ledger = CostLedger(database=comp.runtime.database)
        ledger.set_caps(daily_usd=one / 1e6, monthly_usd=1.0, permit=caps.permit, verifier=comp.runtime.gate)
        server.mode = Mode.PAUSE  # every answer holds a moment mid-stream: the requests overlap
        server.stall_seconds, server.cut_after = 0.3, 1
        routes: list[str] = []
        start = threading.Barrier(20)

        def one_turn() -> None:
            decision = comp.runtime.gate.evaluate(
                ActionRequest("router.remote", server.base_url, actor_persona="user", intended_route="lan")
            )
            permit = decision.permit if isinstance(decision, Allow) else None
            route = comp.router.plan("DirectLocal")
            start.wait()
            taken, _ = comp.router.answer(
                request, "DirectLocal", lambda _t: None, threading.Event(), route=route, permit=permit
            )
            routes.append(taken.tier.value)

        threads = [threading.Thread(target=one_turn) for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        state = ledger.state()
        assert routes.count(Tier.REMOTE.value) >= 1 and len(routes) == 20
        assert state.spent_day_micros + state.reserved_day_micros <= 2 * one
        assert state.tripped
        spent = state.spent_day_micros
    with open_companion(paths, load_model=False) as comp:  # a restart keeps the spend and the trip
        again = CostLedger(database=comp.runtime.database).state()
        assert again.spent_day_micros == spent and again.tripped
        route = comp.router.plan("DirectLocal")
        decision = comp.runtime.gate.evaluate(
            ActionRequest("router.remote", server.base_url, actor_persona="user", intended_route="lan")
        )
        assert route.tier is Tier.REMOTE and not isinstance(decision, Allow)  # the gate refuses at the cap
        assert getattr(decision, "reason", None) is not None and decision.reason.value == "cost_cap"  # type: ignore[union-attr]


def test_without_the_users_grant_a_turn_is_answered_locally_and_no_approval_card_appears(
    paths: AppPaths, server: OpenAIServer
) -> None:
    set_up(paths, server.base_url)
    with open_companion(paths) as comp:
        grants = [g.grant_id for g in comp.runtime.ledger.active() if g.capability == "router.remote"]
        assert grants and all(comp.runtime.gate.revoke(g) for g in grants)  # the user withdrew consent
        seen: list[str] = []
        comp.bus.subscribe("*", lambda env: seen.append(env.kind))
        route = turn(comp, "tell me about the sea")
        assert route["tier"] == "local" and "the gate did not allow remote" in route["reason"]
        assert "approvals.did_open_ticket" not in seen and server.requests == []
        assert comp.runtime.tickets.pending() == []
