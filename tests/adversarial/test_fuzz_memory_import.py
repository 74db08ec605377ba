"""Fuzzing memory import: only ``MemoryImportError`` comes out, and a refused file changes nothing on disk.

The import runs through the public API (``MemoryService.edits.import_file``) on
a real home: real SQLite, the real audit chain, the gate. Inputs are raw bytes
and nearly valid exports (``{"format": 1, "items": [...]}`` or a bare list of
entries shaped like :func:`~aether_qt.engines.memory.export.entry_from_item`'s),
mutated as JSON (a hostile value, a key gone) and as bytes. After a refusal
every file of the home is compared byte for byte with its state before (the
SQLite ``-shm`` index aside: readers write their marks there), and after a
success every entry must be in the store (a repeated one reinforces the
memory it repeats instead of adding another).
"""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fuzz_support import DEEP, dump_json, fuzz, mutated_bytes, mutated_json, nasty_text, tree_digest
from hypothesis import event, example, given
from hypothesis import strategies as st
from keyring_support import key_file_runtime

from aether_qt.core.bus import EventBus
from aether_qt.engines.memory.export import MAX_IMPORT_BYTES
from aether_qt.engines.memory.items import Kind, MemoryImportError, PrivacyClass
from aether_qt.services.memory.service import MemoryService
from aether_qt.storage.cipher import PASSPHRASE_MAGIC

MAX_ITEMS = 1_000_000


def not_shm(path: Path) -> bool:
    """SQLite's shared-memory index changes when anyone reads; it holds no data."""
    return path.name.endswith("-shm")


@st.composite
def entries(draw: st.DrawFn) -> dict[str, Any]:
    """An export entry as ``entry_from_item`` writes it (its strings may be hostile)."""
    text = st.text(min_size=1, max_size=80).filter(str.strip)
    return {
        "id": draw(st.text(max_size=12)),
        "kind": draw(st.sampled_from([k.value for k in Kind])),
        "text": draw(st.one_of(text, nasty_text())),
        "tags": draw(st.text(max_size=12)),
        "privacy_class": draw(st.sampled_from([p.value for p in PrivacyClass])),
        "provenance": {
            "source": draw(st.sampled_from(["user_said", "user_confirmed", "imported", "file:/x"])),
            "turn_id": draw(st.text(max_size=8)),
            "audit_id": draw(st.text(max_size=8)),
            "captured_at_ms": draw(st.integers(0, 2_000_000_000_000)),
            "trust": "trusted",
        },
        "confidence": 0.45,
        "salience": draw(st.floats(0.0, 1.0)),
        "created_at_ms": 1_700_000_000_000,
        "last_used_at_ms": 1_700_000_000_000,
        "retention": draw(st.sampled_from(["forever", "session", "days:30", "days:99999"])),
        "seen_count": 1,
        "contradicts": None,
    }


@st.composite
def export_files(draw: st.DrawFn) -> bytes:
    """A nearly valid export file: entries, wrapped or bare, mutated as JSON and/or as bytes."""
    items = draw(st.lists(entries(), max_size=4))
    doc: Any = {"format": 1, "items": items} if draw(st.booleans()) else items
    if draw(st.booleans()):
        doc = draw(mutated_json(doc))
    raw = draw(st.integers(0, 5)) == 0  # lone surrogates then become invalid UTF-8
    data = dump_json(doc, ascii_only=not raw, depth=draw(st.sampled_from([3, 2_000, 20_000])))
    if draw(st.integers(0, 4)) == 0:
        data = draw(mutated_bytes(data))
    return data


def entry_count(data: bytes) -> int:
    """How many entries a file that imported holds."""
    doc = json.loads(data)
    return len(doc["items"] if isinstance(doc, dict) else doc)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MemoryService, Path, Path]]:
    """(the started memory of a real home, the home, the file to import: outside the home)."""
    root = tmp_path_factory.mktemp("memory-fuzz")
    with key_file_runtime(root / "home") as runtime:
        memory = MemoryService(runtime=runtime, bus=EventBus(), paths=runtime.paths, load_embedder=False)
        memory.start()
        try:
            memory.edits.add("my bicycle is green")  # something that must survive every refusal
            yield memory, root / "home", root / "import.json"
        finally:
            memory.close()


