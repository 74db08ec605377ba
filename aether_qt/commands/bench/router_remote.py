"""``aether bench router-remote``: the remote tier's overhead and the cost cap under parallel requests.

Both against the OpenAI-compatible test server (``tests/openai_server.py``) on
127.0.0.1 in this process, streaming fixed words, so the numbers measure Aether
and not a model:

* first token: :class:`RemoteProvider` (wire format, SSE decoding, cancel watcher)
  against a raw streaming request through the same effector (first ``data:``
  line with content), alternated, medians; target ratio <= 1.10. Once with fixed
  words (Aether's overhead alone, a few ms on loopback) and once with the real
  bundled model generating behind the server (what a user waits for).
* cap overshoot: 20 threads plan, ask the gate and answer through the router at
  once with a daily cap of one reservation; reported in reservations beyond the
  cap (target: at most one, i.e. spent + reserved <= 2 x reservation).
"""

from __future__ import annotations

import functools
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

from aether_qt.companion import Companion
from aether_qt.core.generation import GenerationRequest
from aether_qt.core.paths import resolve_paths

TESTS_DIR = Path(__file__).resolve().parents[3] / "tests"
WORDS = "the tide comes in and goes out twice a day under the moon"


def _server_module() -> Any:
    sys.path.insert(0, str(TESTS_DIR))  # the test server is a developer tool, not shipped
    import openai_server  # type: ignore[import-not-found]

    return openai_server


def _set_up(home: Path, url: str, price: float) -> Companion:
    from aether_qt.commands.providers import allow_provider
    from aether_qt.engines.router.providers import (
        Posture,
        make_config,
        save_provider,
        set_active,
        set_posture,
    )

    paths = resolve_paths(home)
    comp = Companion.open(paths, allow_key_file=True, install_guard=False, load_model=False)
    config = make_config("bench", url, "m", price, price)
    allow_provider(comp.runtime, config)
    save_provider(comp.runtime.settings, config)
    set_active(comp.runtime.settings, "bench")
    set_posture(comp.runtime.settings, Posture.REMOTE_NON_SENSITIVE)
    comp.close()
    return Companion.open(paths, allow_key_file=True, install_guard=False, load_model=False)


def _permit(comp: Companion, url: str) -> Any:
    from aether_qt.policy.decisions import ActionRequest, Allow

    decision = comp.runtime.gate.evaluate(
        ActionRequest("router.remote", url, actor_persona="user", intended_route="bench")
    )
    return decision.permit if isinstance(decision, Allow) else None


def _first_token_ms(comp: Companion, url: str, rounds: int) -> dict[str, Any]:
    from aether_qt.engines.router import openai_wire as wire
    from aether_qt.engines.router.remote_provider import RemoteProvider

    request = GenerationRequest("bench", "You are Aether.", "tell me about the tides", max_tokens=32)
    provider = RemoteProvider("bench", url, "m", api_key=lambda: None)
    provider_ms: list[float] = []
    raw_ms: list[float] = []

    def through_provider() -> None:
        opener = functools.partial(comp.runtime.effectors.open_chat_stream, _permit(comp, url), url)
        first: list[float] = []

        def mark(_text: str) -> None:
            if not first:
                first.append(time.perf_counter())

        started = time.perf_counter()
        provider.generate_with(opener, request, mark, threading.Event())
        provider_ms.append((first[0] - started) * 1000)

    def raw() -> None:
        permit = _permit(comp, url)
        started = time.perf_counter()
        with comp.runtime.effectors.open_chat_stream(
            permit,
            url,
            body=wire.request_body(request, "m"),
            headers=wire.request_headers(None, "bench"),
            connect_timeout=5.0,
            read_timeout=30.0,
        ) as stream:
            for line in stream.iter_lines():
                if '"content"' in line and '"content":""' not in line.replace(" ", ""):
                    raw_ms.append((time.perf_counter() - started) * 1000)
                    break

    for index in range(rounds):  # alternate which goes first: neither gets a warmer connection
        for measure in (through_provider, raw) if index % 2 else (raw, through_provider):
            measure()
    provider_p50, raw_p50 = statistics.median(provider_ms), statistics.median(raw_ms)
    return {
        "rounds": rounds,
        "provider_first_token_ms": round(provider_p50, 2),
        "raw_first_token_ms": round(raw_p50, 2),
        "ratio": round(provider_p50 / raw_p50, 3) if raw_p50 else None,
    }


