"""Regenerate, edit and resend, continue a cut reply: what the model sees and what the history keeps.

A real policy runtime and gate, and a scripted router that records every request
and answers with the next scripted reply (cut at the token limit when asked).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring_support import key_file_runtime
from router_fakes import FakeLocalRouter

from aether_qt.companion import build_conductor
from aether_qt.core.bus import EventBus
from aether_qt.core.events import Envelope, TurnBegan, TurnEnded
from aether_qt.core.generation import GenerationRequest, GenerationResult, TokenSink
from aether_qt.engines.interaction.phrases import load_default_persona
from aether_qt.engines.router.prompt import build_prompt
from aether_qt.services.interaction.conductor import Conductor, TurnReport


class Scripted(FakeLocalRouter):
    """Answers with ``replies`` in order; ``cut`` ends the next reply at the token limit."""

    def __init__(self, *replies: str) -> None:
        super().__init__()
        self.replies = list(replies)
        self.cut = False
        self.fail = False

    def respond(self, request: GenerationRequest, on_token: TokenSink) -> GenerationResult:
        if self.fail:
            on_token(" half")
            return GenerationResult("", 0, "error", error="the model stopped")
        reply = self.replies.pop(0)
        on_token(reply)
        stopped, self.cut = ("max_tokens" if self.cut else "done"), False
        return GenerationResult(reply, 3, stopped)


class Rig:
    def __init__(self, conductor: Conductor, router: Scripted, events: list[Envelope]) -> None:
        self.conductor, self.router, self.events = conductor, router, events

    def ended(self) -> list[TurnEnded]:
        return [e.payload for e in self.events if isinstance(e.payload, TurnEnded)]

    def began(self) -> list[TurnBegan]:
        return [e.payload for e in self.events if isinstance(e.payload, TurnBegan)]


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with key_file_runtime(tmp_path / "home") as rt:
        bus = EventBus()
        events: list[Envelope] = []
        bus.subscribe("*", events.append)
        router = Scripted("Hi there.", "Why did the chicken [more]", "A second joke.", "A story.")
        persona = load_default_persona()
        conductor = build_conductor(
            runtime=rt, bus=bus, router=router, persona=persona, spawn=lambda job: job(), workdir=tmp_path
        )
        yield Rig(conductor, router, events)


def talk(rig: Rig, text: str) -> TurnReport:
    report = rig.conductor.run_turn(text)
    assert report is not None and report.outcome == "Answered"
    return report


def test_regenerate_answers_the_last_message_again_without_its_old_answer(rig: Rig) -> None:
    talk(rig, "hello there friend")
    joke = talk(rig, "tell me a joke please")
    again = rig.conductor.regenerate()
    assert again is not None and again.reply == "A second joke." and again.turn_id != joke.turn_id
    request = rig.router.requests[-1]
    assert request.user_text == "tell me a joke please"
    assert [m.text for m in request.history] == ["hello there friend", "Hi there."]
    assert rig.began()[-1].replaces == joke.turn_id and rig.began()[-1].text == "tell me a joke please"
    assert [(m.role, m.text) for m in rig.conductor.history.messages()][-2:] == [
        ("user", "tell me a joke please"),
        ("assistant", "A second joke."),
    ]
    assert len(rig.conductor.history.messages()) == 4  # two exchanges: the old joke is gone


def test_edit_last_replaces_the_last_exchange_with_the_new_words(rig: Rig) -> None:
    talk(rig, "hello there friend")
    joke = talk(rig, "tell me a joke please")
    rig.router.replies.pop(0)
    story = rig.conductor.edit_last("tell me a story instead")
    assert story is not None and story.reply == "A story."
    request = rig.router.requests[-1]
    assert request.user_text == "tell me a story instead"
    assert [m.text for m in request.history] == ["hello there friend", "Hi there."]
    assert rig.began()[-1].replaces == joke.turn_id
    assert [m.text for m in rig.conductor.history.messages()] == [
        "hello there friend",
        "Hi there.",
        "tell me a story instead",
        "A story.",
    ]


def test_nothing_to_regenerate_or_continue_in_a_new_conversation(rig: Rig) -> None:
    assert rig.conductor.regenerate() is None
    assert rig.conductor.edit_last("anything") is None
    assert rig.conductor.continue_reply() is None
    assert rig.router.requests == []


def test_a_cut_reply_says_so_and_continue_appends_to_it(rig: Rig) -> None:
    talk(rig, "hello there friend")
    rig.router.cut = True
    cut = talk(rig, "tell me a long joke please")
    assert rig.ended()[-1].cut and cut.reply == "Why did the chicken"  # the model's own "[more]" is dropped
    assert not rig.ended()[0].cut
    rig.router.replies[0] = " cross the road?"
    more = rig.conductor.continue_reply()
    assert more is not None and more.outcome == "Answered"
    request = rig.router.requests[-1]
    assert request.user_text == "tell me a long joke please" and request.reply_prefix == "Why did the chicken"
    assert build_prompt(request).text.endswith("<|im_start|>assistant\nWhy did the chicken")
    assert [m.text for m in request.history] == ["hello there friend", "Hi there."]
    began, end = rig.began()[-1], rig.ended()[-1]
    assert began.continues == cut.turn_id and began.text == ""
    assert end.reply == "Why did the chicken cross the road?" and not end.cut
    assert [m.text for m in rig.conductor.history.messages()][-1] == "Why did the chicken cross the road?"
    assert rig.conductor.continue_reply() is None  # no longer cut: nothing to continue


def test_a_continuation_that_fails_leaves_the_cut_reply_as_it_was_and_continuable(rig: Rig) -> None:
    rig.router.cut = True
    cut = talk(rig, "tell me a long joke please")
    rig.router.fail = True
    failed = rig.conductor.continue_reply()
    assert failed is not None and failed.outcome != "Answered"
    end = rig.ended()[-1]
    assert end.reply == cut.reply and end.cut  # the partial words are dropped; Continue is still offered
    assert [e.reply for e in rig.conductor.history.window()] == [cut.reply]
    rig.router.fail = False
    rig.router.replies[0] = " cross the road?"
    more = rig.conductor.continue_reply()
    assert more is not None and more.reply == f"{cut.reply} cross the road?"
    assert rig.router.requests[-1].reply_prefix == cut.reply
