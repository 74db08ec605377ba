"""Tests for aether_qt/engines/memory/store.py on a real, migrated SQLite database."""

from __future__ import annotations

import peewee
import pytest
from memory_support import HashEmbedder

from aether_qt.engines.memory.items import (
    Kind,
    MemoryImportError,
    PrivacyClass,
    Provenance,
    UnknownMemoryError,
    claim_of,
)
from aether_qt.engines.memory.store import MemoryStore, entries_from_json
from aether_qt.policy.contracts import FakeClock
from aether_qt.storage.sql import execute


def _fts_rows(db: peewee.SqliteDatabase, word: str) -> list[int]:
    """Row ids the FTS table itself returns for ``word`` (bypassing every store filter)."""
    return [r[0] for r in execute(db, "SELECT rowid FROM memory_fts WHERE memory_fts MATCH ?", (word,))]


def _raw(db: peewee.SqliteDatabase, item_id: str) -> tuple[object, ...]:
    return tuple(
        execute(
            db,
            "SELECT text, embedding, purged, tombstoned_at_ms, tags FROM memory_items WHERE id = ?",
            (item_id,),
        ).fetchone()
    )


def test_add_get_list(store: MemoryStore) -> None:
    prov = Provenance(source="user_said", turn_id="t1", audit_id="a1", captured_at_ms=123, trust="trusted")
    fact = store.add("Mira plays the cello", kind=Kind.FACT, provenance=prov, privacy=PrivacyClass.SENSITIVE)
    note = store.add("buy oat milk", kind=Kind.NOTE)

    got = store.get(fact.id)
    assert got is not None
    assert got.text == "Mira plays the cello"
    assert got.provenance == prov
    assert got.privacy is PrivacyClass.SENSITIVE
    assert got.confidence == 0.45
    assert got.seen_count == 1
    assert [i.id for i in store.list()] == [note.id, fact.id]
    assert [i.id for i in store.list(Kind.FACT)] == [fact.id]
    assert store.get("nope") is None


def test_add_rejects_bad_drafts(store: MemoryStore) -> None:
    with pytest.raises(ValueError, match="empty"):
        store.add("   ")
    with pytest.raises(ValueError, match="retention"):
        store.add("x", retention="weeks:2")
    with pytest.raises(ValueError, match="source"):
        store.add("x", provenance=Provenance(source="somebody"))
    assert store.list() == []


def test_exact_duplicate_reinforces(store: MemoryStore, clock: FakeClock) -> None:
    first = store.add("I love green tea", kind=Kind.PREFERENCE)
    clock.advance(60)
    second = store.add("i love green tea", kind=Kind.PREFERENCE, privacy=PrivacyClass.SENSITIVE)
    third = store.add("I love green tea", kind=Kind.PREFERENCE)

    assert first.id == second.id == third.id
    assert third.seen_count == 3
    assert third.confidence == 0.8  # seen 3+ times
    assert third.privacy is PrivacyClass.SENSITIVE  # never less private
    assert third.last_used_at_ms == first.last_used_at_ms + 60_000
    assert len(store.list()) == 1


def test_near_duplicate_reinforces_but_other_kinds_and_far_texts_do_not(store: MemoryStore) -> None:
    first = store.add("I love green tea", kind=Kind.PREFERENCE)
    near = store.add("I love green tea!", kind=Kind.PREFERENCE)  # same words: cosine 1.0
    other_kind = store.add("I love green tea!", kind=Kind.NOTE)
    far = store.add("I love green tea in the garden every morning", kind=Kind.PREFERENCE)

    assert near.id == first.id and near.seen_count == 2
    assert other_kind.id != first.id
    assert far.id != first.id
    assert len(store.list()) == 3


def test_user_confirmed_reinforcement_raises_confidence(store: MemoryStore) -> None:
    store.add("my bike is red", kind=Kind.FACT)
    again = store.add("my bike is red", kind=Kind.FACT, provenance=Provenance(source="user_confirmed"))
    assert again.confidence == 0.95


def test_assistant_inferred_starts_low(store: MemoryStore) -> None:
    item = store.add("user seems to like jazz", provenance=Provenance(source="assistant_said"))
    assert item.confidence == 0.3


def test_contradiction_is_stored_and_flagged(store: MemoryStore) -> None:
    mira = store.add("My sister's name is Mira", kind=Kind.FACT)
    nora = store.add("my sister's name is Nora.", kind=Kind.FACT)

    assert nora.id != mira.id
    assert nora.contradicts == mira.id
    assert mira.contradicts is None
    assert {i.id for i in store.list()} == {mira.id, nora.id}  # kept, not resolved


class _SameVector(HashEmbedder):
    """Every text gets the same vector: everything looks like a near duplicate."""

    def embed(self, texts, *, batch_size=32):  # type: ignore[no-untyped-def]
        out = super().embed(["same"] * len(texts))
        return out


