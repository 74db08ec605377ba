"""L2 memory: items with provenance, storage, embeddings, the vector index and recall (DESIGN.md §6).

Pure Python and numpy, no Qt. Exports: :mod:`.items` (:class:`~.items.MemoryItem`,
:class:`~.items.Provenance`, kinds, privacy classes, the typed errors and
:class:`~.items.MemoryOutcome`), :mod:`.store` (:class:`~.store.MemoryStore`: SQLite
holds the truth, FTS5 kept by triggers, near-duplicates reinforce, contradictions
flagged), :mod:`.rows` (:class:`~.rows.MemoryReader`, the read side), :mod:`.embedder`
and :mod:`.minilm` (all-MiniLM-L6-v2 in numpy, no torch), :mod:`.index`
(:class:`~.index.VectorIndex`: faiss, rebuilt from the reader when stale or corrupt),
:mod:`.recall` (:class:`~.recall.Recall`: BM25 and vector ranks fused, weighted,
within a deadline, fenced as data), :mod:`.retention` and :mod:`.export`.

The memory service (:mod:`aether_qt.services.memory`) gates every write and
runs the store on the memory thread.
"""
