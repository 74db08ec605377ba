"""The persona compiler: validated data -> :class:`CompiledPersona` (DESIGN.md §10, §5).

Compiling migrates the document to the current schema, validates it (every
error located), fills defaults and builds one frozen part per layer. Policy
defaults are *proposals* that may only narrow: each override is measured
against the persona's preset (always Observer for an untrusted persona) and
the stricter mode wins; every widening attempt becomes a :class:`Clamp` with
its reason. The content hash is SHA-256 over :func:`canonical_bytes`, so the
same input always gives the same bytes and hash, whatever the key order of
the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

from aether_qt.engines.persona.compiled import (
    Clamp,
    CompiledPersona,
    InteractionPart,
    MemoryPart,
    PersonaSummary,
    PolicyPart,
    RouterPart,
    VisualPart,
    VoicePart,
)
from aether_qt.engines.persona.errors import SourceMarks
from aether_qt.engines.persona.loader import load_persona_file
from aether_qt.engines.persona.migrations import migrate
from aether_qt.engines.persona.schema import validate
from aether_qt.policy.capabilities import CAPABILITIES, Mode, Preset, Risk, preset_mode, stricter

UNTRUSTED_PRESET: Final = Preset.OBSERVER
"""Untrusted personas (imported cards) are measured against this preset, whatever they ask."""

CARD_SOURCE_PREFIX: Final = "card:"
"""``provenance.source`` prefix written by the card importer; such personas are never trusted."""

PHRASE_POOLS: Final = ("ack", "clarify", "repair", "progress")


def compile_persona(
    data: Mapping[str, Any],
    *,
    source_path: str = "",
    trusted: bool = True,
    marks: SourceMarks | None = None,
) -> CompiledPersona:
    """Compile a persona document.

    Args:
        data: the loaded document (plain data, any schema version this app can migrate).
        source_path: the file it came from; used in errors, not part of the hash.
        trusted: False for imported content; a ``card:`` provenance also makes it False.
        marks: positions from the loader, to locate errors (0:0 without them).

    Raises:
        PersonaError: the document is invalid (a :class:`PersonaErrors` lists every problem).
    """
    label = source_path or "<string>"
    current = migrate(data, path=label, marks=marks)
    doc = validate(current, path=label, marks=marks)
    trusted = trusted and not str(doc["provenance"]["source"]).startswith(CARD_SOURCE_PREFIX)
    parts = _parts(doc, trusted)
    digest = hashlib.sha256(_canonical(parts)).hexdigest()
    return CompiledPersona(**parts, content_hash=digest, source_path=source_path)


def load_and_compile(path: str | os.PathLike[str], *, trusted: bool = True) -> CompiledPersona:
    """Load a persona file strictly and compile it (errors located in that file)."""
    loaded = load_persona_file(path)
    return compile_persona(loaded.data, source_path=loaded.path, trusted=trusted, marks=loaded.marks)


def canonical_bytes(persona: CompiledPersona) -> bytes:
    """The canonical JSON the content hash is taken over (no hash, no source path)."""
    parts = {name: getattr(persona, name) for name in _PART_NAMES}
    return _canonical(parts)


_PART_NAMES: Final = (
    "persona_id",
    "schema_version",
    "interaction",
    "memory",
    "visual",
    "voice",
    "router",
    "policy",
    "summary",
)


def _parts(doc: Mapping[str, Any], trusted: bool) -> dict[str, Any]:
    style, voice, avatar, routing = doc["style"], doc["voice"], doc["avatar"], doc["routing"]
    phrases = doc["phrases"]
    return {
        "persona_id": doc["id"],
        "schema_version": doc["schema_version"],
        "interaction": InteractionPart(
            phrases=MappingProxyType({pool: tuple(phrases[pool]) for pool in PHRASE_POOLS}),
            warmth=style["warmth"],
            formality=style["formality"],
            verbosity=style["verbosity"],
            humor=style["humor"],
        ),
        "memory": MemoryPart(doc["memory"]["retention_days"], tuple(doc["memory"]["remember"])),
        "visual": VisualPart(
            palette=MappingProxyType(dict(avatar["palette"])),
            shape=avatar["shape"],
            blink_rate=avatar["blink_rate"],
            idle_motion=avatar["idle_motion"],
            gaze_style=avatar["gaze_style"],
        ),
        "voice": VoicePart(voice["voice_hint"], voice["rate"], voice["pitch"], voice["volume"]),
        "router": RouterPart(
            system_prompt=doc["system_prompt"],
            preferred_tier=routing["preferred_tier"],
            temperature=routing["temperature"],
            max_tokens=routing["max_tokens"],
            privacy_posture=routing["privacy_posture"],
        ),
        "policy": compile_policy(doc["policy_defaults"], trusted=trusted),
        "summary": PersonaSummary(
            persona_id=doc["id"],
            name=doc["name"],
            tagline=doc["tagline"],
            version=doc["version"],
            author=doc["provenance"]["author"],
            license=doc["provenance"]["license"],
            source=doc["provenance"]["source"],
            trusted=trusted,
        ),
    }


def compile_policy(defaults: Mapping[str, Any], *, trusted: bool) -> PolicyPart:
    """Clamp validated ``policy_defaults`` so they only narrow the preset.

    For each override: granted = stricter(requested, preset mode), where the preset is
    the persona's own (Observer when untrusted). High and Critical risks are never
    ``auto`` and ``shell.exec`` is denied in consumer presets (both already in
    :func:`preset_mode`). Every override whose granted mode differs is a :class:`Clamp`.
    """
    preset = Preset.parse(defaults["preset"]) if trusted else UNTRUSTED_PRESET
    overrides: dict[str, Mode] = {}
    clamps: list[Clamp] = []
    for capability, requested_name in sorted(defaults["overrides"].items()):
        requested = Mode(requested_name)
        floor = preset_mode(preset, capability)
        granted = stricter(requested, floor)
        overrides[capability] = granted
        if granted is not requested:
            clamps.append(
                Clamp(capability, requested, granted, _clamp_reason(capability, preset, floor, trusted))
            )
    return PolicyPart(preset=preset, overrides=MappingProxyType(overrides), clamps=tuple(clamps))


def _clamp_reason(capability: str, preset: Preset, floor: Mode, trusted: bool) -> str:
    if capability == "shell.exec" and preset.consumer:
        reason = f"shell is never allowed in the {preset.value} preset"
    elif CAPABILITIES[capability].risk >= Risk.HIGH:
        risk = CAPABILITIES[capability].risk.name.title()
        reason = f"{risk} risk is never automatic; the {preset.value} preset gives {floor.value}"
    else:
        reason = f"a persona may only narrow the {preset.value} preset, which gives {floor.value}"
    return reason if trusted else f"{reason} (untrusted persona: measured against Observer)"


def _plain(value: Any) -> Any:
    """Compiled parts as JSON-ready data (dataclasses by field, enums by value)."""
    if hasattr(value, "__dataclass_fields__"):
        return {name: _plain(getattr(value, name)) for name in value.__dataclass_fields__}
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mode | Preset):
        return value.value
    return value


def _canonical(parts: Mapping[str, Any]) -> bytes:
    return json.dumps(_plain(parts), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def compiled_dict(persona: CompiledPersona) -> dict[str, Any]:
    """The whole compiled persona as plain data (for ``--json`` and the audit log)."""
    data: dict[str, Any] = json.loads(canonical_bytes(persona))
    data["content_hash"] = persona.content_hash
    data["source_path"] = persona.source_path
    return data
