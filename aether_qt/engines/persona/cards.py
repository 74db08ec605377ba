"""Character cards (SillyTavern-style V1/V2/V3, JSON or PNG) parsed as untrusted data (DESIGN.md §5, §10).

A card is *content*, never code or instructions: :func:`parse_card` only reads
the text fields Aether uses and lists everything else as dropped (lorebooks,
regex scripts, extensions, assets, extra greetings), without interpreting
any of it. :mod:`~aether_qt.engines.persona.cards_persona` turns a card into a
persona; :mod:`~aether_qt.engines.persona.cards_import` writes it.

Formats accepted:

* V2: ``{"spec": "chara_card_v2", "spec_version": "2.0", "data": {...}}``;
* V3: ``{"spec": "chara_card_v3", "spec_version": "3.0", "data": {...}}``;
* V1: a flat object with ``name`` and the V1 text fields (no ``spec``);
* PNG: one of the above as base64 JSON in a ``ccv3`` (preferred) or ``chara``
  ``tEXt``/``zTXt``/``iTXt`` chunk.

Every step is capped before it runs: the file size, the text chunk, the base64
text, the JSON bytes; JSON must be strict (no NaN/Infinity, no duplicate keys).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final

from aether_qt.engines.persona.cards_png import PngError, is_png, read_text_chunks
from aether_qt.engines.persona.errors import PersonaError

MAX_CARD_FILE_BYTES: Final = 32 * 1024 * 1024
MAX_CARD_JSON_BYTES: Final = 6 * 1024 * 1024
MAX_CARD_TEXT_BYTES: Final = 4 * ((MAX_CARD_JSON_BYTES + 2) // 3)  # base64 of the largest JSON
PNG_KEYWORDS: Final = ("ccv3", "chara")  # in order of preference

SPEC_V1, SPEC_V2, SPEC_V3 = "chara_card_v1", "chara_card_v2", "chara_card_v3"
_SPEC_MAJOR: Final = {SPEC_V2: "2", SPEC_V3: "3"}

TEXT_FIELDS: Final = (
    "name",
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "creator",
    "character_version",
    "nickname",
)
LIST_FIELDS: Final = ("tags", "alternate_greetings", "group_only_greetings")
_V1_FIELDS: Final = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
# Kept as data but not used by the persona: listed in the import report.
_UNUSED_FIELDS: Final = ("post_history_instructions", "alternate_greetings", "group_only_greetings")
# Known card parts Aether never uses or interprets.
_DROPPED_FIELDS: Final = (
    "character_book",
    "extensions",
    "assets",
    "creator_notes_multilingual",
    "source",
    "creation_date",
    "modification_date",
)


class CardError(PersonaError):
    """A character card cannot be imported; printed as ``file: problem`` (``file:line:col:`` for JSON).

    Args:
        path: the card file (its name, as the user gave it).
        reason: what is wrong.
        line: 1-based line of a JSON syntax error, else 0.
        column: 1-based column of a JSON syntax error, else 0.
    """

    def __init__(self, path: str, reason: str, line: int = 0, column: int = 0) -> None:
        """Record the file and the problem."""
        super().__init__(path, line, column, reason)

    def __str__(self) -> str:
        """``file: problem`` or, located, ``file:line:col: problem``."""
        return super().__str__() if self.line else f"{self.path}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Card:
    """A parsed card: its spec, its text fields (raw, unsanitised) and what was left out.

    Attributes:
        spec: ``chara_card_v1``, ``chara_card_v2`` or ``chara_card_v3``.
        spec_version: as the card states it ("" for V1).
        fields: every text field of :data:`TEXT_FIELDS` ("" when absent).
        tags: the card's tags.
        container: ``json`` or ``png:<keyword>`` (the chunk the card came from).
        dropped: card parts that were not imported (never executed or interpreted).
    """

    spec: str
    spec_version: str
    fields: Mapping[str, str]
    tags: tuple[str, ...]
    container: str
    dropped: tuple[str, ...]


def parse_card(data: bytes, *, name_hint: str) -> Card:
    """Parse a card file's bytes (JSON or PNG).

    Args:
        data: the file's content.
        name_hint: the file name, used in error messages.

    Raises:
        CardError: the file is too large, not a PNG with a card chunk nor card
            JSON, the base64 or JSON is malformed, or the spec is unsupported.
    """
    if len(data) > MAX_CARD_FILE_BYTES:
        raise CardError(name_hint, f"the file is over the {MAX_CARD_FILE_BYTES} byte cap")
    if is_png(data):
        keyword, raw = _png_card_json(data, name_hint)
        container = f"png:{keyword}"
    else:
        raw, container = data, "json"
    obj = _strict_json(raw, name_hint, in_png=container != "json")
    return _card_from_object(obj, container, name_hint)


def _png_card_json(data: bytes, name_hint: str) -> tuple[str, bytes]:
    """The JSON bytes of the card in a PNG's ``ccv3`` or ``chara`` chunk, and the keyword used."""
    try:
        chunks = read_text_chunks(data, PNG_KEYWORDS, max_text_bytes=MAX_CARD_TEXT_BYTES)
    except PngError as exc:
        raise CardError(name_hint, str(exc)) from None
    for keyword in PNG_KEYWORDS:
        if keyword in chunks:
            return keyword, _strict_base64(chunks[keyword], name_hint, f"the {keyword!r} chunk")
    raise CardError(name_hint, "the PNG has no 'ccv3' or 'chara' text chunk (no embedded card)")


