"""``aether bench router-cache``: follow-up first-token time with and without the kept KV cache.

The bundled model plays the same short conversation (the shipped persona,
greedy decoding) twice per round: once reusing only the system turn (the
behaviour before the cache was kept across turns, ``reuse_history=False``) and
once keeping every shared turn. Rounds alternate the two so that load from
other processes hits both alike. Reported: the median first-token time and
prompt tokens evaluated of the follow-ups, the last (short) follow-up on its
own, and whether both ways gave the same replies (they must: greedy decoding).

:func:`followup_cache_rows` is the measurement; other suites (``aether bench
router``) can add its rows to their tables.
"""

from __future__ import annotations

import statistics
import threading
from pathlib import Path
from typing import Any

from aether_qt.core.generation import GenerationRequest, Message

CONVERSATION = (
    "hello, who are you?",
    "what is a nice thing to do on a rainy afternoon?",
    "I like reading. Any tips for a cosy reading corner?",
    "and a good drink to go with it?",
    "why?",  # the short follow-up the issue asks about
)
MAX_TOKENS = 24


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else float("nan")


def _best(values: list[float]) -> float:
    """The fastest sample: on a shared machine, the one least slowed by other processes."""
    return round(min(values), 1) if values else float("nan")


def _play(provider: Any, system: str) -> tuple[list[float], list[int], list[str]]:
    """One conversation: first-token ms and prompt tokens of each follow-up, and every reply."""
    history: tuple[Message, ...] = ()
    first_ms: list[float] = []
    evaluated: list[int] = []
    replies: list[str] = []
    for i, text in enumerate(CONVERSATION):
        request = GenerationRequest(
            "bench", system, text, history=history, max_tokens=MAX_TOKENS, temperature=0.0
        )
        result = provider.generate(request, lambda _t: None, threading.Event())
        stats = provider.last_stats
        if i and stats is not None:
            first_ms.append(stats.prompt_s * 1000)
            evaluated.append(stats.prompt_tokens)
        replies.append(result.text)
        history += (Message("user", text), Message("assistant", result.text))
    return first_ms, evaluated, replies


def followup_cache_rows(models_dir: Path, *, rounds: int = 3) -> dict[str, Any]:
    """Measure follow-ups with the system turn only vs the kept prefix; returns numbers and table rows."""
    from aether_qt.engines.interaction.phrases import load_default_persona
    from aether_qt.engines.router.gpt4all_provider import Gpt4AllProvider
    from aether_qt.engines.router.models import prepare_bundled

    model = prepare_bundled(models_dir)
    system = load_default_persona().system_prompt
    runs: dict[str, dict[str, list[Any]]] = {}
    providers = {"system_only": Gpt4AllProvider(model, reuse_history=False), "kept": Gpt4AllProvider(model)}
    try:
        for p in providers.values():
            p.load()
            p.warm(system)
        for _ in range(rounds):
            for mode, p in providers.items():
                p.warm("")  # start each round from a context holding nothing of the conversation
                p.warm(system)
                first_ms, evaluated, replies = _play(p, system)
                run = runs.setdefault(mode, {"first": [], "last": [], "tokens": [], "replies": []})
                run["first"] += first_ms
                run["last"].append(first_ms[-1])
                run["tokens"] += evaluated
                run["replies"].append(replies)
    finally:
        for p in providers.values():
            p.close()
    before, after = runs["system_only"], runs["kept"]
    result: dict[str, Any] = {
        "followup_first_token_ms_system_only": _median(before["first"]),
        "followup_first_token_ms_kept": _median(after["first"]),
        "short_followup_first_token_ms_system_only": _median(before["last"]),
        "short_followup_first_token_ms_kept": _median(after["last"]),
        "followup_first_token_ms_best_system_only": _best(before["first"]),
        "followup_first_token_ms_best_kept": _best(after["first"]),
        "short_followup_first_token_ms_best_system_only": _best(before["last"]),
        "short_followup_first_token_ms_best_kept": _best(after["last"]),
        "followup_prompt_tokens_system_only": _median(before["tokens"]),
        "followup_prompt_tokens_kept": _median(after["tokens"]),
        "same_replies": before["replies"] == after["replies"],
        "rounds": rounds,
    }
    result["rows"] = [
        (
            "follow-up first token ms, system turn only (median)",
            result["followup_first_token_ms_system_only"],
            f"best {result['followup_first_token_ms_best_system_only']:.0f}; "
            f"prompt tokens {result['followup_prompt_tokens_system_only']:.0f}",
        ),
        (
            "follow-up first token ms, KV cache kept (median)",
            result["followup_first_token_ms_kept"],
            f"best {result['followup_first_token_ms_best_kept']:.0f}; "
            f"prompt tokens {result['followup_prompt_tokens_kept']:.0f}",
        ),
        (
            'short follow-up "why?" first token ms, system turn only (median)',
            result["short_followup_first_token_ms_system_only"],
            f"best {result['short_followup_first_token_ms_best_system_only']:.0f}",
        ),
        (
            'short follow-up "why?" first token ms, KV cache kept (median)',
            result["short_followup_first_token_ms_kept"],
            f"best {result['short_followup_first_token_ms_best_kept']:.0f}",
        ),
        ("same replies both ways (greedy)", str(result["same_replies"]), "must be True"),
    ]
    return result


def run_router_cache_bench(home: Path, *, quick: bool = False) -> dict[str, Any]:
    """The ``router-cache`` suite in ``home`` (a throw-away folder unless ``--home``)."""
    result = followup_cache_rows(home / "models", rounds=1 if quick else 3)
    result["table"] = result.pop("rows")
    result["error"] = "" if result["same_replies"] else "the kept cache changed a reply"
    return result
