"""The faiss vector index: a rebuildable cache of the embeddings held in SQLite (DESIGN.md §6).

Flat inner product (exact cosine on normalised vectors) up to
:data:`HNSW_THRESHOLD` items, HNSW beyond. Persisted as ``memory.faiss`` in
the cache folder with a JSON sidecar recording what it was built from (format,
dim, model id, count, the database's ``vector_version``); a missing, stale or
unreadable file is rebuilt from SQLite. With a ``sealer`` (the app passes its
data key) the index file is sealed (XSalsa20-Poly1305): the vectors say much
about the memories' text, so they are as protected as ``aether.db``; a file that
does not unseal is rebuilt, never trusted. Rebuilding is blocking work for the
memory engine's thread, reporting progress through a callback.

IDs in the index are ``memory_items.seq``. HNSW cannot delete, so removals
there are remembered and filtered out of results until the next rebuild.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from aether_qt.policy.effects import remove_own_file, replace_own_file, write_own_file

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from aether_qt.engines.memory.rows import MemoryReader

log = logging.getLogger(__name__)

HNSW_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 96
SIDECAR_FORMAT = 1
INDEX_FILE = "memory.faiss"

Progress = Callable[[int, int], None]
SEAL_PURPOSE = "memory index"


class Sealer(Protocol):
    """Encrypts what is written and checks what is read (:class:`~aether_qt.storage.cipher.DataKey`)."""

    def seal(self, data: bytes, *, purpose: str) -> bytes:
        """``data`` encrypted and authenticated."""

    def unseal(self, blob: bytes, *, purpose: str) -> bytes:
        """The plaintext; raises ``ValueError`` when ``blob`` is not sealed by this key or was changed."""


def _no_progress(done: int, total: int) -> None:
    """Default progress callback: nothing to report."""


class VectorIndex:
    """A faiss index of memory vectors keyed by ``seq``.

    Args:
        path: the index file (``<cache_dir>/memory.faiss``); the sidecar is ``<path>.json``.
        dim: vector length.
        model_id: the embedder's model id (an index of another model is stale).
        hnsw_threshold: above this many vectors a rebuild uses HNSW instead of flat.
        sealer: seals the file on disk (``None``: plain faiss format, for benchmarks).
    """

    def __init__(
        self,
        path: Path,
        dim: int,
        *,
        model_id: str = "",
        hnsw_threshold: int = HNSW_THRESHOLD,
        sealer: Sealer | None = None,
    ):
        self.path = path
        self._sealer = sealer
        self.dim = dim
        self.model_id = model_id
        self.hnsw_threshold = hnsw_threshold
        self._index: Any = None
        self._hnsw = False
        self._removed: set[int] = set()
        self._version = -1
        self.last_load = ""  # "loaded" or "rebuilt (<reason>)", for logs and the bench

    @property
    def sidecar(self) -> Path:
        """The JSON file describing the persisted index."""
        return self.path.with_name(self.path.name + ".json")

    @property
    def kind(self) -> str:
        """``flat`` or ``hnsw``."""
        return "hnsw" if self._hnsw else "flat"

    @property
    def count(self) -> int:
        """Vectors searchable now."""
        return 0 if self._index is None else int(self._index.ntotal) - len(self._removed)

    # --------------------------------------------------------------- building

    def _empty(self, hnsw: bool) -> Any:
        import faiss

        inner: Any
        if hnsw:
            inner = faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
            inner.hnsw.efSearch = HNSW_EF_SEARCH
        else:
            inner = faiss.IndexFlatIP(self.dim)
        return faiss.IndexIDMap2(inner)

    def build(
        self,
        batches: Iterable[tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]],
        *,
        total: int,
        progress: Progress = _no_progress,
    ) -> None:
        """Replace the index with the vectors of ``batches`` (``(seqs, vectors)`` pairs).

        Args:
            batches: everything that belongs in the index.
            total: how many vectors to expect (chooses flat or HNSW, drives progress).
            progress: called with ``(done, total)`` after each batch.
        """
        import numpy as np

        self._hnsw = total > self.hnsw_threshold
        index = self._empty(self._hnsw)
        done = 0
        progress(0, total)
        for seqs, vectors in batches:
            index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), seqs.astype(np.int64))
            done += len(seqs)
            progress(done, total)
        self._index = index
        self._removed = set()

    def rebuild_from(self, reader: MemoryReader, progress: Progress = _no_progress) -> None:
        """Rebuild from the embeddings in SQLite and persist the result."""
        version = reader.vector_version()
        total = reader.indexable_count(self.model_id)
        self.build(reader.iter_vectors(self.model_id), total=total, progress=progress)
        self._version = version
        self.save()

    def load_or_rebuild(self, reader: MemoryReader, progress: Progress = _no_progress) -> str:
        """Load the persisted index, or rebuild it from ``reader`` when missing, stale or corrupt.

        Blocking (seconds for 100k items): call it on the memory engine's thread.

        Returns:
            ``"loaded"`` or ``"rebuilt (<reason>)"`` (also kept in :attr:`last_load`).
        """
        reason = self._try_load(reader)
        if reason:
            log.info("rebuilding the memory index: %s", reason)
            self.rebuild_from(reader, progress)
            self.last_load = f"rebuilt ({reason})"
        else:
            self.last_load = "loaded"
        return self.last_load

    def _try_load(self, reader: MemoryReader) -> str:
        """Load the persisted index if it matches the database; return why not ('' when loaded)."""
        if not self.path.is_file() or not self.sidecar.is_file():
            return "missing"
        try:
            meta = json.loads(self.sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return f"unreadable sidecar: {exc}"
        expected = {
            "format": SIDECAR_FORMAT,
            "dim": self.dim,
            "model_id": self.model_id,
            "vector_version": reader.vector_version(),
        }
        if not isinstance(meta, dict) or any(meta.get(k) != v for k, v in expected.items()):
            return "stale"
        try:
            index = self._read()
        except (ValueError, RuntimeError, OSError, MemoryError) as exc:  # faiss: a bad file is a RuntimeError
            kind = "unsealable" if isinstance(exc, ValueError) else "corrupt"  # another key, or changed
            return f"{kind}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
        removed = meta.get("removed", [])
        if index.d != self.dim or int(index.ntotal) - len(removed) != meta.get("count"):
            return "corrupt: size mismatch"
        self._index = index
        self._hnsw = bool(meta.get("hnsw"))
        self._removed = {int(r) for r in removed}
        self._version = int(meta["vector_version"])
        return ""

    def save(self) -> None:
        """Write the index and then its sidecar, each atomically (temporary file + rename)."""
        import faiss

        if self._index is None:
            return
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self._sealer is not None:  # serialised in memory: the clear vectors never touch the disk
            raw = faiss.serialize_index(self._index).tobytes()
            write_own_file(self.path, self._sealer.seal(raw, purpose=SEAL_PURPOSE), root=folder)
        else:
            partial = self.path.with_name(self.path.name + ".partial")
            faiss.write_index(self._index, str(partial))
            replace_own_file(partial, self.path, root=folder)
        meta = {
            "format": SIDECAR_FORMAT,
            "dim": self.dim,
            "model_id": self.model_id,
            "vector_version": self._version,
            "count": self.count,
            "hnsw": self._hnsw,
            "removed": sorted(self._removed),
            "saved_at": int(time.time()),
        }
        write_own_file(self.sidecar, json.dumps(meta).encode("utf-8"), root=folder)

    def _read(self) -> Any:
        """The faiss index in :attr:`path` (unsealed first when there is a sealer)."""
        import faiss

        if self._sealer is None:
            return faiss.read_index(str(self.path))
        import numpy as np

        raw = self._sealer.unseal(self.path.read_bytes(), purpose=SEAL_PURPOSE)
        return faiss.deserialize_index(np.frombuffer(raw, dtype=np.uint8))

    def discard_files(self) -> None:
        """Delete the persisted files (the next load rebuilds)."""
        for file in (self.path, self.sidecar):
            remove_own_file(file, root=self.path.parent)

    # --------------------------------------------------------------- updates

    def mark_synced(self, version: int) -> None:
        """Record that the index reflects the database at ``vector_version``."""
        self._version = version

    def add(self, seqs: Sequence[int], vectors: npt.NDArray[np.float32]) -> None:
        """Add vectors (one row per seq); an empty index starts flat."""
        import numpy as np

        if self._index is None:
            self._index = self._empty(False)
        ids = np.asarray(seqs, dtype=np.int64)
        if self._hnsw and self._removed.intersection(int(s) for s in ids):
            raise ValueError("cannot re-add a removed id to an HNSW index; rebuild it")
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(ids), -1), ids)

    def remove(self, seqs: Sequence[int]) -> None:
        """Remove vectors by seq (unknown seqs are ignored)."""
        import numpy as np

        if self._index is None or not seqs:
            return
        if self._hnsw:
            self._removed.update(int(s) for s in seqs)
        else:
            self._index.remove_ids(np.asarray(seqs, dtype=np.int64))

    def search(self, vector: npt.NDArray[np.float32], k: int) -> list[tuple[int, float]]:
        """The ``k`` nearest seqs to a normalised ``vector`` with their inner products, best first."""
        import numpy as np

        if self._index is None or self._index.ntotal == 0 or k <= 0:
            return []
        query = np.ascontiguousarray(vector, dtype=np.float32).reshape(1, -1)
        wanted = min(int(self._index.ntotal), k + len(self._removed))
        scores, ids = self._index.search(query, wanted)
        hits = [
            (int(i), float(s))
            for i, s in zip(ids[0], scores[0], strict=True)
            if i >= 0 and int(i) not in self._removed
        ]
        return hits[:k]