def _strict_base64(text: str, name_hint: str, where: str) -> bytes:
    """Decode standard base64 strictly (surrounding whitespace allowed), capped before decoding."""
    text = text.strip()
    if len(text) > MAX_CARD_TEXT_BYTES:
        raise CardError(name_hint, f"{where} is over the {MAX_CARD_TEXT_BYTES} byte cap")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (UnicodeEncodeError, binascii.Error):
        raise CardError(name_hint, f"{where} is not valid base64") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _strict_json(raw: bytes, name_hint: str, *, in_png: bool) -> dict[str, Any]:
    """Parse card JSON: size-capped, UTF-8, no NaN/Infinity, no duplicate keys, an object."""
    if len(raw) > MAX_CARD_JSON_BYTES:
        raise CardError(name_hint, f"the card JSON is over the {MAX_CARD_JSON_BYTES} byte cap")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        what = (
            "the card JSON in the PNG's text chunk is not UTF-8" if in_png else "not a PNG and not UTF-8 JSON"
        )
        raise CardError(name_hint, f"{what} (byte {exc.start})") from None
    try:
        obj = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise CardError(name_hint, f"invalid card JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except (ValueError, RecursionError) as exc:
        raise CardError(name_hint, f"invalid card JSON: {exc or 'nested too deeply'}") from None
    if not isinstance(obj, dict):
        raise CardError(name_hint, f"the card JSON is a {type(obj).__name__}, not an object")
    return obj


def _card_from_object(obj: dict[str, Any], container: str, name_hint: str) -> Card:
    """Validate the spec and pick out the fields."""
    if "spec" not in obj:
        if "name" not in obj or not any(isinstance(obj.get(k), str) for k in _V1_FIELDS[1:]):
            raise CardError(name_hint, "not a character card (no 'spec' and no V1 fields)")
        return _card_from_data(obj, SPEC_V1, "", container, name_hint, v1=True)
    spec = obj["spec"]
    if not isinstance(spec, str) or spec not in _SPEC_MAJOR:  # a list or object is unhashable
        raise CardError(
            name_hint, f"unsupported card spec {str(spec)[:40]!r} (expected {SPEC_V2!r} or {SPEC_V3!r})"
        )
    version = obj.get("spec_version")
    if not isinstance(version, str) or version.split(".")[0] != _SPEC_MAJOR[spec]:
        raise CardError(name_hint, f"{spec} with spec_version {str(version)[:20]!r}")
    data = obj.get("data")
    if not isinstance(data, dict):
        raise CardError(name_hint, f"{spec} card without a 'data' object")
    return _card_from_data(data, spec, version, container, name_hint, v1=False)


def _card_from_data(
    data: Mapping[str, Any], spec: str, version: str, container: str, name_hint: str, *, v1: bool
) -> Card:
    fields: dict[str, str] = {}
    for key in TEXT_FIELDS:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise CardError(name_hint, f"field {key!r} is a {type(value).__name__}, not text")
        fields[key] = value or ""
    lists: dict[str, tuple[str, ...]] = {}
    for key in LIST_FIELDS:
        value = data.get(key)
        if value is None:
            value = []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise CardError(name_hint, f"field {key!r} is not a list of text")
        lists[key] = tuple(value)
    dropped = [
        _describe(key, data.get(key)) for key in _DROPPED_FIELDS if data.get(key) not in (None, "", [], {})
    ]
    dropped += [_describe(key, data.get(key)) for key in _UNUSED_FIELDS if data.get(key)]
    if not v1:
        known = {*TEXT_FIELDS, *LIST_FIELDS, *_DROPPED_FIELDS}
        dropped += [f"unknown field {str(k)[:40]!r}" for k in sorted(data) if k not in known]
    return Card(
        spec=spec,
        spec_version=version,
        fields=MappingProxyType(fields),
        tags=lists["tags"],
        container=container,
        dropped=tuple(dropped),
    )


def _describe(key: str, value: Any) -> str:
    """A short, content-free description of a dropped card part."""
    if key == "character_book" and isinstance(value, Mapping):
        entries = value.get("entries")
        count = len(entries) if isinstance(entries, list | Mapping) else 0
        return f"character_book (lorebook, {_count(count, 'entry', 'entries')})"
    if key == "extensions" and isinstance(value, Mapping):
        names = ", ".join(str(k)[:40] for k in sorted(value)[:12])
        return f"extensions ({names})" if names else "extensions"
    if isinstance(value, list):
        return f"{key} ({_count(len(value), 'item', 'items')})"
    return key


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