def test_contradiction_beats_near_duplicate(db: peewee.SqliteDatabase, clock: FakeClock) -> None:
    store = MemoryStore(db, clock=clock, embedder=_SameVector(), session_id="s")
    mira = store.add("my sister's name is Mira", kind=Kind.FACT)
    nora = store.add("my sister's name is Nora", kind=Kind.FACT)
    assert nora.id != mira.id and nora.contradicts == mira.id
    unrelated = store.add("the sky is blue", kind=Kind.FACT)  # no claim: near-duplicate reinforces
    assert unrelated.id in {mira.id, nora.id}


def test_claim_of_normalises() -> None:
    assert claim_of("My sister\u2019s name is Mira!") == ("sister name", "mira")
    assert claim_of("I live in Berlin") == ("live in", "berlin")
    assert claim_of("I'm 34 years old") == ("years old", "34")
    assert claim_of("the weather is nice") is None


def test_forget_hides_everywhere_at_once(store: MemoryStore, db: peewee.SqliteDatabase) -> None:
    item = store.add("the boat is called Albatross")
    assert _fts_rows(db, "albatross") == [item.seq]

    assert store.forget(item.id) is True

    assert store.get(item.id) is None
    assert store.list() == []
    assert _fts_rows(db, "albatross") == []  # gone from the FTS table itself
    assert store.export() == []
    text, embedding, purged, tombstoned, _ = _raw(db, item.id)
    assert text == "the boat is called Albatross" and embedding is not None and purged == 0  # grace period
    assert tombstoned is not None
    assert store.forget(item.id) is False  # idempotent
    with pytest.raises(UnknownMemoryError):
        store.edit_text(item.id, "x")


def test_purge_after_grace_period(store: MemoryStore, db: peewee.SqliteDatabase, clock: FakeClock) -> None:
    item = store.add("secret plan", tags="extra words")
    store.forget(item.id)
    assert store.purge(grace_s=3600) == 0
    clock.advance(3601)
    assert store.purge(grace_s=3600) == 1
    assert _raw(db, item.id)[:3] == ("", None, 1)
    assert _raw(db, item.id)[4] == ""
    assert store.purge(grace_s=3600) == 0


def test_forget_now_purges_at_once(store: MemoryStore, db: peewee.SqliteDatabase) -> None:
    item = store.add("delete me right away")
    assert store.forget(item.id, now=True) is True
    assert _raw(db, item.id)[:3] == ("", None, 1)
    assert _fts_rows(db, "delete") == []


def test_a_forgotten_text_can_be_remembered_again(store: MemoryStore) -> None:
    old = store.add("I love green tea", kind=Kind.PREFERENCE)
    store.forget(old.id)
    new = store.add("I love green tea", kind=Kind.PREFERENCE)
    assert new.id != old.id and new.seen_count == 1


def test_edit_text_reembeds_and_reindexes(
    store: MemoryStore, db: peewee.SqliteDatabase, embedder: HashEmbedder
) -> None:
    item = store.add("meeting on tuesday")
    edited = store.edit_text(item.id, "meeting on thursday")
    assert edited.text == "meeting on thursday"
    assert _fts_rows(db, "tuesday") == [] and _fts_rows(db, "thursday") == [item.seq]
    blob = _raw(db, item.id)[1]
    assert isinstance(blob, bytes)
    assert blob == embedder.embed(["meeting on thursday"])[0].tobytes()


def test_set_privacy(store: MemoryStore) -> None:
    item = store.add("blood type is 0+")
    assert store.set_privacy(item.id, PrivacyClass.SENSITIVE).privacy is PrivacyClass.SENSITIVE
    with pytest.raises(UnknownMemoryError):
        store.set_privacy("missing", PrivacyClass.PUBLIC)


def test_mark_used(store: MemoryStore, clock: FakeClock) -> None:
    item = store.add("x marks the spot")
    clock.advance(10)
    store.mark_used([item.id])
    got = store.get(item.id)
    assert got is not None and got.last_used_at_ms == item.last_used_at_ms + 10_000


def test_without_embedder_text_only(db: peewee.SqliteDatabase, clock: FakeClock) -> None:
    store = MemoryStore(db, clock=clock, embedder=None, session_id="s")
    a = store.add("Plain text memory")
    b = store.add("plain TEXT memory")
    assert a.id == b.id and b.seen_count == 2
    assert store.model_id == ""


