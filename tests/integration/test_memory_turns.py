"""Memory in real turns: the acceptance of issue 5, tried as a new user would.

Real SQLite, the real audit chain, the bundled gpt4all model and the real
MiniLM embedder. Each test opens (and re-opens) a companion on its own home, as
starting and quitting the app does. Keys go to an opt-in key file with the
fail keyring backend. The small model's wording is never asserted: the recall
and the assembled prompt are.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from keyring_support import no_keyring
from router_fakes import WrappedPlan

from aether_qt.companion import Companion
from aether_qt.core.generation import GenerationRequest, GenerationResult, Route, TokenSink
from aether_qt.core.paths import AppPaths, resolve_paths
from aether_qt.engines.interaction.fsm import REPLY_MEMORY_DRAFT
from aether_qt.engines.memory.index import INDEX_FILE
from aether_qt.engines.router.prompt import build_prompt
from aether_qt.engines.router.router import Router
from aether_qt.policy.capabilities import Preset
from aether_qt.services.interaction.conductor import RouterPort
from aether_qt.services.memory.service import MemoryService
from aether_qt.storage.sql import execute

MIRA = "remember that my sister's name is Mira"


@pytest.fixture(autouse=True)
def _no_keyring() -> Iterator[None]:
    with no_keyring():
        yield


@pytest.fixture
def paths(tmp_path: Path) -> AppPaths:
    return resolve_paths(tmp_path / "home")


def open_companion(
    paths: AppPaths, *, load_model: bool = True, wrap_router: Callable[[Router], RouterPort] | None = None
) -> Companion:
    return Companion.open(
        paths, allow_key_file=True, install_guard=False, load_model=load_model, wrap_router=wrap_router
    )


class RecordingRouter(WrappedPlan):
    """The real router, remembering every request it was asked to answer."""

    def __init__(self) -> None:
        self.inner: RouterPort | None = None
        self.requests: list[GenerationRequest] = []

    def wrap(self, inner: RouterPort) -> RecordingRouter:
        """The ``wrap_router`` of :meth:`Companion.open`: answer through ``inner``."""
        self.inner = inner
        return self

    def model_ready(self) -> bool:
        assert self.inner is not None
        return self.inner.model_ready()

    def answer(
        self,
        request: GenerationRequest,
        category: str,
        on_token: TokenSink,
        cancel: threading.Event,
        **kw: Any,
    ) -> tuple[Route, GenerationResult]:
        assert self.inner is not None
        self.requests.append(request)
        return self.inner.answer(request, category, on_token, cancel, **kw)


def audit_rows(comp: Companion, capability: str) -> list[tuple[str, str, str]]:
    assert comp.runtime.audit is not None
    return [
        (row.decision, row.resource, row.actor)
        for row in comp.runtime.audit.rows()
        if row.capability == capability
    ]


def fts_hits(comp: Companion, word: str) -> list[int]:
    rows = execute(comp.runtime.database, "SELECT rowid FROM memory_fts WHERE memory_fts MATCH ?", (word,))
    return [int(r[0]) for r in rows.fetchall()]


def test_a_remembered_fact_is_recalled_with_provenance_after_a_restart(paths: AppPaths) -> None:
    with open_companion(paths) as comp:
        report = comp.conductor.run_turn(MIRA)
        assert report is not None and report.outcome == "Answered", report
        assert "Mira" in report.reply
        assert comp.memory is not None
        [item] = comp.memory.list_items()
        assert item.text == "my sister's name is Mira"
        assert item.provenance.source == "user_confirmed" and item.provenance.turn_id == report.turn_id
        assert item.confidence == pytest.approx(0.95)
        # the decision is audited, and the log names the act, not the words
        assert audit_rows(comp, "memory.write.durable") == [("allow", "memory:fact", "aether")]
        assert item.provenance.audit_id == report.audit_id

    recording = RecordingRouter()
    with open_companion(paths, wrap_router=recording.wrap) as comp:  # quit and start again
        assert recording.inner is comp.router  # the conductor answers through the real router
        report = comp.conductor.run_turn("what's my sister's name?")
        assert report is not None and report.outcome == "Answered", report
        [hit] = [h for h in report.recalled if "Mira" in h["text"]]
        assert hit["source"] == "user_confirmed" and hit["trust"] == "user_confirmed"
        # the fact answers it: no model is asked, the reply gives the fact and its source
        assert report.route["provider"] == "memory" and report.route["tier"] == "reflex"
        assert report.reply.startswith("Mira — you told me on ") and not recording.requests
        # a question the fact does not answer goes to the model, with the memory fenced as data
        report = comp.conductor.run_turn("say something kind about my sister")
        assert report is not None and report.outcome == "Answered", report
        [request] = recording.requests
        prompt = build_prompt(request)
        assert 'trust="user_confirmed"' in prompt.turn and "my sister's name is Mira" in prompt.turn
        assert prompt.turn.index("Mira") < prompt.turn.index("say something kind about my sister")
        assert audit_rows(comp, "memory.read")[-1][0] == "allow"


def test_forget_tombstones_at_once_and_purge_erases_text_and_vector(paths: AppPaths) -> None:
    with open_companion(paths, load_model=False) as comp:
        memory = comp.memory
        assert memory is not None and memory.index is not None
        comp.conductor.run_turn(MIRA)
        comp.conductor.run_turn("remember that I like green tea")
        [mira] = [i for i in memory.list_items() if "Mira" in i.text]
        assert fts_hits(comp, "mira") == [mira.seq]
        assert mira.seq in [seq for seq, _ in memory.index.search(_vector(memory, mira.text), 5)]

        report = comp.conductor.run_turn("forget my sister's name")
        assert report is not None and report.outcome == "Answered" and "Mira" in report.reply
        assert memory.get(mira.id) is None
        assert [h.item_id for h in memory.search("sister Mira").hits if h.item_id == mira.id] == []
        assert fts_hits(comp, "mira") == []
        assert mira.seq not in [seq for seq, _ in memory.index.search(_vector(memory, mira.text), 5)]
        assert [i.text for i in memory.list_items()] == ["I like green tea"]  # the other memory stays
        assert audit_rows(comp, "memory.delete") == [("allow", "memory:topic", "aether")]

        text, embedding = _row(comp, mira.id)
        assert "Mira" in text and embedding is not None  # tombstoned, not yet purged
        assert memory.maintain(grace_s=0.0) == (0, 1)
        text, embedding = _row(comp, mira.id)
        assert text == "" and embedding is None


def test_observer_keeps_no_durable_memory_and_assistant_does(paths: AppPaths) -> None:
    with open_companion(paths, load_model=False) as comp:
        assert comp.memory is not None
        comp.runtime.set_preset(Preset.OBSERVER)
        report = comp.conductor.run_turn("remember that my car is red")
        assert report is not None and report.outcome == "Denied" and report.reply == REPLY_MEMORY_DRAFT
        assert comp.memory.list_items() == []
        assert audit_rows(comp, "memory.write.durable") == [("draft", "memory:fact", "aether")]

        comp.runtime.set_preset(Preset.ASSISTANT)
        report = comp.conductor.run_turn("remember that my car is red")
        assert report is not None and report.outcome == "Answered"
        assert [i.text for i in comp.memory.list_items()] == ["my car is red"]
        assert audit_rows(comp, "memory.write.durable")[-1] == ("allow", "memory:fact", "aether")


def test_a_contradiction_is_kept_and_flagged(paths: AppPaths) -> None:
    with open_companion(paths, load_model=False) as comp:
        assert comp.memory is not None
        comp.conductor.run_turn("remember that my favourite colour is blue")
        report = comp.conductor.run_turn("remember that my favourite colour is green")
        assert report is not None and "contradicts" in report.reply and "blue" in report.reply
        items = comp.memory.list_items()
        assert sorted(i.text for i in items) == [
            "my favourite colour is blue",
            "my favourite colour is green",
        ]
        [green] = [i for i in items if "green" in i.text]
        [blue] = [i for i in items if "blue" in i.text]
        assert green.contradicts == blue.id


@pytest.mark.parametrize("damage", ["deleted", "corrupted"])
def test_a_lost_or_damaged_index_is_rebuilt_and_recall_still_works(paths: AppPaths, damage: str) -> None:
    with open_companion(paths, load_model=False) as comp:
        comp.conductor.run_turn(MIRA)
    index_file = paths.cache_dir / INDEX_FILE
    assert index_file.is_file()
    if damage == "deleted":
        index_file.unlink()
    else:
        index_file.write_bytes(b"\x00garbage" * 100)
    with open_companion(paths, load_model=False) as comp:
        assert comp.memory is not None and comp.memory.index is not None
        expected = "missing" if damage == "deleted" else "unsealable"  # the file is sealed with the data key
        assert comp.memory.index.last_load.startswith(f"rebuilt ({expected}")
        assert comp.memory.status.state == "ready"
        hits = comp.memory.search("who is my sibling?").hits  # no shared word: found by meaning
        assert hits and "Mira" in hits[0].text and hits[0].parts.vector_rank == 1


def test_without_the_embedding_model_recall_falls_back_to_text_search(
    paths: AppPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_companion(paths, load_model=False) as comp:
        comp.conductor.run_turn(MIRA)
    monkeypatch.setenv("AETHER_NO_EMBEDDER", "1")
    with open_companion(paths, load_model=False) as comp:
        assert comp.memory is not None
        status = comp.memory.status
        assert status.state == "fts_only" and "text search only" in status.message
        result = comp.memory.search("my sister")
        assert result.fts_only and [h.text for h in result.hits] == ["my sister's name is Mira"]


def _vector(memory: MemoryService, text: str) -> npt.NDArray[np.float32]:
    assert memory.embedder is not None
    return memory.embedder.embed([text])[0]


def _row(comp: Companion, item_id: str) -> tuple[str, bytes | None]:
    row = execute(
        comp.runtime.database, "SELECT text, embedding FROM memory_items WHERE id = ?", (item_id,)
    ).fetchone()
    return str(row[0]), row[1]


ASKED_AND_CHATTED = (
    "what is my favourite colour?",
    "remember my favourite colour?",
    "is my favourite colour green?",
    "hi",
    "thanks",
    "how are you",
    "remember thanks",
)


def test_questions_and_small_talk_stay_conversation_episodes_never_facts(paths: AppPaths) -> None:
    from aether_qt.engines.memory.items import Kind
    from aether_qt.widgets.memory.panel import load_listing

    with open_companion(paths, load_model=False) as comp:
        memory = comp.memory
        assert memory is not None
        comp.conductor.run_turn("remember that my favourite colour is green")
        for text in ASKED_AND_CHATTED:
            report = comp.conductor.run_turn(text)
            assert report is not None and report.outcome == "Answered", (text, report)
        kept = memory.list_items()
        assert [(i.kind, i.text) for i in kept if i.kind is not Kind.EPISODE] == [
            (Kind.FACT, "my favourite colour is green")
        ]
        episodes = {i.text for i in kept if i.kind is Kind.EPISODE}
        assert "what is my favourite colour?" in episodes and "hi" not in episodes
        assert all(i.retention == "session" for i in kept if i.kind is Kind.EPISODE)
        # what the memory panel lists by default (its own loader): the fact, not the chat
        assert [i.text for i in load_listing(memory, "", None).items] == ["my favourite colour is green"]
        found = load_listing(memory, "colour", None).items
        assert [i.text for i in found] == ["my favourite colour is green"]
        shown = {i.text for i in load_listing(memory, "", Kind.EPISODE).items}
        assert shown == episodes  # the chat is under its own filter, labelled as conversation


def test_a_memory_recalled_into_a_reply_records_when_it_was_used(paths: AppPaths) -> None:
    with open_companion(paths, load_model=False) as comp:
        memory = comp.memory
        assert memory is not None
        comp.conductor.run_turn("remember that my favourite colour is green")
        comp.conductor.run_turn("remember that the boiler was serviced in May")
        colour, boiler = (item_with_text(memory, t) for t in ("favourite colour", "boiler"))
        assert colour.used_in_reply_at_ms is None and boiler.used_in_reply_at_ms is None
        report = comp.conductor.run_turn("what is my favourite colour?")
        assert report is not None and colour.id in [hit["id"] for hit in report.recalled]
        used = item_with_text(memory, "favourite colour").used_in_reply_at_ms
        assert used is not None and used >= colour.created_at_ms
        assert item_with_text(memory, "boiler").used_in_reply_at_ms is None  # not in that reply

    with open_companion(paths, load_model=False) as comp:  # stored: it survives a restart
        assert comp.memory is not None
        assert item_with_text(comp.memory, "favourite colour").used_in_reply_at_ms == used


def item_with_text(memory: MemoryService, words: str) -> Any:
    [item] = [i for i in memory.list_items() if words in i.text and i.kind.value != "episode"]
    return item
