"""The conversation window keeps its start while it fits, so the local model's KV cache covers it."""

from __future__ import annotations

from aether_qt.core.generation import Message
from aether_qt.engines.router.prompt import estimate_tokens
from aether_qt.services.interaction.history import ConversationHistory, Exchange, history_window


def exchange(n: int) -> Exchange:
    return Exchange(user=f"question number {n}", reply=f"this is the answer to question {n}")


def cost(messages: tuple[Message, ...]) -> int:
    return sum(estimate_tokens(m.text) for m in messages)


def test_consecutive_prompts_share_their_history_until_the_budget_is_reached() -> None:
    conversation = ConversationHistory(turns=50, budget=120)
    previous: tuple[Message, ...] = ()
    shared = restarts = 0
    for n in range(30):
        conversation.add(exchange(n))
        window = conversation.messages()
        assert window == conversation.messages()  # asking twice changes nothing
        assert cost(window) <= 120 and window[-2:] == exchange(n).messages()
        newest_fill = history_window([m for k in range(n + 1) for m in exchange(k).messages()], budget=120)
        assert len(window) <= len(newest_fill)  # never older exchanges than the plain newest-first window
        if window[: len(previous)] == previous:
            shared += 1
        else:
            restarts += 1
            assert cost(window) <= 60  # restarted at what fits half the budget
        previous = window
    assert shared > 2 * restarts  # a sliding window would restart at every turn once full


def test_an_exchange_too_big_for_half_the_budget_is_still_kept() -> None:
    conversation = ConversationHistory(turns=10, budget=60)
    for n in range(4):
        conversation.add(exchange(n))
    big = Exchange(user="tell me " + "more " * 25, reply="sure")  # ~47 tokens: over half the budget
    conversation.add(big)
    window = conversation.messages()
    assert window and window[-1].text == "sure" and cost(window) <= 60


def test_forgetting_old_turns_keeps_the_window_start_right() -> None:
    conversation = ConversationHistory(turns=3, budget=1000)
    for n in range(6):
        conversation.add(exchange(n))
        assert conversation.messages() == tuple(
            m for k in range(max(0, n - 2), n + 1) for m in exchange(k).messages()
        )
