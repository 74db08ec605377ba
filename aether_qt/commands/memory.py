"""``aether memory list|search|show|forget|export|import``: the memory panel on the command line.

Every change goes through the gate with the user as the actor (typing the
command is the approval of an ``Ask``) and is audited; ``export`` writes its
file with an effector. ``import`` is one transaction: a malformed entry rejects
the whole file and the message names the entry. Exit codes: 0 done, 1 refused
or not found, 2 the home or the file cannot be used.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aether_qt.commands.output import emit_json, emit_pairs, emit_table, fail
from aether_qt.commands.passphrase import read_passphrase
from aether_qt.commands.session import CommandError, policy_runtime
from aether_qt.core.bus import EventBus
from aether_qt.core.errors import ExplainedError
from aether_qt.core.paths import resolve_paths
from aether_qt.engines.memory.items import (
    Kind,
    MemoryImportError,
    MemoryItem,
    MemoryOutcome,
    UnknownMemoryError,
)
from aether_qt.engines.memory.recall import RecallHit
from aether_qt.policy.effect_types import EffectError
from aether_qt.services.memory.edits import is_sealed_export
from aether_qt.services.memory.service import MemoryService

PREVIEW = 70


@contextmanager
def _memory(args: argparse.Namespace, *, vectors: bool) -> Iterator[MemoryService]:
    """The home's memory, started; ``vectors`` loads the embedder and the index (search, writes)."""
    with policy_runtime(args) as runtime:
        service = MemoryService(
            runtime=runtime,
            bus=EventBus(),
            paths=resolve_paths(getattr(args, "home", None)),
            load_embedder=vectors,
        )
        service.start()
        try:
            yield service
        finally:
            service.close()


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M")


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW else flat[: PREVIEW - 1] + "…"


def item_dict(item: MemoryItem) -> dict[str, Any]:
    """A memory as plain data (no vector)."""
    data = dataclasses.asdict(item)
    data["kind"], data["privacy"] = item.kind.value, item.privacy.value
    return data


def _row(item: MemoryItem | RecallHit, when_ms: int) -> dict[str, Any]:
    return {
        "id": item.item_id if isinstance(item, RecallHit) else item.id,
        "kind": item.kind.value,
        "privacy": item.privacy.value,
        "source": item.provenance.source,
        "when": _when(when_ms),
        "text": _preview(item.text),
    }


def _guarded(run: Any) -> int:
    try:
        return int(run())
    except CommandError as exc:
        return fail(str(exc), exc.code)
    except UnknownMemoryError as exc:
        return fail(f"no memory with id {exc.args[0]} (never stored, forgotten or expired)")
    except MemoryImportError as exc:
        return fail(str(exc), 2)
    except (EffectError, ValueError, OSError) as exc:
        return fail(str(exc), 2)
    except ExplainedError as exc:  # the database or the gate failed meanwhile (a disk error): said in words
        return fail(str(exc), 2)


def _outcome(args: argparse.Namespace, outcome: MemoryOutcome) -> int:
    if args.json:
        emit_json(
            {
                "ok": outcome.ok,
                "summary": outcome.summary,
                "decision": outcome.decision,
                "audit_id": outcome.audit_id,
                "items": [item_dict(i) for i in outcome.items],
            }
        )
    else:
        print(f"{outcome.summary}  [audit {outcome.audit_id or 'not audited'}]")
    return 0 if outcome.ok else 1


def list_(args: argparse.Namespace) -> int:
    """List live memories, newest first (optionally one kind)."""

    def run() -> int:
        with _memory(args, vectors=False) as memory:
            items = memory.list_items(Kind(args.kind) if args.kind else None, limit=args.limit)
        if args.json:
            emit_json([item_dict(i) for i in items])
        else:
            emit_table(
                [_row(i, i.created_at_ms) for i in items], ("id", "kind", "privacy", "source", "when", "text")
            )
        return 0

    return _guarded(run)


def search(args: argparse.Namespace) -> int:
    """Recall memories for QUERY (text and meaning fused), best first."""

    def run() -> int:
        with _memory(args, vectors=True) as memory:
            result = memory.search(args.query, k=args.limit)
        if args.json:
            emit_json(
                {
                    "fts_only": result.fts_only,
                    "took_ms": round(result.took_ms, 1),
                    "hits": [{**item_dict_from_hit(h), "score": round(h.score, 5)} for h in result.hits],
                }
            )
            return 0
        if result.fts_only:
            print("(text search only: the embedding model is not available)")
        emit_table(
            [_row(h, h.provenance.captured_at_ms) for h in result.hits],
            ("id", "kind", "privacy", "source", "when", "text"),
        )
        return 0

    return _guarded(run)


def item_dict_from_hit(hit: RecallHit) -> dict[str, Any]:
    """A recall hit as plain data."""
    return {
        "id": hit.item_id,
        "text": hit.text,
        "kind": hit.kind.value,
        "privacy": hit.privacy.value,
        "confidence": hit.confidence,
        "provenance": dataclasses.asdict(hit.provenance),
    }


def show(args: argparse.Namespace) -> int:
    """Show one memory with its provenance."""

    def run() -> int:
        with _memory(args, vectors=False) as memory:
            item = memory.get(args.id)
            other = memory.get(item.contradicts) if item is not None and item.contradicts else None
        if item is None:
            raise UnknownMemoryError(args.id)
        if args.json:
            emit_json(item_dict(item))
            return 0
        prov = item.provenance
        pairs = {
            "id": item.id,
            "text": item.text,
            "kind": item.kind.value,
            "privacy": item.privacy.value,
            "source": prov.source,
            "trust": prov.trust,
            "turn": prov.turn_id or "-",
            "audit": prov.audit_id or "-",
            "captured": _when(prov.captured_at_ms),
            "confidence": f"{item.confidence:.2f} (seen {item.seen_count}x)",
            "retention": item.retention
            + (f" (expires {_when(item.expires_at_ms)})" if item.expires_at_ms is not None else ""),
            "last used": _when(item.last_used_at_ms),
        }
        if item.contradicts:
            pairs["contradicts"] = f"{item.contradicts} “{other.text}”" if other else item.contradicts
        emit_pairs(pairs)
        return 0

    return _guarded(run)


def forget(args: argparse.Namespace) -> int:
    """Forget one memory now (tombstone); ``--now`` also erases its text and vector at once."""

    def run() -> int:
        with _memory(args, vectors=True) as memory:
            return _outcome(args, memory.edits.forget(args.id, now=args.now))

    return _guarded(run)


def export(args: argparse.Namespace) -> int:
    """Export every live memory to FILE (sealed JSON) through the gate (``memory.export``)."""

    def run() -> int:
        passphrase = read_passphrase(args, confirm=True)
        with _memory(args, vectors=False) as memory:
            return _outcome(args, memory.edits.export_file(Path(args.file), passphrase=passphrase))

    return _guarded(run)


def import_(args: argparse.Namespace) -> int:
    """Import FILE (an export) in one transaction; a malformed entry rejects the whole file."""

    def run() -> int:
        path = Path(args.file)
        passphrase = read_passphrase(args, confirm=False) if is_sealed_export(path) else None
        with _memory(args, vectors=True) as memory:
            return _outcome(args, memory.edits.import_file(path, passphrase=passphrase))

    return _guarded(run)