def import_or_refuse(memory: MemoryService, home: Path, file: Path, data: bytes) -> None:
    """Import ``data``: every entry is added, or a ``MemoryImportError`` comes out and nothing changes."""
    file.write_bytes(data)
    before = tree_digest(home, skip=not_shm)
    count = len(memory.list_items(limit=MAX_ITEMS))
    try:
        outcome = memory.edits.import_file(file)
    except MemoryImportError as exc:
        assert exc.reason and (exc.index >= 0 or str(file) in exc.reason), str(exc)
        event(f"refused: {exc.reason.replace(str(file), 'FILE')[:40] if exc.index < 0 else 'an entry'}")
        assert tree_digest(home, skip=not_shm) == before, "a refused import changed the home"
        assert len(memory.list_items(limit=MAX_ITEMS)) == count
        return
    event("imported")
    assert outcome.ok, outcome.summary
    assert len(outcome.items) == entry_count(data)  # one item per entry (a repeat reinforces the first)
    assert all(memory.get(item.id) is not None for item in outcome.items)
    assert count <= len(memory.list_items(limit=MAX_ITEMS)) <= count + len(outcome.items)


@fuzz(100)
@given(data=st.binary(max_size=512))
@example(data=b"[" * 5_000)  # found by this test: RecursionError
def test_any_bytes_import_or_give_a_memory_import_error(
    data: bytes, setup: tuple[MemoryService, Path, Path]
) -> None:
    import_or_refuse(*setup, data)


def one_entry(**changes: Any) -> bytes:
    entry = {"text": "ok", "kind": "note", "privacy_class": "private", **changes}
    return json.dumps([entry]).encode()


@fuzz(100)
@given(data=export_files())
@example(data=one_entry(provenance={"captured_at_ms": 10**30}))  # found by this test: OverflowError
@example(data=one_entry(provenance={"captured_at_ms": 10**17}))  # stored, but `memory show` cannot print it
@example(data=one_entry(text="\ud800"))  # found by this test: UnicodeEncodeError
@example(data=one_entry(tags="\udcff", provenance={"source": "\ud800"}))
@example(data=dump_json({"format": 1, "items": [DEEP]}))
def test_nearly_valid_exports_import_or_change_nothing(
    data: bytes, setup: tuple[MemoryService, Path, Path]
) -> None:
    import_or_refuse(*setup, data)


SEALED_HEAD = PASSPHRASE_MAGIC + bytes(16)  # then the Argon2id costs, 8 bytes each, then the box
COSTS = (3).to_bytes(8, "big") + (256 << 20).to_bytes(8, "big")  # the costs exports are sealed with


@pytest.mark.parametrize(
    ("sealed", "passphrase", "reason"),
    [
        (SEALED_HEAD + COSTS + b"x" * 40, None, "its passphrase is needed"),
        (SEALED_HEAD[:-3], "correct horse", "not a passphrase-sealed Aether file"),
        (SEALED_HEAD + (3).to_bytes(8, "big") + (2**63).to_bytes(8, "big"), "correct horse", "costs outside"),
        (SEALED_HEAD + COSTS + b"x" * 40, "short", "at least 8 characters"),
        (
            SEALED_HEAD + COSTS + b"x" * 40,
            "correct horse \ud800",
            "can.t encode",
        ),
        (SEALED_HEAD + COSTS + b"x" * 40, "correct horse", "wrong passphrase, or the file has been changed"),
    ],
    ids=["no-passphrase", "truncated", "costs", "short-passphrase", "surrogate-passphrase", "garbage"],
)
def test_a_hostile_sealed_export_is_a_memory_import_error(
    setup: tuple[MemoryService, Path, Path], sealed: bytes, passphrase: str | None, reason: str
) -> None:
    memory, home, file = setup
    file.write_bytes(sealed)
    before = tree_digest(home, skip=not_shm)
    with pytest.raises(MemoryImportError, match=reason):
        memory.edits.import_file(file, passphrase=passphrase)
    assert tree_digest(home, skip=not_shm) == before


def test_a_huge_export_is_refused_before_it_is_read(setup: tuple[MemoryService, Path, Path]) -> None:
    memory, home, file = setup
    with file.open("wb") as handle:  # sparse: costs no disk
        handle.truncate(MAX_IMPORT_BYTES + 1)
    before = tree_digest(home, skip=not_shm)
    tracemalloc.start()
    try:
        with pytest.raises(MemoryImportError, match=f"over the {MAX_IMPORT_BYTES} byte cap"):
            memory.edits.import_file(file)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"peak {peak} bytes: the file was read"
    assert tree_digest(home, skip=not_shm) == before
