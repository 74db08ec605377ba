"""The conductor's history window: the newest messages within a token budget, long ones cut."""

from __future__ import annotations

from aether_qt.core.generation import Message
from aether_qt.engines.router.prompt import estimate_tokens
from aether_qt.services.interaction.conductor import history_window


def pair(n: int, reply: str = "fine") -> list[Message]:
    return [Message("user", f"question {n}"), Message("assistant", f"{reply} {n}")]


def test_short_histories_pass_unchanged() -> None:
    history = pair(1) + pair(2)
    assert history_window(history) == tuple(history)


def test_the_newest_messages_are_kept_within_the_budget() -> None:
    history = [m for n in range(40) for m in pair(n, "a reply of a few words")]
    window = history_window(history, budget=60)
    assert sum(estimate_tokens(m.text) for m in window) <= 60
    assert window[-1] == history[-1] and window[0].role == "user"
    assert 0 < len(window) < len(history)


def test_a_long_reply_is_cut_at_a_word_with_an_ellipsis() -> None:
    long_reply = " ".join(f"word{i}" for i in range(500))
    window = history_window([Message("user", "tell me everything"), Message("assistant", long_reply)])
    cut = window[-1].text
    assert cut.endswith(" …") and long_reply.startswith(cut[:-2]) and estimate_tokens(cut) <= 64


def test_a_reply_without_its_question_is_dropped() -> None:
    history = [Message("user", "x" * 3000), Message("assistant", "short answer")]
    window = history_window(history, budget=40, per_message=200)
    assert window == ()  # the question does not fit, so its answer alone would mislead
