"""The reflex tier (aether_qt/engines/router/reflex.py)."""

from __future__ import annotations

import threading

import pytest

from aether_qt.core.generation import GenerationRequest
from aether_qt.engines.router.reflex import ACK_REPLY, NO_MODEL_REPLY, ReflexProvider, chunks, reply_for


def run(provider: ReflexProvider, text: str, **kw: object) -> tuple[list[str], object]:
    tokens: list[str] = []
    cancel = kw.pop("cancel", threading.Event())
    req = GenerationRequest(turn_id="t", system_prompt="", user_text=text, **kw)  # type: ignore[arg-type]
    result = provider.generate(req, tokens.append, cancel)  # type: ignore[arg-type]
    return tokens, result


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("hi", "Hello"),
        ("Hello there!", "Hello"),
        ("good morning, Aether", "Hello"),
        ("thanks!", "welcome"),
        ("thank you so", "welcome"),
        ("who are you?", "Aether"),
        ("What can you do", "permission"),
        ("help", "plain words"),
        ("ok", "Okay"),
        ("bye", "Goodbye"),
    ],
)
def test_templated_replies(text: str, needle: str) -> None:
    reply = reply_for(text)
    assert reply is not None and needle in reply


def test_anything_else_without_a_model_says_how_to_choose_one() -> None:
    assert reply_for("explain quantum physics") == NO_MODEL_REPLY
    assert "aether models add PATH" in NO_MODEL_REPLY and "Choose model" in NO_MODEL_REPLY
    assert reply_for("hi there, explain quantum physics") == NO_MODEL_REPLY  # whole-message rules only


def test_with_a_model_unmatched_text_is_for_the_model() -> None:
    assert reply_for("explain quantum physics", model_ready=True) is None
    tokens, _ = run(ReflexProvider(model_ready=lambda: True), "mm-hm")
    assert "".join(tokens) == ACK_REPLY


def test_streams_a_few_tokens_that_join_to_the_reply() -> None:
    tokens, result = run(ReflexProvider(), "what can you do?")
    assert len(tokens) > 3
    assert "".join(tokens) == reply_for("what can you do?") == result.text  # type: ignore[attr-defined]
    assert (result.stopped, result.tokens) == ("done", len(tokens))  # type: ignore[attr-defined]


def test_cancel_and_max_tokens() -> None:
    cancel = threading.Event()
    cancel.set()
    tokens, result = run(ReflexProvider(), "who are you", cancel=cancel)
    assert tokens == [] and result.stopped == "cancelled"  # type: ignore[attr-defined]
    tokens, result = run(ReflexProvider(), "who are you", max_tokens=3)
    assert len(tokens) == 3 and result.stopped == "max_tokens"  # type: ignore[attr-defined]


def test_chunks_keep_every_character() -> None:
    assert "".join(chunks("  a b\nc ")) == "  a b\nc"
    assert chunks("") == [""]
