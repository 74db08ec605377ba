"""``aether bench memory``: recall quality on LoCoMo, recall latency, index build time, RSS.

* Quality: the LoCoMo conversations (``$AETHER_LOCOMO``, else
  ``../shared/data/locomo/locomo-dev5.json`` next to the repository; read in
  place, never copied) are ingested turn by turn into a fresh memory store per
  conversation; every question with evidence (categories 1-4) is asked, and
  evidence recall@5 / @10 (the share of a question's evidence turns among the
  top k, averaged over questions) is reported per category and overall.
  Targets: recall@10 >= 0.75 (plain BM25 ~0.58, plain MiniLM cosine ~0.51).
* Speed: recall latency p50/p95 (embed + search + fetch) with the real
  embedder over 10k and 100k synthetic items; index build time at both sizes.
  Targets: p95 <= 50 ms at 100k, rebuild of 100k <= 30 s.

No language model is in the recall path. Quick mode stops at 10k items.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aether_qt.core.paths import migrations_dir
from aether_qt.engines.memory.index import VectorIndex
from aether_qt.engines.memory.items import IMPORTED, Kind, MemoryDraft, PrivacyClass, Provenance, TextEmbedder
from aether_qt.engines.memory.recall import Recall
from aether_qt.engines.memory.store import MemoryStore
from aether_qt.policy.contracts import SystemClock
from aether_qt.storage.database import close_database, open_database
from aether_qt.storage.migrations import raw_connection
from aether_qt.storage.sql import execute

if TYPE_CHECKING:
    import peewee

LOCOMO_ENV = "AETHER_LOCOMO"
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
QUALITY_DEADLINE_MS = 2000.0  # quality measures ranking; latency is measured separately at 150 ms


def locomo_path() -> Path:
    """Where the LoCoMo file is: ``$AETHER_LOCOMO`` or the shared data folder beside the repository."""
    env = os.environ.get(LOCOMO_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[3].parent / "shared" / "data" / "locomo" / "locomo-dev5.json"


def _percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _rss_mb() -> float:
    """Resident memory of this process (Linux ``/proc``; 0.0 elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _open(path: Path) -> peewee.SqliteDatabase:
    return open_database(path, migrations=migrations_dir(), backups_dir=path.parent / "backups")


# ------------------------------------------------------------------ LoCoMo


def _session_ms(stamp: str) -> int:
    """``"1:56 pm on 8 May, 2023"`` -> epoch ms (UTC); 0 when unparseable."""
    try:
        when = dt.datetime.strptime(stamp.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=dt.UTC)
    except ValueError:
        return 0
    return int(when.timestamp() * 1000)


def turn_text(turn: dict[str, Any]) -> str:
    """A LoCoMo turn as a memory: the speaker, what they said, and what they showed."""
    text = f"{turn['speaker']}: {turn['text']}"
    caption = turn.get("blip_caption")
    if caption:
        text += f" [shared {caption}]"
    return text


def _drafts(conversation: dict[str, Any]) -> tuple[list[MemoryDraft], list[str]]:
    """One draft per turn and their dia_ids.

    Provenance carries the dia_id (turn id) and the session date (captured at);
    the speaker is part of the text. The tags (searchable, not shown) hold the
    session date and the neighbouring turns: a reply such as "Yes, last
    Saturday!" is only findable through the question it answers.
    """
    drafts: list[MemoryDraft] = []
    dia_ids: list[str] = []
    sessions = sorted(
        (int(k.split("_")[1]), k) for k in conversation if k.startswith("session_") and k.count("_") == 1
    )
    for _, key in sessions:
        stamp = str(conversation.get(f"{key}_date_time", ""))
        captured = _session_ms(stamp)
        turns = conversation[key]
        for i, turn in enumerate(turns):
            context = [
                str(t["text"])
                for t in (turns[i - 1] if i else None, turns[i + 1] if i + 1 < len(turns) else None)
                if t
            ]
            drafts.append(
                MemoryDraft(
                    text=turn_text(turn),
                    kind=Kind.EPISODE,
                    privacy=PrivacyClass.PRIVATE,
                    provenance=Provenance(
                        source=IMPORTED,
                        turn_id=str(turn["dia_id"]),
                        captured_at_ms=captured,
                        trust="untrusted",
                    ),
                    tags=" ".join([stamp, *context]),
                )
            )
            dia_ids.append(str(turn["dia_id"]))
    return drafts, dia_ids


def _evidence(qa: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for entry in qa.get("evidence", []):
        for part in str(entry).replace(";", " ").replace(",", " ").split():
            if part.startswith("D") and ":" in part:
                found.add(part)
    return found


def _score_conversation(
    sample: dict[str, Any], embedder: TextEmbedder | None, folder: Path, totals: dict[str, list[float]]
) -> None:
    """Ingest one conversation and add each question's recall@5/@10 to ``totals``."""
    db = _open(folder / f"{sample.get('sample_id', 'conv')}.db")
    clock = SystemClock()
    try:
        store = MemoryStore(db, clock=clock, embedder=embedder)
        index = None
        if embedder is not None:
            index = VectorIndex(folder / f"{sample.get('sample_id', 'conv')}.faiss", embedder.dim)
            index.model_id = embedder.model_id
            index.load_or_rebuild(store.reader)
            store.attach_index(index)
        drafts, dia_ids = _drafts(sample["conversation"])
        items = store.add_many(drafts)
        turns_of: dict[str, set[str]] = defaultdict(set)
        for item, dia in zip(items, dia_ids, strict=True):
            turns_of[item.id].add(dia)
        recall = Recall(store, index, embedder, clock)
        for qa in sample["qa"]:
            evidence = _evidence(qa)
            category = CATEGORIES.get(int(qa.get("category", 0)))
            if not evidence or category is None:
                continue
            hits = recall.recall(str(qa["question"]), k=10, deadline_ms=QUALITY_DEADLINE_MS).hits
            for k in (5, 10):
                got = set().union(*(turns_of[h.item_id] for h in hits[:k])) if hits else set()
                share = len(evidence & got) / len(evidence)
                totals[f"{category}@{k}"].append(share)
                totals[f"overall@{k}"].append(share)
        recall.close()
    finally:
        close_database(db)


def locomo_quality(home: Path, embedder: TextEmbedder | None) -> dict[str, Any]:
    """Evidence recall@5/@10 per category and overall, or ``{"error": ...}`` without the dataset."""
    path = locomo_path()
    if not path.is_file():
        return {"error": f"dataset not found at {path} (set {LOCOMO_ENV})"}
    samples = json.loads(path.read_text(encoding="utf-8"))
    folder = home / "locomo"
    folder.mkdir(parents=True, exist_ok=True)
    totals: dict[str, list[float]] = defaultdict(list)
    t0 = time.perf_counter()
    for sample in samples:
        _score_conversation(sample, embedder, folder, totals)
    result: dict[str, Any] = {key: round(statistics.fmean(v), 4) for key, v in sorted(totals.items())}
    result["questions"] = {key[:-2]: len(v) for key, v in totals.items() if key.endswith("@5")}
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


# ------------------------------------------------------------------- scale


def _fill(db: peewee.SqliteDatabase, n: int, dim: int, model_id: str, seed: int) -> None:
    """Insert ``n`` synthetic items with random unit vectors straight into SQLite (a fixture only)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(5000)] + [
        "sister",
        "name",
        "dentist",
        "books",
        "summer",
        "food",
        "hiking",
        "may",
    ] * 20
    pick = random.Random(seed)
    now = int(time.time() * 1000)
    with db.atomic():
        for start in range(0, n, 5000):
            count = min(5000, n - start)
            vectors = rng.standard_normal((count, dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            rows = [
                (
                    f"syn{start + i}",
                    " ".join(pick.choices(words, k=12)),
                    now,
                    now,
                    now,
                    vectors[i].tobytes(),
                    model_id,
                )
                for i in range(count)
            ]
            raw_connection(db).executemany(
                "INSERT INTO memory_items (id, kind, text, privacy_class, source, captured_at_ms, "
                "confidence, created_at_ms, last_used_at_ms, embedding, embedding_model) "
                "VALUES (?, 'note', ?, 'private', 'imported', ?, 0.45, ?, ?, ?, ?)",
                rows,
            )


def _scale(home: Path, n: int, embedder: TextEmbedder, queries: Sequence[str]) -> dict[str, Any]:
    """Index build time and recall latency over ``n`` synthetic items."""
    db = _open(home / f"scale-{n}.db")
    try:
        _fill(db, n, embedder.dim, embedder.model_id, seed=n)
        store = MemoryStore(db, clock=SystemClock(), embedder=embedder)
        index = VectorIndex(home / f"scale-{n}.faiss", embedder.dim, model_id=embedder.model_id)
        t0 = time.perf_counter()
        index.load_or_rebuild(store.reader)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        index.discard_files()
        reload = VectorIndex(index.path, embedder.dim, model_id=embedder.model_id)
        index.save()
        reload.load_or_rebuild(store.reader)
        load_s = time.perf_counter() - t0
        store.attach_index(index)
        recall = Recall(store, index, embedder, SystemClock())
        latencies, timeouts = [], 0
        for query in queries:
            t0 = time.perf_counter()
            result = recall.recall(query, k=10)
            latencies.append((time.perf_counter() - t0) * 1000)
            timeouts += result.timed_out
        recall.close()
        count = int(execute(db, "SELECT count(*) FROM memory_items").fetchone()[0])
    finally:
        close_database(db)
    return {
        "items": count,
        "index_kind": index.kind,
        "build_s": round(build_s, 2),
        "save_and_load_s": round(load_s, 2),
        "recall_p50_ms": round(statistics.median(latencies), 2),
        "recall_p95_ms": round(_percentile(latencies, 0.95), 2),
        "timeouts": timeouts,
        "queries": len(latencies),
    }


def _load_embedder() -> tuple[TextEmbedder | None, str]:
    try:
        from aether_qt.engines.memory.embedder import Embedder, EmbedderUnavailable
    except ImportError as exc:
        return None, f"embedder module missing: {exc}"
    try:
        return Embedder.load(), ""
    except EmbedderUnavailable as exc:
        return None, str(exc)


def _table(result: dict[str, Any]) -> list[tuple[str, Any, str]]:
    rows: list[tuple[str, Any, str]] = [("embedder", result["embedder"], "")]
    quality = result["locomo"]
    if "error" in quality:
        rows.append(("LoCoMo", quality["error"], ""))
    else:
        for name in (*CATEGORIES.values(), "overall"):
            target = "target >= 0.75 (BM25 0.58, MiniLM 0.51)" if name == "overall" else ""
            rows.append((f"LoCoMo {name} recall@5", quality[f"{name}@5"], ""))
            rows.append((f"LoCoMo {name} recall@10", quality[f"{name}@10"], target))
    for scale in result["scale"]:
        n = scale["items"]
        rows.append(
            (
                f"{n:,} items: index build (s)",
                scale["build_s"],
                "target <= 30 at 100k" if n >= 100_000 else "",
            )
        )
        rows.append((f"{n:,} items: index kind", scale["index_kind"], ""))
        rows.append((f"{n:,} items: recall p50 (ms)", scale["recall_p50_ms"], ""))
        rows.append((f"{n:,} items: recall p95 (ms)", scale["recall_p95_ms"], "target <= 50 at 100k"))
    rows.append(("RSS (MB)", round(result["rss_mb"], 1), ""))
    return rows


def run_memory_bench(home: Path, *, quick: bool = False) -> dict[str, Any]:
    """Run the memory benchmark in ``home``; returns the JSON result with a ``table``."""
    home.mkdir(parents=True, exist_ok=True)
    embedder, why = _load_embedder()
    result: dict[str, Any] = {"embedder": embedder.model_id if embedder else f"none ({why}): FTS only"}
    result["locomo"] = locomo_quality(home, embedder)
    queries = [
        "what's my sister's name?",
        "when is the dentist appointment",
        "which books did I enjoy last summer",
        "favourite food",
        "where did we go hiking in May?",
    ] * 8
    result["scale"] = []
    if embedder is not None:
        for n in (10_000,) if quick else (10_000, 100_000):
            result["scale"].append(_scale(home, n, embedder, queries))
    result["rss_mb"] = _rss_mb()
    result["table"] = _table(result)
    return result
