"""Memory export entries (JSON-ready dicts) and their strict validation on import.

An entry is checked completely before anything is written; the first problem
is reported with the entry's index and id (:class:`MemoryImportError`). What
is checked is what the database and the views need: text that is valid
Unicode (JSON can spell a lone surrogate, which no UTF-8 column can store) and
a capture time the memory views can print (year 9999 at most, where SQLite's
64-bit integers would overflow long after).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aether_qt.engines.memory.items import (
    IMPORTED,
    Kind,
    MemoryDraft,
    MemoryImportError,
    MemoryItem,
    PrivacyClass,
    Provenance,
)
from aether_qt.engines.memory.retention import parse_retention

EXPORT_FORMAT = 1
MAX_TEXT = 20_000
MAX_IMPORT_BYTES = 16 * 1024 * 1024
"""Largest export file an import reads (about 25,000 memories as ``export_file`` writes them)."""
MAX_TIMESTAMP_MS = 253_402_128_000_000
"""9999-12-30 UTC: a capture time every local time zone can still show as a date."""


def entry_from_item(item: MemoryItem) -> dict[str, Any]:
    """One item as an export entry."""
    prov = item.provenance
    return {
        "id": item.id,
        "kind": item.kind.value,
        "text": item.text,
        "tags": item.tags,
        "privacy_class": item.privacy.value,
        "provenance": {
            "source": prov.source,
            "turn_id": prov.turn_id,
            "audit_id": prov.audit_id,
            "captured_at_ms": prov.captured_at_ms,
            "trust": prov.trust,
        },
        "confidence": item.confidence,
        "salience": item.salience,
        "created_at_ms": item.created_at_ms,
        "last_used_at_ms": item.last_used_at_ms,
        "retention": item.retention,
        "seen_count": item.seen_count,
        "contradicts": item.contradicts,
    }


def _text_field(entry: Mapping[str, Any], name: str, *, required: bool, limit: int = 2000) -> str:
    value = entry.get(name, None if required else "")
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"'{name}' must be a string")
    if required and not value.strip():
        raise ValueError(f"'{name}' is empty")
    if len(value) > limit:
        raise ValueError(f"'{name}' is longer than {limit} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"'{name}' is not valid Unicode (a lone surrogate at character {exc.start})"
        ) from None
    return value


def _check(entry: Mapping[str, Any], now_ms: int) -> MemoryDraft:
    text = _text_field(entry, "text", required=True, limit=MAX_TEXT)
    try:
        kind = Kind(_text_field(entry, "kind", required=True))
        privacy = PrivacyClass(_text_field(entry, "privacy_class", required=True))
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    retention = _text_field(entry, "retention", required=False) or "forever"
    parse_retention(retention)
    salience = entry.get("salience", 0.5)
    if isinstance(salience, bool) or not isinstance(salience, int | float) or not 0.0 <= salience <= 1.0:
        raise ValueError("'salience' must be a number within 0..1")
    prov = entry.get("provenance", {})
    if not isinstance(prov, Mapping):
        raise ValueError("'provenance' must be an object")
    captured = prov.get("captured_at_ms", now_ms)
    if isinstance(captured, bool) or not isinstance(captured, int) or not 0 <= captured <= MAX_TIMESTAMP_MS:
        raise ValueError(f"'provenance.captured_at_ms' must be an integer within 0..{MAX_TIMESTAMP_MS}")
    original = _text_field(prov, "source", required=False)
    tags = _text_field(entry, "tags", required=False)
    return MemoryDraft(
        text=text,
        kind=kind,
        privacy=privacy,
        provenance=Provenance(
            source=IMPORTED,
            turn_id=_text_field(prov, "turn_id", required=False),
            audit_id=_text_field(prov, "audit_id", required=False),
            captured_at_ms=captured,
            trust="untrusted",
        ),
        retention=retention,
        salience=float(salience),
        tags=" ".join(t for t in (tags, f"imported-from:{original}" if original else "") if t),
    )


def draft_from_entry(index: int, entry: object, *, now_ms: int) -> MemoryDraft:
    """Validate export entry number ``index`` and turn it into a draft.

    Raises:
        MemoryImportError: the entry is malformed (names ``index`` and its id).
    """
    if not isinstance(entry, Mapping):
        raise MemoryImportError(index, "", "an entry must be an object")
    raw_id = entry.get("id", "")
    item_id = raw_id if isinstance(raw_id, str) else repr(raw_id)
    try:
        return _check(entry, now_ms)
    except ValueError as exc:
        raise MemoryImportError(index, item_id, str(exc)) from None
