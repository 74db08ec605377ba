"""The conversation window: the newest messages within a token budget, long ones cut; its taint and task."""

from __future__ import annotations

from aether_qt.core.generation import FencedData, Message
from aether_qt.engines.router.prompt import estimate_tokens
from aether_qt.services.interaction.history import ConversationHistory, Exchange, history_window


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


def test_data_counts_towards_the_budget_and_is_cut_like_a_message() -> None:
    big = FencedData("file:/x", " ".join(f"w{i}" for i in range(400)))
    window = history_window([Message("user", "read x"), Message("assistant", "ok", (big,))])
    [block] = window[-1].data
    assert block.source == "file:/x" and block.text.endswith(" …") and estimate_tokens(block.text) <= 64
    assert history_window([Message("user", "read x"), Message("assistant", "ok", (big,))], budget=20) == ()


def exchange(n: int, **kw: object) -> Exchange:
    return Exchange(user=f"question {n}", reply=f"answer {n}", **kw)  # type: ignore[arg-type]


def test_the_window_is_whole_exchanges_and_its_taint_is_theirs() -> None:
    conversation = ConversationHistory(turns=3, budget=20)
    assert conversation.window() == () and conversation.taint() == () and conversation.task_id() is None
    read = exchange(1, data=(FencedData("file:/x", "x"),), sources=("file:/x",), task_id="t1", read=True)
    conversation.add(read)
    conversation.add(exchange(2, derived=("file:/x", "card:c"), task_id="t1"))
    assert conversation.window() == (read, exchange(2, derived=("file:/x", "card:c"), task_id="t1"))
    assert conversation.taint() == ("file:/x", "card:c") and conversation.sources() == ("file:/x",)
    assert conversation.task_id() == "t1"
    assert conversation.messages()[1].data == read.data
    for n in range(3, 6):
        conversation.add(exchange(n, task_id=f"t{n}"))
    assert conversation.taint() == () and conversation.task_id() is None
    assert len(conversation.window()) < 3


def test_only_the_newest_turns_are_kept() -> None:
    conversation = ConversationHistory(turns=2)
    for n in range(5):
        conversation.add(exchange(n))
    assert [m.text for m in conversation.messages()] == ["question 3", "answer 3", "question 4", "answer 4"]
