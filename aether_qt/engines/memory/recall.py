"""Recall: lexical (FTS5 BM25) and vector (faiss kNN) candidates fused, weighted, within a deadline.

Ranking (DESIGN.md §6), for each candidate item ``i``::

    rrf(i)    = W_FTS / (60 + rank_fts(i)) + W_VEC / (60 + rank_vec(i))   # 1-based ranks; absent: 0
    recency   = 0.5 ** (days since last used / HALF_LIFE_DAYS)
    weight(i) = 0.6 + 0.2 * recency + 0.1 * salience + 0.1 * confidence   # within 0.6..1.0
    score(i)  = rrf(i) * weight(i)

with ``RRF_K = 14``, ``W_FTS = 1.0``, ``W_VEC = 0.4``. Reciprocal-rank fusion
needs no score calibration between BM25 and cosine, and an item found by both
lists beats one found by one. The constants were tuned on LoCoMo (``aether
bench memory``): the textbook ``k = 60`` flattens ranks so much that items
ranked ~30th in both lists push out the best BM25 hits (recall@10 0.68 with
k=60 and equal weights); MiniLM on its own is weaker than BM25 on
conversational memory, hence its lower weight. Around the chosen point the
surface is flat (recall@10 0.749-0.755 for k 6-14 and vector weights 0.4-0.7),
so the pick is not fragile, but it was made on the benchmark itself. The weight only reorders
close calls: an old, unimportant, doubtful memory keeps at least 60 % of its score.

Deadline: the query is embedded on a worker thread while FTS5 runs on the
caller's; whatever is not ready when ``deadline_ms`` has passed is left out
and the result says ``timed_out``. Without an embedder (or index) recall is
FTS-only and says ``fts_only`` (the UI shows a banner).
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aether_qt.core.generation import FencedData
from aether_qt.engines.memory.items import (
    USER_CONFIRMED,
    Kind,
    MemoryItem,
    PrivacyClass,
    Provenance,
    TextEmbedder,
)
from aether_qt.engines.memory.stopwords import STOP_WORDS
from aether_qt.policy.contracts import Clock

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from aether_qt.engines.memory.index import VectorIndex
    from aether_qt.engines.memory.store import MemoryStore

RRF_K = 14  # not the textbook 60: see the module docstring
W_FTS = 1.0
W_VEC = 0.4
HALF_LIFE_DAYS = 30.0
MIN_COSINE = 0.1  # below this a vector "neighbour" is noise, not a candidate
MAX_TERMS = 32
_TOKEN = re.compile(r"\w+", re.UNICODE)
_DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class ScoreParts:
    """Why a hit ranks where it does.

    Attributes:
        fts_rank: 1-based rank in the BM25 list (0: not found lexically).
        vector_rank: 1-based rank in the kNN list (0: not found by vector).
        vector_score: cosine similarity (0.0 when not found by vector).
        rrf: the fused reciprocal-rank score.
        weight: the recency/salience/confidence multiplier.
    """

    fts_rank: int
    vector_rank: int
    vector_score: float
    rrf: float
    weight: float


@dataclass(frozen=True, slots=True)
class RecallHit:
    """One recalled memory with its privacy class and provenance."""

    item_id: str
    text: str
    kind: Kind
    privacy: PrivacyClass
    provenance: Provenance
    confidence: float
    score: float
    parts: ScoreParts


@dataclass(frozen=True, slots=True)
class RecallResult:
    """The answer to one query.

    Attributes:
        hits: best first, at most ``k``.
        fts_only: no vector stage is available (no embedder or index): show the banner.
        timed_out: the deadline cut a stage short; ``hits`` is what was ready.
        took_ms: wall time spent.
    """

    hits: tuple[RecallHit, ...]
    fts_only: bool
    timed_out: bool
    took_ms: float


def query_terms(query: str) -> list[str]:
    """The search terms of ``query``: lower-cased words, stop words dropped (kept if nothing else is left)."""
    words = list(dict.fromkeys(w.casefold() for w in _TOKEN.findall(query)))
    content = [w for w in words if w not in STOP_WORDS]
    return (content or words)[:MAX_TERMS]


def fts_query(query: str) -> str:
    """A safe FTS5 MATCH expression for free text: each term quoted, joined by OR ('' when no terms).

    Quoting turns FTS5 syntax (``AND``, ``NEAR``, ``*``, ``:``, ``^``, quotes,
    parentheses) into plain words, so user text can never raise a syntax error.
    """
    return " OR ".join(f'"{term}"' for term in query_terms(query) if term.replace("_", ""))


def _fuse(fts: Sequence[int], vec: Sequence[tuple[int, float]]) -> dict[int, tuple[int, int, float, float]]:
    """``seq -> (fts_rank, vector_rank, vector_score, rrf)`` over both candidate lists."""
    fused: dict[int, tuple[int, int, float, float]] = {}
    for rank, seq in enumerate(fts, start=1):
        fused[seq] = (rank, 0, 0.0, W_FTS / (RRF_K + rank))
    for rank, (seq, score) in enumerate(vec, start=1):
        f_rank, _, _, rrf = fused.get(seq, (0, 0, 0.0, 0.0))
        fused[seq] = (f_rank, rank, score, rrf + W_VEC / (RRF_K + rank))
    return fused


def weight_of(item: MemoryItem, now_ms: int) -> float:
    """The recency/salience/confidence multiplier (see the module docstring)."""
    age_days = max(0.0, (now_ms - item.last_used_at_ms) / _DAY_MS)
    recency = 0.5 ** (age_days / HALF_LIFE_DAYS)
    return float(0.6 + 0.2 * recency + 0.1 * item.salience + 0.1 * item.confidence)


class Recall:
    """Answers memory queries for the prompt builder and the memory panel.

    Args:
        store: the memory store (reads only).
        index: the vector index, or ``None``.
        embedder: the query embedder, or ``None`` (FTS-only).
        clock: monotonic time for the deadline, wall time for recency.
    """

    def __init__(
        self,
        store: MemoryStore,
        index: VectorIndex | None,
        embedder: TextEmbedder | None,
        clock: Clock,
    ) -> None:
        self._store = store
        self._index = index
        self._embedder = embedder
        self._clock = clock
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None

    @property
    def fts_only(self) -> bool:
        """Whether recall runs without vectors."""
        return self._embedder is None or self._index is None

    def close(self) -> None:
        """Stop the embedding worker (idempotent); a running embed is abandoned."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _elapsed_ms(self, start_ns: int) -> float:
        return (self._clock.monotonic_ns() - start_ns) / 1e6

    def _start_embed(self, query: str) -> concurrent.futures.Future[npt.NDArray[np.float32]] | None:
        if self._embedder is None or self._index is None:
            return None
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="memory-embed")
        return self._pool.submit(self._embedder.embed, [query])

    def _vector_stage(
        self,
        future: concurrent.futures.Future[npt.NDArray[np.float32]],
        start_ns: int,
        deadline_ms: float,
        n: int,
    ) -> list[tuple[int, float]] | None:
        """kNN candidates, or ``None`` when the deadline passed first."""
        remaining_s = (deadline_ms - self._elapsed_ms(start_ns)) / 1000
        if remaining_s <= 0:
            future.cancel()
            return None
        try:
            vectors = future.result(timeout=remaining_s)
        except concurrent.futures.TimeoutError:
            return None
        if self._elapsed_ms(start_ns) > deadline_ms or self._index is None:
            return None
        return [(seq, score) for seq, score in self._index.search(vectors[0], n) if score >= MIN_COSINE]

    def recall(self, query: str, *, k: int = 10, deadline_ms: float = 150.0) -> RecallResult:
        """Find up to ``k`` live memories relevant to ``query``; never raises on odd query text."""
        start_ns = self._clock.monotonic_ns()
        if not _TOKEN.search(query):
            return RecallResult(hits=(), fts_only=self.fts_only, timed_out=False, took_ms=0.0)
        n = max(50, 5 * k)
        future = self._start_embed(query)
        match = fts_query(query)
        now = self._clock.wall_ms()
        fts = [seq for seq, _ in self._store.reader.fts(match, now, limit=n)] if match else []
        timed_out = False
        vec: list[tuple[int, float]] = []
        if future is not None:
            got = self._vector_stage(future, start_ns, deadline_ms, n)
            timed_out = got is None
            vec = got or []
        fused = _fuse(fts, vec)
        items = self._store.reader.by_seqs(list(fused), now)
        hits = []
        for seq, (f_rank, v_rank, v_score, rrf) in fused.items():
            item = items.get(seq)
            if item is None:
                continue  # forgotten or expired since it was indexed
            weight = weight_of(item, now)
            parts = ScoreParts(f_rank, v_rank, v_score, rrf, weight)
            hits.append(
                RecallHit(
                    item_id=item.id,
                    text=item.text,
                    kind=item.kind,
                    privacy=item.privacy,
                    provenance=item.provenance,
                    confidence=item.confidence,
                    score=rrf * weight,
                    parts=parts,
                )
            )
        hits.sort(key=lambda h: h.score, reverse=True)
        return RecallResult(
            hits=tuple(hits[:k]),
            fts_only=self.fts_only,
            timed_out=timed_out,
            took_ms=self._elapsed_ms(start_ns),
        )


def source_label(hit: RecallHit) -> str:
    """``memory:<source> (<captured date, UTC>, <trust>)`` for the prompt's data fence."""
    prov = hit.provenance
    day = dt.datetime.fromtimestamp(prov.captured_at_ms / 1000, tz=dt.UTC).date().isoformat()
    return f"memory:{prov.source} ({day}, {prov.trust})"


def as_fenced(hits: Sequence[RecallHit]) -> tuple[FencedData, ...]:
    """Recalled memories as data for the L4 prompt, each labelled with its source (never instructions)."""
    return tuple(
        FencedData(
            source=source_label(hit),
            text=hit.text,
            trust="user_confirmed" if hit.provenance.source == USER_CONFIRMED else "untrusted",
        )
        for hit in hits
    )
