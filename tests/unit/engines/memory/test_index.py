"""Tests for aether_qt/engines/memory/index.py: faiss index kept in step, persisted, rebuilt."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from memory_support import HashEmbedder

from aether_qt.engines.memory.index import VectorIndex
from aether_qt.engines.memory.store import MemoryStore
from aether_qt.storage.cipher import SEALED_MAGIC, DataKey

TEXTS = [
    "green tea in the morning",
    "the cat sleeps on the sofa",
    "train to Berlin on Friday",
    "jazz records",
]


def _index(tmp_path: Path, embedder: HashEmbedder) -> VectorIndex:
    return VectorIndex(tmp_path / "cache" / "memory.faiss", embedder.dim, model_id=embedder.model_id)


def _filled(tmp_path: Path, store: MemoryStore, embedder: HashEmbedder) -> VectorIndex:
    index = _index(tmp_path, embedder)
    assert index.load_or_rebuild(store.reader) == "rebuilt (missing)"
    store.attach_index(index)
    for text in TEXTS:
        store.add(text)
    index.save()
    return index


def _top(index: VectorIndex, embedder: HashEmbedder, text: str) -> int:
    return index.search(embedder.embed([text])[0], 1)[0][0]


def test_search_finds_the_written_item(tmp_path: Path, store: MemoryStore, embedder: HashEmbedder) -> None:
    index = _filled(tmp_path, store, embedder)
    cat = store.list()[2]
    assert cat.text == "the cat sleeps on the sofa"
    assert _top(index, embedder, "the cat sleeps on the sofa") == cat.seq
    assert index.count == 4
    assert index.kind == "flat"


def test_persisted_index_loads_when_fresh(tmp_path: Path, store: MemoryStore, embedder: HashEmbedder) -> None:
    _filled(tmp_path, store, embedder)
    again = _index(tmp_path, embedder)
    assert again.load_or_rebuild(store.reader) == "loaded"
    assert again.count == 4


def test_missing_file_is_rebuilt(tmp_path: Path, store: MemoryStore, embedder: HashEmbedder) -> None:
    index = _filled(tmp_path, store, embedder)
    index.path.unlink()
    again = _index(tmp_path, embedder)
    seen: list[tuple[int, int]] = []
    outcome = again.load_or_rebuild(store.reader, lambda done, total: seen.append((done, total)))
    assert outcome == "rebuilt (missing)"
    assert again.count == 4
    assert seen[0] == (0, 4) and seen[-1] == (4, 4)
    assert again.path.is_file() and again.sidecar.is_file()


def test_corrupt_file_is_rebuilt(tmp_path: Path, store: MemoryStore, embedder: HashEmbedder) -> None:
    index = _filled(tmp_path, store, embedder)
    index.path.write_bytes(b"this is not a faiss index" * 10)
    again = _index(tmp_path, embedder)
    assert again.load_or_rebuild(store.reader).startswith("rebuilt (corrupt")
    assert again.count == 4
    assert _index(tmp_path, embedder).load_or_rebuild(store.reader) == "loaded"  # the rebuild was persisted


def test_corrupt_sidecar_is_rebuilt(tmp_path: Path, store: MemoryStore, embedder: HashEmbedder) -> None:
    index = _filled(tmp_path, store, embedder)
    index.sidecar.write_text("{not json")
    assert _index(tmp_path, embedder).load_or_rebuild(store.reader).startswith("rebuilt (unreadable sidecar")


@pytest.mark.parametrize(
    "change",
    [{"vector_version": 999}, {"model_id": "another-model"}, {"dim": 3}, {"format": 0}],
)
def test_stale_sidecar_is_rebuilt(
    tmp_path: Path, store: MemoryStore, embedder: HashEmbedder, change: dict[str, object]
) -> None:
    index = _filled(tmp_path, store, embedder)
    meta = json.loads(index.sidecar.read_text())
    index.sidecar.write_text(json.dumps(meta | change))
    assert _index(tmp_path, embedder).load_or_rebuild(store.reader) == "rebuilt (stale)"


def test_write_missed_by_the_index_makes_it_stale(
    tmp_path: Path, store: MemoryStore, embedder: HashEmbedder
) -> None:
    _filled(tmp_path, store, embedder)
    store.attach_index(None)  # e.g. the app crashed before saving the index
    store.add("a write the index never saw")
    again = _index(tmp_path, embedder)
    assert again.load_or_rebuild(store.reader) == "rebuilt (stale)"
    assert again.count == 5


def test_size_mismatch_is_corrupt(tmp_path: Path, store: MemoryStore, embedder: HashEmbedder) -> None:
    index = _filled(tmp_path, store, embedder)
    meta = json.loads(index.sidecar.read_text())
    index.sidecar.write_text(json.dumps(meta | {"count": 99}))
    assert _index(tmp_path, embedder).load_or_rebuild(store.reader) == "rebuilt (corrupt: size mismatch)"


def test_forget_and_purge_remove_vectors(tmp_path: Path, store: MemoryStore, embedder: HashEmbedder) -> None:
    index = _filled(tmp_path, store, embedder)
    cat = next(i for i in store.list() if "cat" in i.text)
    store.forget(cat.id)
    assert index.count == 3
    assert cat.seq not in [s for s, _ in index.search(embedder.embed([cat.text])[0], 10)]
    index.save()
    assert _index(tmp_path, embedder).load_or_rebuild(store.reader) == "loaded"  # forget kept it in sync
    tea = next(i for i in store.list() if "tea" in i.text)
    store.forget(tea.id, now=True)
    rebuilt = _index(tmp_path, embedder)
    rebuilt.discard_files()
    rebuilt.load_or_rebuild(store.reader)
    assert rebuilt.count == 2


def test_hnsw_above_threshold_filters_removed(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = VectorIndex(tmp_path / "m.faiss", 16, model_id="m", hnsw_threshold=100)
    index.build([(np.arange(300, dtype=np.int64), vectors)], total=300)
    assert index.kind == "hnsw"
    assert index.search(vectors[42], 1)[0][0] == 42
    index.remove([42])
    assert 42 not in [s for s, _ in index.search(vectors[42], 5)]
    assert index.count == 299
    with pytest.raises(ValueError, match="rebuild"):
        index.add([42], vectors[42:43])


def test_empty_index_search(tmp_path: Path) -> None:
    index = VectorIndex(tmp_path / "m.faiss", 8)
    assert index.search(np.ones(8, dtype=np.float32), 5) == []
    index.remove([1])  # nothing to remove: no error
    index.save()  # nothing to save
    assert not index.path.exists()


def _sealed(tmp_path: Path, embedder: HashEmbedder, key: DataKey) -> VectorIndex:
    return VectorIndex(
        tmp_path / "cache" / "memory.faiss", embedder.dim, model_id=embedder.model_id, sealer=key
    )


def test_a_sealed_index_holds_no_clear_vector_and_loads_only_with_its_key(
    tmp_path: Path, store: MemoryStore, embedder: HashEmbedder
) -> None:
    key = DataKey.generate(source="keyring")
    index = _sealed(tmp_path, embedder, key)
    assert index.load_or_rebuild(store.reader) == "rebuilt (missing)"
    store.attach_index(index)
    for text in TEXTS:
        store.add(text)
    index.save()
    blob = index.path.read_bytes()
    vector = np.ascontiguousarray(embedder.embed([TEXTS[1]])[0], dtype=np.float32).tobytes()
    assert blob.startswith(SEALED_MAGIC) and vector[:64] not in blob
    again = _sealed(tmp_path, embedder, key)
    assert (
        again.load_or_rebuild(store.reader) == "loaded"
        and _top(again, embedder, TEXTS[1]) == store.list()[2].seq
    )

    other = _sealed(tmp_path, embedder, DataKey.generate(source="keyring"))
    assert other.load_or_rebuild(store.reader).startswith("rebuilt (unsealable")


@pytest.mark.parametrize("where", [0, 40, -1])
def test_a_changed_byte_in_a_sealed_index_is_rebuilt_not_trusted(
    tmp_path: Path, store: MemoryStore, embedder: HashEmbedder, where: int
) -> None:
    key = DataKey.generate(source="keyring")
    index = _sealed(tmp_path, embedder, key)
    index.load_or_rebuild(store.reader)
    store.attach_index(index)
    store.add(TEXTS[0])
    index.save()
    blob = bytearray(index.path.read_bytes())
    blob[where] ^= 0x01
    index.path.write_bytes(bytes(blob))
    assert _sealed(tmp_path, embedder, key).load_or_rebuild(store.reader).startswith("rebuilt (unsealable")


def test_a_clear_index_from_an_older_release_is_replaced_by_a_sealed_one(
    tmp_path: Path, store: MemoryStore, embedder: HashEmbedder
) -> None:
    _filled(tmp_path, store, embedder)  # plain faiss format, as the previous release wrote it
    key = DataKey.generate(source="keyring")
    index = _sealed(tmp_path, embedder, key)
    assert index.load_or_rebuild(store.reader).startswith("rebuilt (unsealable")
    assert index.path.read_bytes().startswith(SEALED_MAGIC) and index.count == 4


def test_a_restored_item_is_found_by_meaning_again(
    tmp_path: Path, store: MemoryStore, embedder: HashEmbedder
) -> None:
    index = _filled(tmp_path, store, embedder)
    cat = store.list()[2]
    store.forget(cat.id)
    assert index.count == 3
    store.restore(cat.id)
    assert index.count == 4
    assert _top(index, embedder, "the cat sleeps on the sofa") == cat.seq
    index.save()
    assert _index(tmp_path, embedder).load_or_rebuild(store.reader) == "loaded"  # in step with the database