def test_export_import_round_trip(store: MemoryStore, db: peewee.SqliteDatabase, clock: FakeClock) -> None:
    store.add("my cat is called Pixel", kind=Kind.FACT, privacy=PrivacyClass.PRIVATE, salience=0.9)
    store.add("likes rainy days", kind=Kind.PREFERENCE, retention="days:30")
    exported = store.export()
    assert [e["text"] for e in exported] == ["my cat is called Pixel", "likes rainy days"]

    other = MemoryStore(db, clock=clock, embedder=HashEmbedder(), session_id="s2")
    for item in store.list():
        store.forget(item.id)
    imported = other.import_items(entries_from_json({"items": exported}))

    assert [i.text for i in imported] == ["my cat is called Pixel", "likes rainy days"]
    assert imported[0].provenance.source == "imported"
    assert imported[0].provenance.trust == "untrusted"
    assert "imported-from:user_said" in imported[0].tags
    assert imported[0].salience == 0.9
    assert imported[1].retention == "days:30"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"id": "bad1", "kind": "rumour", "text": "x", "privacy_class": "private"}, "rumour"),
        ({"id": "bad1", "kind": "fact", "text": "", "privacy_class": "private"}, "empty"),
        ({"id": "bad1", "kind": "fact", "text": "x", "privacy_class": "secret"}, "secret"),
        ({"id": "bad1", "kind": "fact", "text": "x", "privacy_class": "private", "salience": 7}, "salience"),
        (
            {"id": "bad1", "kind": "fact", "text": "x", "privacy_class": "private", "retention": "soon"},
            "retention",
        ),
        ({"id": "bad1", "kind": "fact", "text": 5, "privacy_class": "private"}, "text"),
        (
            {"id": "bad1", "kind": "fact", "text": "x", "privacy_class": "private", "provenance": []},
            "provenance",
        ),
    ],
)
def test_import_rejects_the_whole_file(store: MemoryStore, bad: dict[str, object], reason: str) -> None:
    good = {"id": "ok", "kind": "fact", "text": "fine entry", "privacy_class": "public"}
    with pytest.raises(MemoryImportError, match=reason) as caught:
        store.import_items([good, good | {"text": "second fine"}, bad])
    assert caught.value.index == 2
    assert caught.value.item_id == "bad1"
    assert "entry 2 (id bad1)" in str(caught.value)
    assert store.list() == []


def test_import_rejects_a_non_object(store: MemoryStore) -> None:
    with pytest.raises(MemoryImportError, match="entry 0"):
        store.import_items(["just a string"])
    with pytest.raises(ValueError, match="list of items"):
        entries_from_json({"nope": 1})


def test_import_failing_midway_writes_nothing(store: MemoryStore, db: peewee.SqliteDatabase) -> None:
    entries = [{"kind": "fact", "text": f"entry {i}", "privacy_class": "private"} for i in range(3)]
    execute(  # the third insert fails inside the transaction, as a full disk would
        db,
        "CREATE TEMP TRIGGER third_insert_fails BEFORE INSERT ON main.memory_items "
        "WHEN (SELECT count(*) FROM main.memory_items) >= 2 "
        "BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
    )
    with pytest.raises(peewee.IntegrityError, match="injected failure"):
        store.import_items(entries)
    assert execute(db, "SELECT count(*) FROM memory_items").fetchone()[0] == 0
    assert _fts_rows(db, "entry") == []


def test_restore_brings_a_forgotten_item_back_exactly(store: MemoryStore, db: peewee.SqliteDatabase) -> None:
    item = store.add(
        "the boat is called Albatross",
        kind=Kind.FACT,
        privacy=PrivacyClass.SENSITIVE,
        provenance=Provenance(source="user_confirmed", turn_id="t7", audit_id="a7", trust="user_confirmed"),
        tags="sailing",
    )
    store.forget(item.id)
    assert [f.id for f in store.forgotten([item.id, "no-such-id"])] == [item.id]
    restored = store.restore(item.id)
    assert restored == item  # text, kind, privacy, provenance, tags, times: all as they were
    assert store.get(item.id) == item
    assert _fts_rows(db, "albatross") == [item.seq]
    assert store.forgotten([item.id]) == []
    with pytest.raises(UnknownMemoryError):
        store.restore(item.id)  # live already: nothing to restore


def test_a_purged_item_cannot_be_restored(store: MemoryStore, clock: FakeClock) -> None:
    item = store.add("secret plan")
    store.forget(item.id)
    clock.advance(3601)
    store.purge(grace_s=3600)
    assert store.forgotten([item.id]) == []
    with pytest.raises(UnknownMemoryError):
        store.restore(item.id)
    assert store.get(item.id) is None


def test_use_in_a_reply_is_recorded_and_kept(
    store: MemoryStore, db: peewee.SqliteDatabase, clock: FakeClock
) -> None:
    item = store.add("my dog is called Biscuit")
    other = store.add("the boiler was serviced in May")
    assert item.used_in_reply_at_ms is None  # never used yet
    clock.advance(60)
    store.mark_used([item.id])
    used = store.get(item.id)
    assert used is not None and used.used_in_reply_at_ms == clock.wall_ms()
    assert store.get(other.id).used_in_reply_at_ms is None  # type: ignore[union-attr]
    store.forget(item.id)
    assert store.restore(item.id).used_in_reply_at_ms == clock.wall_ms()  # an undone forget keeps it
    query = "SELECT used_in_reply_at_ms FROM memory_items WHERE id = ?"
    [(stored,)] = execute(db, query, (item.id,)).fetchall()
    assert stored == clock.wall_ms()
