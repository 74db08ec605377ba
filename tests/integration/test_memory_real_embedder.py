"""Memory recall with the real MiniLM embedder (numpy forward pass) end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aether_qt.core.paths import migrations_dir
from aether_qt.engines.memory.index import VectorIndex
from aether_qt.engines.memory.items import Kind, Provenance
from aether_qt.engines.memory.recall import Recall, as_fenced
from aether_qt.engines.memory.store import MemoryStore
from aether_qt.policy.contracts import FakeClock
from aether_qt.storage.database import close_database, open_database

embedder_module = pytest.importorskip(
    "aether_qt.engines.memory.embedder", reason="aether_qt.engines.memory.embedder is not written yet"
)


@pytest.fixture(scope="module")
def real_embedder() -> object:
    try:
        return embedder_module.Embedder.load()
    except embedder_module.EmbedderUnavailable as exc:
        pytest.skip(f"the MiniLM embedder is unavailable: {exc}")


@pytest.fixture
def recall(tmp_path: Path, real_embedder: object) -> Iterator[tuple[MemoryStore, Recall]]:
    db = open_database(tmp_path / "aether.db", migrations=migrations_dir(), backups_dir=tmp_path / "backups")
    clock = FakeClock()
    store = MemoryStore(db, clock=clock, embedder=real_embedder, session_id="s")  # type: ignore[arg-type]
    index = VectorIndex(tmp_path / "memory.faiss", real_embedder.dim, model_id=real_embedder.model_id)  # type: ignore[attr-defined]
    index.load_or_rebuild(store.reader)
    store.attach_index(index)
    engine = Recall(store, index, real_embedder, clock)  # type: ignore[arg-type]
    yield store, engine
    engine.close()
    close_database(db)


def test_sister_name_is_recalled_first(recall: tuple[MemoryStore, Recall]) -> None:
    store, engine = recall
    for text in (
        "I had pasta for dinner yesterday",
        "my brother lives in Lisbon",
        "I need to renew my passport in March",
        "my favourite band is Radiohead",
        "my sister's name is Mira",
        "we adopted a cat called Pixel",
    ):
        store.add(text, kind=Kind.FACT, provenance=Provenance(source="user_said", turn_id="t"))

    result = engine.recall("what's my sister's name?", deadline_ms=5000)

    assert result.hits[0].text == "my sister's name is Mira"
    assert result.hits[0].parts.vector_rank == 1
    assert not result.fts_only
    assert as_fenced(result.hits[:1])[0].source.startswith("memory:user_said (")


def test_paraphrase_is_a_near_duplicate(recall: tuple[MemoryStore, Recall]) -> None:
    store, _ = recall
    first = store.add("My sister's name is Mira.", kind=Kind.FACT)
    again = store.add("my sister's name is Mira", kind=Kind.FACT)
    other = store.add("My sister's name is Nora.", kind=Kind.FACT)
    assert again.id == first.id and again.seen_count == 2
    assert other.id != first.id and other.contradicts == first.id
