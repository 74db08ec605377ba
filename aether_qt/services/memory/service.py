"""L2 memory as the app uses it: gated writes, recall for turns, user corrections, all audited.

:class:`MemoryService` owns the memory store, the faiss index and recall of one
home (DESIGN.md §6). Every change goes through the gate first and is applied
by :meth:`Effectors.change_memory` with the decision's permit, so the audit log
holds a decision for each write, correction and forget:

- from a conversation, the persona is the actor: "remember that …" asks for
  ``memory.write.durable`` (Observer: draft, nothing is written), an answered
  turn becomes an episode under ``memory.write.session``, "forget …" asks for
  ``memory.delete``;
- from the memory panel and ``aether memory``, the user is the actor; an
  ``Ask`` is answered "allow once" because the user's own click or command is
  the approval (the same rule as ``aether audit export``).

Audit resources never hold memory text (``memory:fact``, ``memory:<id>``), so
"forget now" really removes the words: the signed log keeps only that something
was remembered or forgotten.

Threading: one lock serialises every call. :meth:`start` (embedder load, index
load or rebuild) runs on the memory thread; recall waits for the lock at most
its deadline and otherwise answers with nothing (``timed_out``), so a turn
never waits on a rebuild.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from aether_qt.core.bus import EventBus
from aether_qt.core.events import MemoryChanged, MemoryRecalled, MemoryStatusChanged
from aether_qt.core.generation import FencedData
from aether_qt.core.paths import AppPaths
from aether_qt.core.utterances import is_fact_like, is_small_talk
from aether_qt.engines.memory import retention as ret
from aether_qt.engines.memory.items import (
    USER_CONFIRMED,
    USER_SAID,
    Kind,
    MemoryItem,
    MemoryOutcome,
    MemoryUnavailableError,
    PrivacyClass,
    Provenance,
    TextEmbedder,
    claim_of,
)
from aether_qt.engines.memory.recall import Recall, RecallHit, RecallResult, as_fenced
from aether_qt.engines.memory.sensitivity import is_sensitive
from aether_qt.engines.memory.store import MemoryStore
from aether_qt.policy.decisions import ActionRequest, Allow, Decision
from aether_qt.policy.memory_changes import MemoryAction, MemoryChange
from aether_qt.services.memory.edits import UserEdits, kind_of

if TYPE_CHECKING:
    from aether_qt.engines.memory.index import VectorIndex
    from aether_qt.policy.runtime import PolicyRuntime

_log = logging.getLogger(__name__)
_T = TypeVar("_T")
SOURCE = "L2"
USER = "user"
REMEMBER_RESOURCE = "memory:fact"  # what the conductor asks for "remember that …"
FORGET_RESOURCE = "memory:topic"  # and for "forget …"
GRACE_S = 7 * 86_400.0  # a forgotten memory's text and vector are purged after a week
MIN_EPISODE_WORDS = 3
EPISODE_CHARS = 2_000
FORGET_MIN_COSINE = 0.55  # "forget <topic>" matches an item this close (or found by text search)
Progress = Callable[[int, int], None]


def _topic_key(topic: str) -> str | None:
    """The claim key a "forget my sister's name" topic refers to (``sister name``), if any."""
    claim = claim_of(f"{topic} is x")
    return None if claim is None else claim[0]


class MemoryService:
    """Memory for one home (see the module docstring).

    Args:
        runtime: the policy runtime (gate, effectors, app database, clock).
        bus: where memory events go.
        paths: the home's folders (the index lives in the cache folder).
        retention_days: the active persona's ``memory.retention_days`` (None: forever).
        load_embedder: load MiniLM in :meth:`start`; False runs text-only (tests, degraded mode).
        embedder_dir: a model folder other than the installed package's.

    Attributes:
        edits: the user's own edits (add, correct, privacy, forget, import, export).
    """

    def __init__(
        self,
        *,
        runtime: PolicyRuntime,
        bus: EventBus,
        paths: AppPaths,
        retention_days: Callable[[], int | None] = lambda: None,
        load_embedder: bool = True,
        embedder_dir: Path | None = None,
    ) -> None:
        self._rt, self._bus, self._paths = runtime, bus, paths
        self._retention_days = retention_days
        self._load_embedder, self._embedder_dir = load_embedder, embedder_dir
        self._lock = threading.RLock()
        self._store: MemoryStore | None = None
        self._index: VectorIndex | None = None
        self._recall: Recall | None = None
        self._status = MemoryStatusChanged(state="starting", progress=0.0, message="memory is starting")
        self._fts_reason = "no vector index"  # why recall is text-only, when it is
        self.edits = UserEdits(
            runtime=runtime,
            store=self._require,
            lock=self._lock,
            retention=self.retention,
            changed=self._changed,
        )

    def retention(self) -> str:
        """How long a new memory is kept: the stricter of the user's choice and the persona's.

        The user's ``memory.retention`` (the wizard, the settings) is a promise about
        what Aether keeps; a persona may only make it keep less (:func:`ret.stricter`).
        A stored value that is not a retention word is ignored (logged): the persona decides.
        """
        persona = ret.retention_from_days(self._retention_days())
        chosen = self._rt.settings.get_as(ret.SETTING_RETENTION, str, ret.FOREVER)
        try:
            ret.parse_retention(chosen)
        except ValueError:
            _log.warning("ignoring the memory retention setting %r: not a retention choice", chosen)
            return persona
        return ret.stricter(chosen, persona)

    # ------------------------------------------------------------ lifecycle

    @property
    def status(self) -> MemoryStatusChanged:
        """The last published status."""
        return self._status

    @property
    def started(self) -> bool:
        """Whether :meth:`start` has finished (memory can be read and written)."""
        return self._store is not None

    @property
    def embedder(self) -> TextEmbedder | None:
        """The embedder (None while starting or when running text-only)."""
        return None if self._store is None else self._store.embedder

    @property
    def index(self) -> VectorIndex | None:
        """The vector index (None while starting or when running text-only)."""
        return self._index

    def start(self, progress: Progress | None = None) -> MemoryStatusChanged:
        """Load the embedder, open the store and load (or rebuild) the index; blocking.

        Without the embedding model memory runs on FTS5 alone and the status says
        so. Returns the final status (also published on the bus).
        """
        # Built outside the lock and published at the end: until then nothing writes
        # (``started`` is false), and a turn's recall is not held up by a rebuild.
        embedder = self._embedder()
        store = MemoryStore(self._rt.database, clock=self._rt.clock, embedder=embedder)
        index = None
        if embedder is not None:
            self._set_status("rebuilding", 0.0, "memory index is loading")
            index = self._open_index(store, embedder, progress)
        with self._lock:
            self._store, self._index = store, index
            self._recall = Recall(store, index, embedder, self._rt.clock)
            return self._status_now()

    def _embedder(self) -> TextEmbedder | None:
        if not self._load_embedder:
            self._fts_reason = "the embedding model is turned off"
            return None
        from aether_qt.engines.memory.embedder import Embedder, EmbedderUnavailable

        try:
            embedder = Embedder.load(self._embedder_dir)
            embedder.embed(["warm up", "the first two forward passes build lookup tables"])
        except EmbedderUnavailable as exc:
            _log.warning("memory runs on text search only: %s", exc)
            self._fts_reason = str(exc)
            return None
        return embedder

    def _open_index(
        self, store: MemoryStore, embedder: TextEmbedder, progress: Progress | None
    ) -> VectorIndex:
        from aether_qt.engines.memory.index import INDEX_FILE, VectorIndex

        index = VectorIndex(
            self._paths.cache_dir / INDEX_FILE,
            embedder.dim,
            model_id=embedder.model_id,
            sealer=self._rt.data_key,  # None only while the data is locked: then there is nothing to hide
        )

        def report(done: int, total: int) -> None:
            self._set_status(
                "rebuilding",
                done / total if total else 1.0,
                f"rebuilding the memory index ({done:,}/{total:,})",
            )
            if progress is not None:
                progress(done, total)

        index.load_or_rebuild(store.reader, report)
        store.attach_index(index)
        return index

    def _status_now(self) -> MemoryStatusChanged:
        if self._recall is not None and self._recall.fts_only:
            reason = self._fts_reason
            return self._set_status("fts_only", 1.0, f"Memory recall uses text search only: {reason}")
        return self._set_status("ready", 1.0, "")

    def _set_status(self, state: str, progress: float, message: str) -> MemoryStatusChanged:
        self._status = MemoryStatusChanged(state=state, progress=progress, message=message)
        self._bus.publish(self._status, source_layer=SOURCE, change_id=None)
        return self._status

    def mark_unavailable(self, reason: str) -> None:
        """Say that memory could not start (turns go on without it; the window shows a banner)."""
        self._set_status("unavailable", 1.0, f"Memory is unavailable: {reason}")

    def close(self) -> None:
        """Persist the index and stop the recall worker (idempotent)."""
        with self._lock:
            if self._recall is not None:
                self._recall.close()
            if self._index is not None:
                try:
                    self._index.save()
                except OSError as exc:  # a full disk: the index is rebuilt from SQLite next time
                    _log.warning("the memory index was not saved: %s", exc)

    def _require(self) -> MemoryStore:
        if self._store is None:
            reason = (
                self._status.message if self._status.state == "unavailable" else "memory is still starting"
            )
            raise MemoryUnavailableError(reason)
        return self._store

    # ------------------------------------------------------------ reads

    def list_items(self, kind: Kind | None = None, *, limit: int = 200, offset: int = 0) -> list[MemoryItem]:
        """Live memories, newest first."""
        with self._lock:
            return self._require().list(kind, limit=limit, offset=offset)

    def get(self, item_id: str) -> MemoryItem | None:
        """One live memory, or None."""
        with self._lock:
            return self._require().get(item_id)

    def forgotten(self, item_ids: Sequence[str]) -> list[MemoryItem]:
        """Those of ``item_ids`` that were forgotten and can still be brought back (grace period)."""
        with self._lock:
            return self._require().forgotten(item_ids)

    def search(self, query: str, *, k: int = 20) -> RecallResult:
        """Recall for the panel and ``aether memory search`` (no deadline: the user asked)."""
        with self._lock:
            self._require()
            assert self._recall is not None
            return self._recall.recall(query, k=k, deadline_ms=5_000.0)

    def recall_for_turn(
        self, query: str, *, turn_id: str, persona_id: str, k: int = 4, deadline_ms: float = 150.0
    ) -> tuple[RecallResult, tuple[FencedData, ...]]:
        """Memories for a turn's prompt, gated by ``memory.read``; fenced as data with their source.

        Never waits longer than ``deadline_ms`` for the lock (a rebuild holds it):
        then it answers with nothing and ``timed_out``.
        """
        empty = RecallResult(hits=(), fts_only=True, timed_out=True, took_ms=0.0)
        if not self._lock.acquire(timeout=deadline_ms / 1000):
            return empty, ()
        try:
            if self._recall is None:
                return empty, ()
            decision = self._gate(
                ActionRequest("memory.read", "memory:recall", actor_persona=persona_id, turn_id=turn_id)
            )
            if not isinstance(decision, Allow):
                return RecallResult(hits=(), fts_only=self._recall.fts_only, timed_out=False, took_ms=0.0), ()
            result = self._recall.recall(query, k=k, deadline_ms=deadline_ms)
            hits = tuple(h for h in result.hits if _relevant(h))
            result = dataclasses.replace(result, hits=hits)
            if hits:
                self._require().mark_used([h.item_id for h in hits])
        finally:
            self._lock.release()
        self._bus.publish(
            MemoryRecalled(
                turn_id=turn_id,
                item_ids=tuple(h.item_id for h in hits),
                took_ms=round(result.took_ms, 1),
                timed_out=result.timed_out,
                fts_only=result.fts_only,
            ),
            source_layer=SOURCE,
            change_id=None,
            turn_id=turn_id,
        )
        return result, as_fenced(hits)

    # ------------------------------------------------------------ conversation writes

    def remember(self, allow: Allow, text: str, *, turn_id: str) -> MemoryOutcome:
        """Keep a fact the user asked to remember (the gate already said ``allow``)."""
        draft_text = text.strip().rstrip(".") if text.strip() else ""
        if not draft_text:
            return MemoryOutcome(False, "There was nothing to remember.", "allow", allow.audit_id)
        if not is_fact_like(draft_text):  # the classifier keeps these in the chat; this is the last line
            # the permit is spent all the same: the decision is in the audit log either way
            self._rt.effectors.change_memory(
                allow.permit, MemoryChange(MemoryAction.REMEMBER, REMEMBER_RESOURCE), lambda _change: None
            )
            what = "small talk" if is_small_talk(draft_text) else "a question"
            summary = f"That is {what}, so I keep it with our conversation, not as a memory."
            return MemoryOutcome(False, summary, "allow", allow.audit_id)
        store = self._require()
        retention = self.retention()
        provenance = Provenance(
            source=USER_CONFIRMED,
            turn_id=turn_id,
            audit_id=allow.audit_id,
            captured_at_ms=self._rt.clock.wall_ms(),
            trust=USER_CONFIRMED,
        )
        kind = kind_of(draft_text)
        with self._lock:
            item = self._rt.effectors.change_memory(
                allow.permit,
                MemoryChange(MemoryAction.REMEMBER, REMEMBER_RESOURCE),
                lambda _change: store.add(
                    draft_text,
                    kind=kind,
                    privacy=PrivacyClass.SENSITIVE if is_sensitive(draft_text) else PrivacyClass.PRIVATE,
                    provenance=provenance,
                    retention=retention,
                    salience=0.8,
                ),
            )
        change = "added" if item.seen_count == 1 else "reinforced"
        self._changed(change, (item,), allow.audit_id)
        summary = f"I'll remember that: “{item.text}”."
        if item.seen_count > 1:
            summary = f"I already knew that (now seen {item.seen_count} times): “{item.text}”."
        if item.contradicts:
            old = store.reader.by_id(item.contradicts, self._rt.clock.wall_ms())
            if old is not None:
                summary += (
                    f" Note: it contradicts an earlier memory, “{old.text}”; I kept both and flagged it."
                )
        return MemoryOutcome(True, summary, "allow", allow.audit_id, (item,))

    def forget_topic(self, allow: Allow, topic: str) -> MemoryOutcome:
        """Tombstone the memories a "forget …" topic names (the gate already said ``allow``)."""
        store = self._require()
        change = MemoryChange(MemoryAction.FORGET, FORGET_RESOURCE)
        with self._lock:
            targets = self._matching(topic)
            if not targets:
                # the permit is still spent: the decision is in the audit log either way
                self._rt.effectors.change_memory(allow.permit, change, lambda _change: None)
                return MemoryOutcome(False, f"I have no memory about “{topic}”.", "allow", allow.audit_id)
            self._rt.effectors.change_memory(
                allow.permit, change, lambda _change: store.forget_many([item.id for item in targets])
            )
        self._changed("forgotten", tuple(targets), allow.audit_id)
        quoted = "; ".join(f"“{item.text}”" for item in targets)
        return MemoryOutcome(True, f"Forgotten: {quoted}.", "allow", allow.audit_id, tuple(targets))

    def _matching(self, topic: str) -> list[MemoryItem]:
        """Live items a topic refers to: all items of the same claim, else the best close match."""
        store = self._require()
        now = self._rt.clock.wall_ms()
        key = _topic_key(topic)
        if key is not None:
            by_claim = store.reader.by_claim(key, now)
            if by_claim:
                return by_claim
        assert self._recall is not None
        hits = self._recall.recall(topic, k=5, deadline_ms=5_000.0).hits
        close = [h for h in hits if h.parts.vector_score >= FORGET_MIN_COSINE or h.parts.fts_rank == 1]
        if not close:
            return []
        found = store.reader.by_id(close[0].item_id, now)
        return [found] if found is not None else []

    def record_episode(self, text: str, *, turn_id: str, persona_id: str) -> MemoryOutcome | None:
        """Keep what the user said in an answered turn as a session episode (``memory.write.session``).

        Short messages ("hi", "thanks") are not kept. Returns None when nothing was attempted.
        """
        words = text.split()
        if len(words) < MIN_EPISODE_WORDS or self._store is None:
            return None
        store = self._store
        change = MemoryChange(MemoryAction.EPISODE, "memory:episode", persona=persona_id)
        decision = self._gate(
            ActionRequest(change.capability, change.resource, actor_persona=persona_id, turn_id=turn_id)
        )
        if not isinstance(decision, Allow):
            return MemoryOutcome(False, "", decision.kind, decision.audit_id)
        provenance = Provenance(
            source=USER_SAID,
            turn_id=turn_id,
            audit_id=decision.audit_id,
            captured_at_ms=self._rt.clock.wall_ms(),
            trust="user_said",
        )
        with self._lock:
            item = self._rt.effectors.change_memory(
                decision.permit,
                change,
                lambda _change: store.add(
                    text[:EPISODE_CHARS],
                    kind=Kind.EPISODE,
                    provenance=provenance,
                    retention=ret.SESSION,
                    salience=0.3,
                ),
            )
        self._changed("added" if item.seen_count == 1 else "reinforced", (item,), decision.audit_id)
        return MemoryOutcome(True, "", "allow", decision.audit_id, (item,))

    def maintain(self, grace_s: float = GRACE_S) -> tuple[int, int]:
        """The periodic sweep: expire items past retention, purge old tombstones; return both counts."""
        with self._lock:
            store = self._require()
            expired = store.sweep()
            purged = store.purge(grace_s)
        if expired:
            self._changed("expired", (), "")
        if purged:
            self._changed("purged", (), "")
        return expired, purged

    def end_session(self) -> int:
        """Tombstone this session's episodes (the app is quitting)."""
        with self._lock:
            return 0 if self._store is None else self._store.end_session()

    # ------------------------------------------------------------ helpers

    def _gate(self, request: ActionRequest) -> Decision:
        return self._rt.gate.evaluate(request)

    def _changed(self, change: str, items: Sequence[MemoryItem], audit_id: str) -> None:
        self._bus.publish(
            MemoryChanged(change=change, item_ids=tuple(i.id for i in items), audit_id=audit_id),
            source_layer=SOURCE,
            change_id=None,
        )


def _relevant(hit: RecallHit) -> bool:
    """Whether a hit is worth the small model's context: found by text, or close in meaning."""
    return hit.parts.fts_rank > 0 or hit.parts.vector_score >= 0.35
