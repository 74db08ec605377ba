"""Remote -> local -> apology: what the router does with each remote outcome, and what it spends.

The remote backend here is scripted (the real provider against a real server is
tested in tests/integration); this file is about the router's decisions around it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path

import pytest
from test_router import bundled, make_router  # noqa: F401 - bundled is a fixture

from aether_qt.core.generation import (
    GenerationRequest,
    GenerationResult,
    RemoteError,
    RemoteStatus,
    Route,
    Tier,
    TokenSink,
)
from aether_qt.engines.router.breaker import CircuitBreaker
from aether_qt.engines.router.providers import Posture, ProviderConfig, RouterSettings, make_config
from aether_qt.engines.router.remote_tier import Opener, RemoteTier, SpendRefusedError
from aether_qt.engines.router.router import Router

LAN = make_config("lan", "http://127.0.0.1:9/v1", "big", 1.0, 2.0)
REQUEST = GenerationRequest("t1", "You are Aether.", "tell me about tides", max_tokens=100)


class Script:
    """Each call pops the next outcome: a string is streamed and returned, an error is raised."""

    def __init__(self, *outcomes: str | RemoteError | tuple[str, RemoteError]) -> None:
        self.outcomes = list(outcomes)
        self.permits: list[object] = []

    def generate_with(
        self, opener: Opener, request: GenerationRequest, on_token: TokenSink, cancel: threading.Event
    ) -> GenerationResult:
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, tuple):
            on_token(outcome[0])
            raise outcome[1]
        if isinstance(outcome, RemoteError):
            raise outcome
        on_token(outcome)
        return GenerationResult(outcome, 7, "done", prompt_tokens=40, usage_reported=True)


class Ledger:
    def __init__(self, refuse: str = "") -> None:
        self.refuse = refuse
        self.open: list[object] = []
        self.settled: list[tuple[int, int]] = []

    def reserve(self, provider: ProviderConfig, prompt_tokens: int, max_tokens: int) -> object:
        if self.refuse:
            raise SpendRefusedError(self.refuse)
        token = object()
        self.open.append(token)
        return token

    def settle(self, reservation: object, input_tokens: int, output_tokens: int) -> None:
        self.open.remove(reservation)
        self.settled.append((input_tokens, output_tokens))


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def remote_router(
    tmp_path: Path, script: Script, ledger: Ledger | None = None, clock: Clock | None = None
) -> Router:
    router, _ = make_router(tmp_path)
    router.start(system_prompt="")

    def open_stream(permit: object) -> Opener:
        script.permits.append(permit)

        def opener(body: bytes, headers: Mapping[str, str], connect: float, read: float) -> object:
            raise AssertionError("the scripted backend never opens a stream")

        return opener

    router.remote = RemoteTier(
        settings=RouterSettings((LAN,), "lan", Posture.REMOTE_NON_SENSITIVE),
        backend=script,
        open_stream=open_stream,
        spending=ledger,
        breaker=CircuitBreaker(clock=clock or Clock()),
    )
    return router


def ask(router: Router, permit: object = "permit") -> tuple[Route, GenerationResult, list[str]]:
    tokens: list[str] = []
    route = router.plan("DirectLocal")
    taken, result = router.answer(
        REQUEST, "DirectLocal", tokens.append, threading.Event(), route=route, permit=permit
    )
    return taken, result, tokens


pytestmark = pytest.mark.usefixtures("bundled")  # every router here starts on the (fake) bundled model


def test_a_remote_answer_settles_on_the_reported_usage(tmp_path: Path) -> None:
    script, ledger = Script("the tide turns twice a day"), Ledger()
    router = remote_router(tmp_path, script, ledger)
    assert router.plan("DirectLocal").tier is Tier.REMOTE and router.remote_resource() == LAN.base_url
    route, _result, tokens = ask(router)
    assert (route.tier, route.provider, route.reason) == (Tier.REMOTE, "lan", "remote allowed: lan")
    assert tokens == ["the tide turns twice a day"] and script.permits == ["permit"]
    assert ledger.settled == [(40, 7)] and ledger.open == []


def test_without_the_gate_s_permit_nothing_is_sent_and_the_turn_is_answered_locally(tmp_path: Path) -> None:
    script = Script("never")
    route, result, _ = ask(remote_router(tmp_path, script), permit=None)
    assert route.tier is Tier.LOCAL and result.text == "model says hi" and script.permits == []


def test_a_failure_before_any_word_answers_locally_with_the_typed_status(tmp_path: Path) -> None:
    ledger = Ledger()
    router = remote_router(
        tmp_path, Script(RemoteError(RemoteStatus.SERVER_ERROR, "the server failed (HTTP 500)")), ledger
    )
    route, _result, tokens = ask(router)
    assert route.tier is Tier.LOCAL and route.status == "server_error"
    assert "the server failed (HTTP 500)" in route.reason and "answering locally" in route.reason
    assert tokens == ["model says hi"] and ledger.settled == [(0, 0)]  # nothing was sent back: nothing spent


def test_a_drop_after_words_ends_the_turn_with_the_words_and_the_status(tmp_path: Path) -> None:
    ledger = Ledger()
    drop = RemoteError(RemoteStatus.DROPPED, "the connection closed mid-reply")
    route, result, tokens = ask(remote_router(tmp_path, Script(("the tide", drop)), ledger))
    assert route.tier is Tier.REMOTE and route.status == "dropped"
    assert result.stopped == "error" and "closed mid-reply" in result.error
    assert tokens == ["the tide"]  # no local text glued onto a half remote reply
    assert ledger.settled and ledger.settled[0][1] >= 1  # the words that came are paid for


def test_three_server_failures_open_the_breaker_and_auth_failures_do_not(tmp_path: Path) -> None:
    clock = Clock()
    auth = RemoteError(RemoteStatus.AUTH, "the server refused the key (HTTP 401)")
    fail = RemoteError(RemoteStatus.TIMEOUT, "the server did not answer in time")
    router = remote_router(tmp_path, Script(auth, auth, auth, fail, fail, fail, "back"), clock=clock)
    for _ in range(3):
        route, _, _ = ask(router)
        assert route.status == "auth" and "refused the key" in route.reason  # shown, never retried silently
    assert router.remote_banner() == ""
    for _ in range(3):
        ask(router)
    planned = router.plan("DirectLocal")
    assert planned.tier is Tier.LOCAL and planned.reason == "remote unavailable: answering locally"
    assert router.remote_banner().startswith("Remote unavailable: answering locally")
    clock.now += 30
    route, result, _ = ask(router)
    assert route.tier is Tier.REMOTE and result.text == "back" and router.remote_banner() == ""


def test_a_refused_reservation_answers_locally_with_the_cap_sentence(tmp_path: Path) -> None:
    script = Script("never")
    route, _result, _ = ask(
        remote_router(tmp_path, script, Ledger(refuse="the daily cap of $0.10 is reached"))
    )
    assert route.tier is Tier.LOCAL and "daily cap of $0.10" in route.reason and script.outcomes == ["never"]


def test_a_rate_limit_honours_retry_after_then_tries_again(tmp_path: Path) -> None:
    clock = Clock()
    limited = RemoteError(RemoteStatus.RATE_LIMITED, "the server asks to wait 20 s", retry_after=20.0)
    router = remote_router(tmp_path, Script(limited, "after the wait"), clock=clock)
    route, _result, _ = ask(router)
    assert route.tier is Tier.LOCAL and route.status == "rate_limited"
    assert router.plan("DirectLocal").tier is Tier.LOCAL  # not before Retry-After
    clock.now += 20
    route, result, _ = ask(router)
    assert route.tier is Tier.REMOTE and result.text == "after the wait"


def test_the_provider_s_own_earlier_reply_may_go_back_to_it_but_other_untrusted_content_may_not(
    tmp_path: Path,
) -> None:
    router = remote_router(tmp_path, Script())
    assert router.plan("DirectLocal", taint=("remote:lan",)).tier is Tier.REMOTE
    assert router.plan("DirectLocal", taint=("remote:lan", "file:/home/u/notes.txt")).tier is Tier.LOCAL
    assert router.plan("DirectLocal", taint=("remote:other",)).tier is Tier.LOCAL
