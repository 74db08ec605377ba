"""The memory store: SQLite rows are the truth (DESIGN.md §6).

Writes reinforce exact and near duplicates (cosine > 0.92, same kind) instead
of duplicating, flag simple contradictions ("my X is Y" vs "my X is Z")
without resolving them, and keep an attached :class:`VectorIndex` in step.
Every read hides tombstoned, expired and other-session items, whether or not
the sweep has run. The store is used from one thread (the memory engine's);
the gate has already allowed each write (``memory.write.*``) before it gets here.
"""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import peewee

from aether_qt.engines.memory import retention as ret
from aether_qt.engines.memory.export import draft_from_entry, entry_from_item
from aether_qt.engines.memory.items import (
    Kind,
    MemoryDraft,
    MemoryItem,
    PrivacyClass,
    Provenance,
    TextEmbedder,
    UnknownMemoryError,
    claim_of,
    confidence_for,
    is_valid_source,
    stricter_privacy,
)
from aether_qt.engines.memory.rows import COLUMNS, MemoryReader, item_from_row
from aether_qt.policy.contracts import Clock
from aether_qt.storage.sql import execute

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from aether_qt.engines.memory.index import VectorIndex

    Vector = npt.NDArray[np.float32]

NEAR_DUPLICATE = 0.92


def validate_draft(draft: MemoryDraft) -> None:
    """Check a draft before anything is written.

    Raises:
        ValueError: empty text, unknown kind/privacy/source, bad retention or salience.
    """
    if not draft.text.strip():
        raise ValueError("text is empty")
    Kind(draft.kind)
    PrivacyClass(draft.privacy)
    if not is_valid_source(draft.provenance.source):
        raise ValueError(f"unknown provenance source {draft.provenance.source!r}")
    ret.parse_retention(draft.retention)
    if not 0.0 <= draft.salience <= 1.0:
        raise ValueError(f"salience must be within 0..1, not {draft.salience}")


