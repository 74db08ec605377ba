"""What the conductor puts in front of the user: plain sentences, each line once.

A real policy runtime and gate, a scripted router (it can fail or raise) and a
memory that can time out. Every text a window would show (phrases, the reply,
the notice, the route caption) is collected from the bus and checked for codes,
ids and exception names, and for lines shown twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring_support import key_file_runtime
from router_fakes import FakeLocalRouter

from aether_qt.companion import build_conductor
from aether_qt.core.bus import EventBus
from aether_qt.core.events import Envelope, PhraseShown, TurnEnded
from aether_qt.core.generation import FencedData, GenerationRequest, GenerationResult, TokenSink
from aether_qt.engines.interaction.phrases import DEFAULT_PHRASES, load_default_persona
from aether_qt.engines.memory.recall import RecallResult
from aether_qt.policy.decisions import DenyReason
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.policy.user_words import MEMORY_MISS, SENTENCES, leaks
from aether_qt.services.interaction.conductor import Conductor, TurnReport


class Router(FakeLocalRouter):
    """Answers ``reply``; or stops with an error (``error``), or raises (``boom``)."""

    def __init__(self) -> None:
        super().__init__()
        self.reply = "Noted."
        self.error = ""
        self.boom = False

    def respond(self, request: GenerationRequest, on_token: TokenSink) -> GenerationResult:
        if self.boom:
            raise KeyError("provider bug")
        if self.error:
            return GenerationResult("", 0, "error", error=self.error)
        on_token(self.reply)
        return GenerationResult(self.reply, 1, "done")


class SlowMemory:
    """Recall never answers in time."""

    started = True

    def recall_for_turn(
        self, query: str, *, turn_id: str, persona_id: str
    ) -> tuple[RecallResult, tuple[FencedData, ...]]:
        return RecallResult((), fts_only=True, timed_out=True, took_ms=500.0), ()

    def record_episode(self, text: str, *, turn_id: str, persona_id: str) -> object:
        return None


class Rig:
    def __init__(self, rt: PolicyRuntime, root: Path) -> None:
        self.bus = EventBus()
        self.events: list[Envelope] = []
        self.bus.subscribe("*", self.events.append)
        self.router = Router()
        self.conductor: Conductor = build_conductor(
            runtime=rt,
            bus=self.bus,
            router=self.router,
            persona=load_default_persona(),
            spawn=lambda job: job(),
            workdir=root,
            memory=SlowMemory(),  # type: ignore[arg-type]
        )

    def turn(self, text: str) -> tuple[TurnReport, list[str], TurnEnded]:
        """Run a turn; its report, every text a window shows of it, and its end."""
        start = len(self.events)
        report = self.conductor.run_turn(text)
        assert report is not None
        shown: list[str] = []
        ended: TurnEnded | None = None
        for env in self.events[start:]:
            payload = env.payload
            if isinstance(payload, PhraseShown) and payload.pool != "quote":
                shown.append(payload.text)
            elif isinstance(payload, TurnEnded):
                ended = payload
                shown.extend(t for t in (payload.reply, payload.notice, payload.route) if t)
        assert ended is not None
        return report, shown, ended


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with key_file_runtime(tmp_path / "home") as rt:
        root = tmp_path / "docs"
        root.mkdir()
        rt.set_roots((root,))
        yield Rig(rt, root)


def once(lines: list[str]) -> None:
    """No line is shown twice, and none names a code, an id or an exception."""
    counts = Counter(line.strip() for line in lines)
    assert [line for line, n in counts.items() if n > 1] == [], lines
    for line in lines:
        assert leaks(line) == [], line


def test_a_failed_reply_says_sorry_once(rig: Rig) -> None:
    rig.router.error = "RuntimeError: llama_decode returned -1"
    report, shown, ended = rig.turn("tell me a story")
    assert report.outcome == "Repaired"
    assert ended.reply in DEFAULT_PHRASES["repair"]
    once(shown)
    assert shown.count(ended.reply) == 1


def test_a_crashing_provider_ends_the_turn_in_words_without_the_exception_name(rig: Rig) -> None:
    rig.router.boom = True
    report, shown, ended = rig.turn("tell me a story")
    assert report.outcome == "Error"
    assert ended.notice and "KeyError" not in ended.notice
    once(shown)


def test_a_very_long_message_is_told_once(rig: Rig) -> None:
    _, shown, _ = rig.turn("a" * 199_999)
    about_length = [line for line in shown if "199,999" in line]
    assert len(about_length) == 1, shown
    once(shown)


def test_a_refused_action_says_what_happened_and_what_to_do_in_one_sentence(rig: Rig) -> None:
    report, shown, ended = rig.turn("run ls -la")
    assert report.decision is not None and report.decision["decision"] == "deny"
    reason = report.decision["reason"]
    assert ended.notice == SENTENCES[DenyReason(reason)]
    once(shown)


def test_a_memory_that_answered_late_is_said_in_words(rig: Rig) -> None:
    report, shown, ended = rig.turn("what do you think about tea?")
    assert MEMORY_MISS in report.notices  # the code stays in the report (aether say --json)
    assert ended.notice == SENTENCES[MEMORY_MISS]
    once(shown)


def test_an_approval_wait_names_no_ticket(rig: Rig, tmp_path: Path) -> None:
    report, shown, ended = rig.turn(f"write {tmp_path / 'docs' / 'todo.txt'} buy milk")
    assert report.ticket_id
    assert report.ticket_id not in ended.notice and "Waiting for your OK" in ended.notice
    once(shown)
