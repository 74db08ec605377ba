"""Tests for aether_qt/engines/memory/recall.py: fusion, deadline, FTS-only, sanitising, fencing."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from memory_support import HashEmbedder

from aether_qt.core.generation import FencedData
from aether_qt.engines.memory.index import VectorIndex
from aether_qt.engines.memory.items import Kind, PrivacyClass, Provenance
from aether_qt.engines.memory.recall import Recall, as_fenced, fts_query, query_terms
from aether_qt.engines.memory.store import MemoryStore
from aether_qt.policy.contracts import FakeClock
from aether_qt.storage.sql import execute


def _unit(*values: float) -> npt.NDArray[np.float32]:
    v = np.zeros(8, dtype=np.float32)
    v[: len(values)] = values
    return v / np.linalg.norm(v)


class TableEmbedder:
    """Vectors chosen by the test, so lexical and vector matches can be told apart."""

    dim = 8
    model_id = "table"

    def __init__(self, table: dict[str, npt.NDArray[np.float32]]) -> None:
        self.table = table

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> npt.NDArray[np.float32]:
        return np.stack([self.table.get(t, _unit(0, 0, 0, 0, 0, 0, 0, 1)) for t in texts])


class SlowEmbedder(HashEmbedder):
    """Takes ``delay_s`` of real time, or advances the fake clock by ``advance_s`` instead."""

    def __init__(
        self, *, delay_s: float = 0.0, clock: FakeClock | None = None, advance_s: float = 0.0
    ) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.clock = clock
        self.advance_s = advance_s
        self.slow = False

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> npt.NDArray[np.float32]:
        if self.slow:
            if self.delay_s:
                time.sleep(self.delay_s)
            if self.clock is not None:
                self.clock.advance(self.advance_s)
        return super().embed(texts, batch_size=batch_size)


def _wired(
    tmp_path: Path, db: peewee.SqliteDatabase, clock: FakeClock, embedder: HashEmbedder | TableEmbedder
) -> tuple[MemoryStore, VectorIndex, Recall]:
    store = MemoryStore(db, clock=clock, embedder=embedder, session_id="s")
    index = VectorIndex(tmp_path / "memory.faiss", embedder.dim, model_id=embedder.model_id)
    index.load_or_rebuild(store.reader)
    store.attach_index(index)
    return store, index, Recall(store, index, embedder, clock)


@pytest.fixture
def wired(
    tmp_path: Path, db: peewee.SqliteDatabase, clock: FakeClock, embedder: HashEmbedder
) -> Iterator[tuple[MemoryStore, VectorIndex, Recall]]:
    parts = _wired(tmp_path, db, clock, embedder)
    yield parts
    parts[2].close()


def test_item_found_by_both_outranks_items_found_by_one(
    tmp_path: Path, db: peewee.SqliteDatabase, clock: FakeClock
) -> None:
    table = {
        "alpha": _unit(1),
        "alpha one": _unit(1, -0.7),  # lexical and vector match
        "alpha two": _unit(0, 1),  # lexical only (orthogonal vector)
        "beta three": _unit(1, 0.6),  # vector only (the closest vector of all)
    }
    store, _, recall = _wired(tmp_path, db, clock, TableEmbedder(table))
    for text in ("alpha two", "beta three", "alpha one"):
        store.add(text)
    result = recall.recall("alpha")
    recall.close()

    assert result.hits[0].text == "alpha one"
    assert {h.text for h in result.hits} == {"alpha one", "alpha two", "beta three"}
    top = result.hits[0].parts
    assert top.fts_rank > 0 and top.vector_rank > 0
    assert not result.fts_only and not result.timed_out


def test_hits_carry_privacy_and_provenance(wired: tuple[MemoryStore, VectorIndex, Recall]) -> None:
    store, _, recall = wired
    prov = Provenance(
        source="user_said", turn_id="turn-7", audit_id="aud-3", captured_at_ms=1_700_000_000_000
    )
    store.add("my sister's name is Mira", kind=Kind.FACT, privacy=PrivacyClass.SENSITIVE, provenance=prov)
    hit = recall.recall("what's my sister's name?").hits[0]
    assert hit.text == "my sister's name is Mira"
    assert hit.privacy is PrivacyClass.SENSITIVE
    assert hit.provenance == prov
    assert hit.kind is Kind.FACT
    assert hit.confidence == 0.45
    assert hit.score > 0


def test_as_fenced_labels_the_source(wired: tuple[MemoryStore, VectorIndex, Recall]) -> None:
    store, _, recall = wired
    store.add(
        "likes oolong", provenance=Provenance(source="user_confirmed", captured_at_ms=1_700_000_000_000)
    )
    store.add(
        "lives near the river", provenance=Provenance(source="file:/home/u/notes.txt", trust="untrusted")
    )
    fenced = as_fenced(recall.recall("oolong river").hits)
    by_text = {f.text: f for f in fenced}
    assert by_text["likes oolong"] == FencedData(
        source="memory:user_confirmed (2023-11-14, untrusted)", text="likes oolong", trust="user_confirmed"
    )
    assert by_text["lives near the river"].source.startswith("memory:file:/home/u/notes.txt (")
    assert by_text["lives near the river"].trust == "untrusted"


def test_forgotten_and_expired_items_are_never_recalled(
    wired: tuple[MemoryStore, VectorIndex, Recall], clock: FakeClock
) -> None:
    store, index, recall = wired
    gone = store.add("the boat is called Albatross")
    short = store.add("the boat is moored at pier nine", retention="days:1")
    store.forget(gone.id)
    clock.advance(2 * 86_400)  # expired, not swept: still in the vector index
    assert index.count == 1
    assert recall.recall("boat albatross pier").hits == ()
    assert short.id not in [h.item_id for h in recall.recall("pier nine").hits]


def test_fts_only_without_embedder(db: peewee.SqliteDatabase, clock: FakeClock) -> None:
    store = MemoryStore(db, clock=clock, embedder=None, session_id="s")
    store.add("dentist appointment on Monday")
    store.add("buy flowers")
    recall = Recall(store, None, None, clock)
    result = recall.recall("when is the dentist?")
    assert result.fts_only is True
    assert [h.text for h in result.hits] == ["dentist appointment on Monday"]
    assert result.hits[0].parts.vector_rank == 0


def test_deadline_returns_lexical_hits_when_embedding_is_slow(
    tmp_path: Path, db: peewee.SqliteDatabase, clock: FakeClock
) -> None:
    slow = SlowEmbedder(delay_s=0.5)
    store, _, recall = _wired(tmp_path, db, clock, slow)
    store.add("dentist appointment on Monday")
    slow.slow = True
    started = time.perf_counter()
    result = recall.recall("dentist", deadline_ms=50)
    waited = time.perf_counter() - started
    recall.close()
    assert result.timed_out is True
    assert [h.text for h in result.hits] == ["dentist appointment on Monday"]
    assert result.hits[0].parts.vector_rank == 0
    assert waited < 0.4  # did not wait for the embedder


def test_deadline_checked_between_stages(tmp_path: Path, db: peewee.SqliteDatabase, clock: FakeClock) -> None:
    slow = SlowEmbedder(clock=clock, advance_s=0.2)  # "takes" 200 ms on the injected clock
    store, _, recall = _wired(tmp_path, db, clock, slow)
    store.add("dentist appointment on Monday")
    slow.slow = True
    result = recall.recall("dentist", deadline_ms=150)
    recall.close()
    assert result.timed_out is True
    assert result.took_ms >= 200
    assert [h.parts.vector_rank for h in result.hits] == [0]


def test_within_deadline_is_not_timed_out(wired: tuple[MemoryStore, VectorIndex, Recall]) -> None:
    store, _, recall = wired
    store.add("dentist appointment on Monday")
    result = recall.recall("dentist")
    assert result.timed_out is False
    assert result.hits[0].parts.vector_rank == 1


def test_ranking_weights_prefer_confident_salient_recent(
    wired: tuple[MemoryStore, VectorIndex, Recall], clock: FakeClock
) -> None:
    store, _, recall = wired
    old = store.add("tea with Sam", salience=0.1)
    clock.advance(90 * 86_400)
    new = store.add("tea with Sam!", kind=Kind.EPISODE, salience=0.9, provenance=Provenance("user_confirmed"))
    hits = recall.recall("tea with Sam").hits
    assert [h.item_id for h in hits[:2]] == [new.id, old.id]
    assert hits[0].parts.weight > hits[1].parts.weight


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("what's my sister's name?", '"sister" OR "name"'),
        ('x" OR 1=1 --', '"x" OR "1"'),
        ("NEAR(a b) AND c*", '"near" OR "b" OR "c"'),
        ("the of and", '"the" OR "of" OR "and"'),  # only stop words: keep them
        ("", ""),
        ("?!... \"'", ""),
        ("Café crème", '"café" OR "crème"'),
    ],
)
def test_fts_query_sanitises(query: str, expected: str) -> None:
    assert fts_query(query) == expected


def test_query_terms_are_capped() -> None:
    assert len(query_terms(" ".join(f"word{i}" for i in range(100)))) == 32


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(st.text(max_size=60))
def test_any_query_text_never_raises(
    wired: tuple[MemoryStore, VectorIndex, Recall], db: peewee.SqliteDatabase, query: str
) -> None:
    store, _, recall = wired
    if not store.list():
        store.add('a AND b OR NEAR(c) "quoted" col:value ^start *star')
    result = recall.recall(query)
    assert isinstance(result.hits, tuple)
    match = fts_query(query)
    if match:
        execute(db, "SELECT count(*) FROM memory_fts WHERE memory_fts MATCH ?", (match,))


def test_empty_query_returns_nothing(wired: tuple[MemoryStore, VectorIndex, Recall]) -> None:
    store, _, recall = wired
    store.add("anything")
    result = recall.recall("   ")
    assert result.hits == () and not result.timed_out