class MemoryStore:
    """Memory items in the app database.

    Args:
        database: the app database, migrated to 0004 or later.
        clock: wall time for timestamps, expiry and the grace period.
        embedder: computes vectors; ``None`` stores text only (FTS-only recall).
        session_id: identifies this run for ``session`` retention (default: a new one).
    """

    def __init__(
        self,
        database: peewee.SqliteDatabase,
        *,
        clock: Clock,
        embedder: TextEmbedder | None,
        session_id: str | None = None,
    ) -> None:
        self._db = database
        self._clock = clock
        self._embedder = embedder
        self._index: VectorIndex | None = None
        self.reader = MemoryReader(database, session_id=session_id or uuid.uuid4().hex)

    @property
    def embedder(self) -> TextEmbedder | None:
        """The embedder, or ``None`` when memory runs text-only."""
        return self._embedder

    @property
    def model_id(self) -> str:
        """The embedder's model id ('' without an embedder)."""
        return "" if self._embedder is None else self._embedder.model_id

    @property
    def session_id(self) -> str:
        """This run's session id."""
        return self.reader.session_id

    def attach_index(self, index: VectorIndex | None) -> None:
        """Keep ``index`` in step with every write from now on (``None`` detaches)."""
        self._index = index

    # ------------------------------------------------------------------ reads

    def get(self, item_id: str) -> MemoryItem | None:
        """The live item with ``item_id``; ``None`` when unknown, forgotten or expired."""
        return self.reader.by_id(item_id, self._clock.wall_ms())

    def list(
        self, kind: Kind | None = None, *, limit: int = 1000, offset: int = 0
    ) -> builtins.list[MemoryItem]:
        """Live items, newest first, optionally of one ``kind``."""
        return self.reader.listing(kind, self._clock.wall_ms(), limit=limit, offset=offset)

    def export(self) -> builtins.list[dict[str, Any]]:
        """Every live item as a JSON-ready dict (no vectors: they are recomputed on import)."""
        items: builtins.list[MemoryItem] = []
        offset = 0
        while batch := self.list(limit=1000, offset=offset):
            items.extend(batch)
            offset += len(batch)
        return [entry_from_item(item) for item in reversed(items)]

    # ----------------------------------------------------------------- writes

    def add(
        self,
        text: str,
        *,
        kind: Kind = Kind.NOTE,
        privacy: PrivacyClass = PrivacyClass.PRIVATE,
        provenance: Provenance | None = None,
        retention: str = "forever",
        salience: float = 0.5,
        tags: str = "",
    ) -> MemoryItem:
        """Remember ``text``, or reinforce the duplicate already stored; return the stored item.

        Raises:
            ValueError: the draft is invalid (nothing written).
        """
        draft = MemoryDraft(
            text=text,
            kind=kind,
            privacy=privacy,
            provenance=provenance or Provenance(source="user_said"),
            retention=retention,
            salience=salience,
            tags=tags,
        )
        return self.add_many([draft])[0]

    def add_many(self, drafts: Sequence[MemoryDraft]) -> builtins.list[MemoryItem]:
        """Write several drafts in one transaction (vectors computed in one batch).

        Each draft reinforces a duplicate (also one earlier in the same batch)
        or becomes a new item. All or nothing: on any error nothing is written.

        Raises:
            ValueError: a draft is invalid (nothing written).
        """
        for draft in drafts:
            validate_draft(draft)
        vectors = self._embed([d.text for d in drafts])
        now = self._clock.wall_ms()
        added: builtins.list[int] = []
        results: builtins.list[MemoryItem] = []
        try:
            with self._db.atomic():
                for i, draft in enumerate(drafts):
                    vector = None if vectors is None else vectors[i]
                    item, is_new = self._write_one(draft, vector, now)
                    if is_new and vector is not None and self._index is not None:
                        self._index.add([item.seq], vector[None, :])
                        added.append(item.seq)
                    results.append(item)
        except BaseException:
            if added and self._index is not None:
                self._index.remove(added)
            raise
        self._synced()
        return results

    def import_items(self, entries: Sequence[object]) -> builtins.list[MemoryItem]:
        """Import exported entries in one transaction; a malformed entry rejects the whole file.

        Imported items keep their text, kind, privacy, retention and salience; their
        provenance becomes ``imported`` (trust ``untrusted``) with the original
        source kept in the tags.

        Raises:
            MemoryImportError: names the first bad entry by index and id; nothing written.
        """
        drafts = [draft_from_entry(i, entry, now_ms=self._clock.wall_ms()) for i, entry in enumerate(entries)]
        return self.add_many(drafts)

    def edit_text(self, item_id: str, text: str) -> MemoryItem:
        """Correct an item's text (re-embedded, re-indexed); provenance is kept.

        Raises:
            UnknownMemoryError: no live item has this id.
            ValueError: the new text is empty.
        """
        if not text.strip():
            raise ValueError("text is empty")
        item = self._require(item_id)
        vectors = self._embed([text])
        claim = claim_of(text)
        blob = None if vectors is None else vectors[0].tobytes()
        execute(
            self._db,
            "UPDATE memory_items SET text = ?, claim_key = ?, embedding = ?, embedding_model = ?, "
            "last_used_at_ms = ? WHERE seq = ?",
            (text, None if claim is None else claim[0], blob, self.model_id, self._clock.wall_ms(), item.seq),
        )
        if self._index is not None:
            self._index.remove([item.seq])
            if vectors is not None:
                self._index.add([item.seq], vectors)
        self._synced()
        return self._require(item_id)

    def set_privacy(self, item_id: str, privacy: PrivacyClass) -> MemoryItem:
        """Change an item's privacy class (the user corrects it).

        Raises:
            UnknownMemoryError: no live item has this id.
        """
        item = self._require(item_id)
        execute(
            self._db,
            "UPDATE memory_items SET privacy_class = ? WHERE seq = ?",
            (PrivacyClass(privacy).value, item.seq),
        )
        return self._require(item_id)

    def mark_used(self, item_ids: Sequence[str]) -> None:
        """Record that these items were put into a reply's prompt (recency for ranking, and for the user).

        One transaction: after a crash either every item shows this use or none does.
        """
        now = self._clock.wall_ms()
        with self._db.atomic():
            for item_id in item_ids:
                execute(
                    self._db,
                    "UPDATE memory_items SET last_used_at_ms = ?, used_in_reply_at_ms = ? WHERE id = ?",
                    (now, now, item_id),
                )

    def forget(self, item_id: str, *, now: bool = False) -> bool:
        """Tombstone an item at once: hidden from every read and gone from FTS and the vector index.

        With ``now=True`` ("forget now") its text and vector are purged too,
        instead of after the grace period. Returns whether an item was forgotten.
        """
        return bool(self.forget_many([item_id], now=now))

    def forget_many(self, item_ids: Sequence[str], *, now: bool = False) -> builtins.list[str]:
        """Forget several items in one transaction (see :meth:`forget`); return the ids forgotten.

        One transaction, so a crash leaves every item as it was or every item
        forgotten (and, with ``now``, erased): never tombstoned with its words kept,
        which a later "forget now" could no longer reach.
        """
        forgotten: builtins.list[tuple[int, str]] = []
        with self._db.atomic():
            for item_id in item_ids:
                forgotten += execute(
                    self._db,
                    "UPDATE memory_items SET tombstoned_at_ms = ? WHERE id = ? AND tombstoned_at_ms IS NULL "
                    "RETURNING seq, id",
                    (self._clock.wall_ms(), item_id),
                ).fetchall()
                if now:
                    self._purge_where("id = ?", (item_id,))
        if forgotten and self._index is not None:
            self._index.remove([int(seq) for seq, _ in forgotten])
        self._synced()
        return [str(item_id) for _, item_id in forgotten]

    def forgotten(self, item_ids: Sequence[str]) -> builtins.list[MemoryItem]:
        """Those of ``item_ids`` that are forgotten and can still be restored (not purged, not expired)."""
        return self.reader.restorable(item_ids, self._clock.wall_ms())

    def restore(self, item_id: str) -> MemoryItem:
        """Undo a forget during the grace period: the item comes back exactly as it was.

        Its text, kind, privacy, provenance and times were kept while it was
        tombstoned; lifting the tombstone puts it back in FTS (trigger) and its
        vector back in the index, in one transaction.

        Raises:
            UnknownMemoryError: the item is not forgotten, or its text is already purged or expired.
        """
        now = self._clock.wall_ms()
        with self._db.atomic():
            row = execute(
                self._db,
                "UPDATE memory_items AS m SET tombstoned_at_ms = NULL "
                f"WHERE m.id = ? AND {ret.RESTORABLE_CONDITION} RETURNING seq, embedding, embedding_model",
                (item_id, now, self.session_id),
            ).fetchone()
        if row is None:
            raise UnknownMemoryError(item_id)
        seq, blob, model = int(row[0]), row[1], str(row[2] or "")
        if self._index is not None and blob is not None and model == self.model_id:
            import numpy as np

            self._index.add([seq], np.frombuffer(blob, dtype=np.float32)[None, :])
        self._synced()
        return self._require(item_id)

    def purge(self, grace_s: float) -> int:
        """Erase text, tags and vector of items tombstoned more than ``grace_s`` ago; return how many.

        The row stays (id, provenance ids, timestamps) as a record that something was forgotten.
        """
        cutoff = self._clock.wall_ms() - int(grace_s * 1000)
        count = self._purge_where("tombstoned_at_ms <= ?", (cutoff,))
        self._synced()
        return count

    def sweep(self) -> int:
        """Tombstone items whose retention ran out (see :mod:`retention`); return how many."""
        seqs = ret.sweep(self._db, now_ms=self._clock.wall_ms(), session_id=self.session_id)
        if seqs and self._index is not None:
            self._index.remove(seqs)
        self._synced()
        return len(seqs)

    def end_session(self) -> int:
        """Tombstone this session's ``session`` items (the session is over); return how many."""
        seqs = ret.end_session(self._db, now_ms=self._clock.wall_ms(), session_id=self.session_id)
        if seqs and self._index is not None:
            self._index.remove(seqs)
        self._synced()
        return len(seqs)

    # -------------------------------------------------------------- internals

    def _embed(self, texts: Sequence[str]) -> Vector | None:
        if self._embedder is None or not texts:
            return None
        return self._embedder.embed(texts)

    def _synced(self) -> None:
        if self._index is not None:
            self._index.mark_synced(self.reader.vector_version())

    def _require(self, item_id: str) -> MemoryItem:
        item = self.get(item_id)
        if item is None:
            raise UnknownMemoryError(item_id)
        return item

    def _purge_where(self, condition: str, params: tuple[Any, ...]) -> int:
        rows = execute(
            self._db,
            "UPDATE memory_items SET text = '', tags = '', embedding = NULL, claim_key = NULL, purged = 1 "
            f"WHERE tombstoned_at_ms IS NOT NULL AND purged = 0 AND {condition} RETURNING seq",
            params,
        ).fetchall()
        return len(rows)

    def _write_one(self, draft: MemoryDraft, vector: Vector | None, now: int) -> tuple[MemoryItem, bool]:
        """Reinforce a duplicate of ``draft`` or insert it; return the item and whether it is new."""
        claim = claim_of(draft.text)
        contradicted = self._contradicted(claim, now)
        duplicate = self._duplicate_of(draft, vector, claim, now)
        if duplicate is not None:
            return self._reinforce(duplicate, draft, now), False
        return self._insert(draft, vector, claim, contradicted, now), True

    def _contradicted(self, claim: tuple[str, str] | None, now: int) -> str | None:
        """The newest live item making the same claim with a different value."""
        if claim is None:
            return None
        for item in self.reader.by_claim(claim[0], now):
            other = claim_of(item.text)
            if other is not None and other[1] != claim[1]:
                return item.id
        return None

    def _duplicate_of(
        self, draft: MemoryDraft, vector: Vector | None, claim: tuple[str, str] | None, now: int
    ) -> MemoryItem | None:
        """A live item of the same kind that ``draft`` repeats (exact text or cosine > 0.92)."""
        row = execute(
            self._db,
            f"SELECT {COLUMNS} FROM memory_items m WHERE m.kind = ? AND m.text = ? COLLATE NOCASE "
            f"AND {ret.LIVE_CONDITION} ORDER BY m.seq LIMIT 1",
            (Kind(draft.kind).value, draft.text.strip(), now, self.session_id),
        ).fetchone()
        if row is not None:
            return item_from_row(row)
        if vector is None:
            return None
        for seq in self._near(vector, Kind(draft.kind), now):
            found = self.reader.by_seqs([seq], now).get(seq)
            if found is None or found.kind != draft.kind:
                continue
            other = claim_of(found.text)
            if claim is not None and other is not None and other[0] == claim[0] and other[1] != claim[1]:
                continue  # same subject, different value: a contradiction, not a duplicate
            return found
        return None

    def _near(self, vector: Vector, kind: Kind, now: int) -> builtins.list[int]:
        """Seqs of items with cosine > 0.92 to ``vector``, most similar first."""
        if self._index is not None:
            return [seq for seq, score in self._index.search(vector, 8) if score > NEAR_DUPLICATE]
        seqs, matrix = self.reader.same_kind_vectors(kind, self.model_id, now)
        if matrix is None:
            return []
        scores = matrix @ vector
        order = scores.argsort()[::-1]
        return [seqs[int(i)] for i in order[:8] if float(scores[int(i)]) > NEAR_DUPLICATE]

    def _reinforce(self, item: MemoryItem, draft: MemoryDraft, now: int) -> MemoryItem:
        seen = item.seen_count + 1
        confidence = max(
            item.confidence,
            confidence_for(draft.provenance.source, seen),
            confidence_for(item.provenance.source, seen),
        )
        privacy = stricter_privacy(item.privacy, PrivacyClass(draft.privacy))
        execute(
            self._db,
            "UPDATE memory_items SET seen_count = ?, confidence = ?, last_used_at_ms = ?, privacy_class = ?, "
            "salience = max(salience, ?) WHERE seq = ?",
            (seen, confidence, now, privacy.value, draft.salience, item.seq),
        )
        return self.reader.by_seqs([item.seq], now)[item.seq]

    def _insert(
        self,
        draft: MemoryDraft,
        vector: Vector | None,
        claim: tuple[str, str] | None,
        contradicted: str | None,
        now: int,
    ) -> MemoryItem:
        prov = draft.provenance
        retention = ret.parse_retention(draft.retention)
        row = execute(
            self._db,
            "INSERT INTO memory_items (id, kind, text, tags, privacy_class, source, turn_id, audit_id, "
            "captured_at_ms, trust, confidence, salience, created_at_ms, last_used_at_ms, retention, "
            "session_id, expires_at_ms, seen_count, claim_key, contradicts, embedding, embedding_model) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?) RETURNING seq",
            (
                uuid.uuid4().hex,
                Kind(draft.kind).value,
                draft.text.strip(),
                draft.tags,
                PrivacyClass(draft.privacy).value,
                prov.source,
                prov.turn_id,
                prov.audit_id,
                prov.captured_at_ms or now,
                prov.trust,
                confidence_for(prov.source, 1),
                draft.salience,
                now,
                now,
                str(retention),
                self.session_id,
                ret.expires_at(retention, now),
                None if claim is None else claim[0],
                contradicted,
                None if vector is None else vector.astype("float32").tobytes(),
                self.model_id if vector is not None else "",
            ),
        ).fetchone()
        seq = int(row[0])
        return self.reader.by_seqs([seq], now)[seq]


def entries_from_json(data: object) -> Sequence[object]:
    """Accept an export document (a list, or ``{"items": [...]}``) and return its entries.

    Raises:
        ValueError: the document has neither shape.
    """
    if isinstance(data, Mapping):
        data = data.get("items")
    if not isinstance(data, builtins.list):
        raise ValueError("a memory export is a list of items or an object with 'items'")
    return data