def _overshoot(comp: Companion, url: str) -> dict[str, Any]:
    from aether_qt.commands.session import user_allow
    from aether_qt.engines.router.cost_ledger import CAPS_RESOURCE, CostLedger
    from aether_qt.engines.router.costs import Price, cost_micros
    from aether_qt.engines.router.remote_tier import prompt_tokens

    request = GenerationRequest("bench", "You are Aether.", "tell me about the sea", max_tokens=64)
    one = cost_micros(Price(50.0, 50.0), prompt_tokens(request), request.max_tokens)
    ledger = CostLedger(database=comp.runtime.database)
    caps = user_allow(comp.runtime, "cost.admin", CAPS_RESOURCE, "set the caps")
    ledger.set_caps(daily_usd=one / 1e6, monthly_usd=10.0, permit=caps.permit, verifier=comp.runtime.gate)
    gate = threading.Barrier(20)
    tiers: list[str] = []

    def turn() -> None:
        permit = _permit(comp, url)
        route = comp.router.plan("DirectLocal")
        gate.wait()
        taken, _ = comp.router.answer(
            request, "DirectLocal", lambda _t: None, threading.Event(), route=route, permit=permit
        )
        tiers.append(taken.tier.value)

    threads = [threading.Thread(target=turn) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    state = ledger.state()
    used = state.spent_day_micros + state.reserved_day_micros
    return {
        "requests": 20,
        "answered_remotely": tiers.count("remote"),
        "reservation_usd": one / 1e6,
        "cap_usd": one / 1e6,
        "spent_plus_reserved_usd": used / 1e6,
        "overshoot_reservations": round(max(0, used - one) / one, 3),
    }


def run_router_remote_bench(home: Path, *, quick: bool = False) -> dict[str, Any]:
    """The ``router-remote`` suite in ``home``."""
    server_module = _server_module()
    with server_module.OpenAIServer(server_module.fixed_words(WORDS)) as server:
        comp = _set_up(home / "first-token", server.base_url, 0.0)
        try:
            first = _first_token_ms(comp, server.base_url, 10 if quick else 40)
        finally:
            comp.close()
        comp = _set_up(home / "overshoot", server.base_url, 50.0)
        try:
            server.mode = server_module.Mode.PAUSE  # answers pause mid-stream: the 20 requests overlap
            server.stall_seconds, server.cut_after = 0.2, 1
            over = _overshoot(comp, server.base_url)
        finally:
            comp.close()
    model_server = server_module.OpenAIServer(
        server_module.bundled_model_source(home / "models", max_tokens=8)
    )
    with model_server:
        comp = _set_up(home / "model-first-token", model_server.base_url, 0.0)
        try:
            model = _first_token_ms(comp, model_server.base_url, 4 if quick else 10)
        finally:
            comp.close()
    result: dict[str, Any] = {"first_token": first, "model_first_token": model, "cap": over}
    result["table"] = [
        (
            "remote first token (provider), ms",
            first["provider_first_token_ms"],
            f"median of {first['rounds']}",
        ),
        ("raw streaming request, ms", first["raw_first_token_ms"], "same server, same effector"),
        ("ratio provider / raw", first["ratio"], "target <= 1.10 (fixed words: Aether's overhead alone)"),
        (
            "bundled model behind the server: provider, ms",
            model["provider_first_token_ms"],
            f"median of {model['rounds']}",
        ),
        ("bundled model behind the server: raw, ms", model["raw_first_token_ms"], ""),
        ("ratio provider / raw (bundled model)", model["ratio"], "target <= 1.10"),
        ("20 parallel requests: answered remotely", over["answered_remotely"], "cap = one reservation"),
        ("cap overshoot (reservations)", over["overshoot_reservations"], "target <= 1"),
    ]
    return result
