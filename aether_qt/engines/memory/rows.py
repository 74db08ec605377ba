"""Row <-> item mapping and the read queries shared by the store, the index and recall.

Every read here filters tombstoned, expired and other-session items with
:data:`~aether_qt.engines.memory.retention.LIVE_CONDITION`, so a late sweep
never lets an expired memory through.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import peewee

from aether_qt.engines.memory.items import Kind, MemoryItem, PrivacyClass, Provenance
from aether_qt.engines.memory.retention import LIVE_CONDITION, RESTORABLE_CONDITION
from aether_qt.storage.sql import execute

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

COLUMNS = (
    "m.id, m.seq, m.kind, m.text, m.privacy_class, m.source, m.turn_id, m.audit_id, m.captured_at_ms, "
    "m.trust, m.confidence, m.salience, m.created_at_ms, m.last_used_at_ms, m.retention, m.expires_at_ms, "
    "m.seen_count, m.contradicts, m.tags, m.used_in_reply_at_ms"
)

BM25_TEXT_WEIGHT = 1.0
BM25_TAGS_WEIGHT = 0.5


def item_from_row(row: Sequence[Any]) -> MemoryItem:
    """Build a :class:`MemoryItem` from a row selected with :data:`COLUMNS`."""
    return MemoryItem(
        id=str(row[0]),
        seq=int(row[1]),
        kind=Kind(row[2]),
        text=str(row[3]),
        privacy=PrivacyClass(row[4]),
        provenance=Provenance(
            source=str(row[5]),
            turn_id=str(row[6]),
            audit_id=str(row[7]),
            captured_at_ms=int(row[8]),
            trust=str(row[9]),
        ),
        confidence=float(row[10]),
        salience=float(row[11]),
        created_at_ms=int(row[12]),
        last_used_at_ms=int(row[13]),
        retention=str(row[14]),
        expires_at_ms=None if row[15] is None else int(row[15]),
        seen_count=int(row[16]),
        contradicts=None if row[17] is None else str(row[17]),
        tags=str(row[18]),
        used_in_reply_at_ms=None if row[19] is None else int(row[19]),
    )


class MemoryReader:
    """Read-only queries over ``memory_items`` as of a clock and a session.

    Args:
        db: the app database (migrated to 0004+).
        session_id: the current session; ``session`` items of others are hidden.
    """

    def __init__(self, db: peewee.SqliteDatabase, *, session_id: str) -> None:
        self._db = db
        self.session_id = session_id

    def _live(self, now_ms: int) -> tuple[Any, ...]:
        return (now_ms, self.session_id)

    def by_id(self, item_id: str, now_ms: int) -> MemoryItem | None:
        """The live item with ``item_id``, or ``None``."""
        row = execute(
            self._db,
            f"SELECT {COLUMNS} FROM memory_items m WHERE m.id = ? AND {LIVE_CONDITION}",
            (item_id, *self._live(now_ms)),
        ).fetchone()
        return None if row is None else item_from_row(row)

    def by_seqs(self, seqs: Sequence[int], now_ms: int) -> dict[int, MemoryItem]:
        """Live items among ``seqs`` keyed by seq (missing ones were forgotten or expired)."""
        found: dict[int, MemoryItem] = {}
        for start in range(0, len(seqs), 500):  # stay under SQLite's variable limit
            chunk = list(seqs[start : start + 500])
            marks = ",".join("?" * len(chunk))
            rows = execute(
                self._db,
                f"SELECT {COLUMNS} FROM memory_items m WHERE m.seq IN ({marks}) AND {LIVE_CONDITION}",
                (*chunk, *self._live(now_ms)),
            ).fetchall()
            for row in rows:
                item = item_from_row(row)
                found[item.seq] = item
        return found

    def restorable(self, item_ids: Sequence[str], now_ms: int) -> list[MemoryItem]:
        """The items of ``item_ids`` that are forgotten but not yet purged (nor expired), in that order."""
        found: dict[str, MemoryItem] = {}
        for item_id in dict.fromkeys(item_ids):
            row = execute(
                self._db,
                f"SELECT {COLUMNS} FROM memory_items m WHERE m.id = ? AND {RESTORABLE_CONDITION}",
                (item_id, *self._live(now_ms)),
            ).fetchone()
            if row is not None:
                found[item_id] = item_from_row(row)
        return list(found.values())

    def by_claim(self, claim_key: str, now_ms: int) -> list[MemoryItem]:
        """Live items making a claim about ``claim_key`` ("sister name"), newest first."""
        rows = execute(
            self._db,
            f"SELECT {COLUMNS} FROM memory_items m WHERE m.claim_key = ? AND {LIVE_CONDITION} "
            "ORDER BY m.seq DESC",
            (claim_key, *self._live(now_ms)),
        ).fetchall()
        return [item_from_row(row) for row in rows]

    def listing(self, kind: Kind | None, now_ms: int, *, limit: int, offset: int) -> list[MemoryItem]:
        """Live items, newest first, optionally of one kind."""
        where = LIVE_CONDITION + ("" if kind is None else " AND m.kind = ?")
        params: tuple[Any, ...] = self._live(now_ms) + (() if kind is None else (kind.value,))
        rows = execute(
            self._db,
            f"SELECT {COLUMNS} FROM memory_items m WHERE {where} ORDER BY m.seq DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        ).fetchall()
        return [item_from_row(row) for row in rows]

    def fts(self, match: str, now_ms: int, *, limit: int) -> list[tuple[int, float]]:
        """``(seq, bm25)`` of live items matching the FTS5 expression ``match``, best first.

        BM25 weights the shown text above the tags (speaker, date, captions).
        ``match`` must already be sanitised (:func:`recall.fts_query`).
        """
        rows = execute(
            self._db,
            "SELECT f.rowid, f.score FROM (SELECT rowid, "
            f"bm25(memory_fts, {BM25_TEXT_WEIGHT}, {BM25_TAGS_WEIGHT}) AS score FROM memory_fts "
            "WHERE memory_fts MATCH ? ORDER BY score LIMIT ?) f "
            f"JOIN memory_items m ON m.seq = f.rowid WHERE {LIVE_CONDITION} ORDER BY f.score",
            (match, limit * 2, *self._live(now_ms)),
        ).fetchall()
        return [(int(seq), float(score)) for seq, score in rows[:limit]]

    def same_kind_vectors(
        self, kind: Kind, model_id: str, now_ms: int
    ) -> tuple[list[int], npt.NDArray[np.float32] | None]:
        """Seqs and stacked vectors of live items of ``kind`` embedded by ``model_id`` (brute-force dedup)."""
        import numpy as np

        rows = execute(
            self._db,
            "SELECT m.seq, m.embedding FROM memory_items m WHERE m.kind = ? AND m.embedding IS NOT NULL "
            f"AND m.embedding_model = ? AND {LIVE_CONDITION}",
            (kind.value, model_id, *self._live(now_ms)),
        ).fetchall()
        if not rows:
            return [], None
        matrix = np.stack([np.frombuffer(blob, dtype=np.float32) for _, blob in rows])
        return [int(seq) for seq, _ in rows], matrix

    def vector_version(self) -> int:
        """The counter bumped by every change that affects the vector index."""
        row = execute(self._db, "SELECT value FROM memory_state WHERE key = 'vector_version'").fetchone()
        return 0 if row is None else int(row[0])

    def indexable_count(self, model_id: str) -> int:
        """How many rows belong in the vector index (live-or-expired, not tombstoned, this model)."""
        row = execute(
            self._db,
            "SELECT count(*) FROM memory_items WHERE tombstoned_at_ms IS NULL AND purged = 0 "
            "AND embedding IS NOT NULL AND embedding_model = ?",
            (model_id,),
        ).fetchone()
        return int(row[0])

    def iter_vectors(
        self, model_id: str, *, batch: int = 4096
    ) -> Iterator[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]]:
        """Yield ``(seqs, vectors)`` batches of every indexable row, in seq order (index rebuild)."""
        import numpy as np

        last = -1
        while True:
            rows = execute(
                self._db,
                "SELECT seq, embedding FROM memory_items WHERE seq > ? AND tombstoned_at_ms IS NULL "
                "AND purged = 0 AND embedding IS NOT NULL AND embedding_model = ? ORDER BY seq LIMIT ?",
                (last, model_id, batch),
            ).fetchall()
            if not rows:
                return
            seqs = np.fromiter((int(r[0]) for r in rows), dtype=np.int64, count=len(rows))
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32).reshape(len(rows), -1)
            yield seqs, vectors
            last = int(seqs[-1])
