"""Persona schema version 1, as data, with located validation and canonical dumping.

:data:`SCHEMA` lists every field: its kind, range, default and what it affects
(the same text ``docs/personas.md`` documents). :func:`validate` checks a
loaded document against it, collects *every* problem as a located
:class:`PersonaError` (unknown keys, wrong types, out-of-range values, missing
required keys) and returns the document with all defaults filled in.
:func:`dump_persona` writes canonical YAML (sorted keys, no anchors) that
loads back to the same data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

import yaml

from aether_qt.engines.persona.errors import FieldPath, PersonaError, PersonaErrors, SourceMarks, dotted
from aether_qt.policy.capabilities import CAPABILITIES, Mode, Preset
from aether_qt.policy.decisions import RESERVED_ACTORS

ID_PATTERN: Final = re.compile(r"[a-z][a-z0-9_-]{1,31}")
COLOUR_PATTERN: Final = re.compile(r"#[0-9a-fA-F]{6}")
_CONTROL: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class Kind(Enum):
    """What a field holds; decides the check and the message."""

    TEXT = "text"  # a string (newlines and tabs allowed)
    INT = "int"  # a whole number within [low, high]
    NUMBER = "number"  # an int or float within [low, high]
    CHOICE = "choice"  # one of ``choices``
    ID = "id"  # ID_PATTERN
    COLOUR = "colour"  # COLOUR_PATTERN
    TEXT_LIST = "text_list"  # a list of strings
    PRESET = "preset"  # a Preset name
    MODES = "modes"  # capability id -> Mode value


@dataclass(frozen=True, slots=True)
class Field:
    """One leaf field of the schema."""

    kind: Kind
    doc: str
    default: Any = None
    required: bool = False
    low: float = 0.0
    high: float = 1.0
    choices: tuple[str, ...] = ()
    max_len: int = 200
    max_items: int = 50
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class Section:
    """A mapping of named fields and sections; unknown keys are rejected."""

    doc: str
    fields: Mapping[str, Field | Section] = field(default_factory=dict)


def _num(doc: str, default: float, low: float = 0.0, high: float = 1.0) -> Field:
    return Field(Kind.NUMBER, doc, default, low=low, high=high)


def _colour(doc: str, default: str) -> Field:
    return Field(Kind.COLOUR, doc, default)


def _pool(doc: str) -> Field:
    return Field(Kind.TEXT_LIST, doc, [], max_len=200, max_items=50)


SCHEMA: Final = Section(
    "A persona file (schema version 1).",
    {
        "schema_version": Field(
            Kind.INT, "Schema version of the file; 1 is current.", required=True, low=1, high=1
        ),
        "id": Field(Kind.ID, "Stable id: a lowercase letter, then 1-31 of a-z, 0-9, _ or -.", required=True),
        "name": Field(Kind.TEXT, "Display name.", required=True, max_len=64),
        "version": Field(Kind.TEXT, 'The persona\'s own version (quote it: "1.0").', "1.0.0", max_len=32),
        "tagline": Field(Kind.TEXT, "One line for the picker.", "", max_len=120),
        "system_prompt": Field(
            Kind.TEXT, "L4: the system prompt given to the model.", required=True, max_len=8000
        ),
        "style": Section(
            "L1: speaking style, each 0.0-1.0.",
            {
                "warmth": _num("Cool (0) to warm (1).", 0.5),
                "formality": _num("Casual (0) to formal (1).", 0.5),
                "verbosity": _num("Terse (0) to expansive (1).", 0.5),
                "humor": _num("Serious (0) to playful (1).", 0.3),
            },
        ),
        "voice": Section(
            "Speech out (pyttsx3 / espeak-ng).",
            {
                "voice_hint": Field(
                    Kind.TEXT, "Substring of a TTS voice name or language; empty = default.", ""
                ),
                "rate": Field(Kind.INT, "Speaking rate in words per minute.", 175, low=80, high=450),
                "pitch": Field(Kind.INT, "Pitch, espeak scale 0-99.", 50, low=0, high=99),
                "volume": _num("Volume 0.0-1.0.", 0.9),
            },
        ),
        "avatar": Section(
            "L3: the avatar's look.",
            {
                "palette": Section(
                    "Colours as #rrggbb.",
                    {
                        "primary": _colour("Main body colour.", "#7fb7ff"),
                        "secondary": _colour("Second gradient colour.", "#b69cff"),
                        "accent": _colour("Highlights and the speaking glow.", "#ffd29c"),
                        "background": _colour("Backdrop behind the avatar.", "#101420"),
                    },
                ),
                "shape": Field(
                    Kind.CHOICE, "Body shape.", "round", choices=("round", "soft-square", "droplet")
                ),
                "blink_rate": _num("Blinks per minute.", 15.0, low=10, high=20),
                "idle_motion": _num("Idle motion, 0.0 still to 1.0 lively.", 0.4),
                "gaze_style": Field(
                    Kind.CHOICE, "How the eyes wander.", "steady", choices=("steady", "curious", "shy")
                ),
            },
        ),
        "phrases": Section(
            "L1: spoken fillers; an empty pool falls back to the built-in one.",
            {
                "ack": _pool("Acknowledgements said while the model starts."),
                "clarify": _pool("Asking the user to rephrase."),
                "repair": _pool("Apologies when something failed."),
                "progress": _pool("Said when an answer takes long (addition to DESIGN.md §10)."),
            },
        ),
        "memory": Section(
            "L2: retention.",
            {
                "retention_days": Field(
                    Kind.INT, "Days memories live; null = forever.", 365, low=1, high=36500, nullable=True
                ),
                "remember": Field(
                    Kind.TEXT_LIST, "Topics the persona is told to remember.", [], max_len=120, max_items=32
                ),
            },
        ),
        "routing": Section(
            "L4: generation settings.",
            {
                "preferred_tier": Field(
                    Kind.CHOICE, "Preferred model tier.", "local", choices=("local", "remote", "reflex")
                ),
                "temperature": _num("Sampling temperature.", 0.7, high=2.0),
                "max_tokens": Field(Kind.INT, "Longest reply in tokens.", 300, low=16, high=4096),
                "privacy_posture": Field(
                    Kind.CHOICE,
                    "Where conversations may go.",
                    "local_only",
                    choices=("local_only", "ask", "allow_remote"),
                ),
            },
        ),
        "policy_defaults": Section(
            "L5: proposals to the gate; they may only narrow.",
            {
                "preset": Field(Kind.PRESET, "Proposed permission preset.", "Assistant"),
                "overrides": Field(
                    Kind.MODES, "Capability id -> mode; wider than the preset is clamped.", {}
                ),
            },
        ),
        "provenance": Section(
            "Where the persona comes from.",
            {
                "author": Field(Kind.TEXT, "Who wrote it.", ""),
                "license": Field(Kind.TEXT, "Its licence.", ""),
                "source": Field(Kind.TEXT, 'Origin; "card:<file>" marks an imported, untrusted card.', ""),
            },
        ),
    },
)
"""Schema version 1 (DESIGN.md §10, plus ``phrases.progress``)."""

_PATTERNS: Final = {Kind.ID: ID_PATTERN, Kind.COLOUR: COLOUR_PATTERN}
_EXPECTED: Final = {
    Kind.ID: "an id: a lowercase letter, then 1-31 of a-z, 0-9, _ or -",
    Kind.COLOUR: "a colour #rrggbb",
    Kind.PRESET: f"a preset ({', '.join(p.value for p in Preset)})",
}


@dataclass(slots=True)
class _Context:
    path: str
    marks: SourceMarks
    errors: list[PersonaError] = field(default_factory=list)

    def value_error(self, where: FieldPath, reason: str) -> None:
        self.errors.append(PersonaError.at(self.path, self.marks.value(where), f"{dotted(where)}: {reason}"))

    def key_error(self, where: FieldPath, reason: str) -> None:
        self.errors.append(PersonaError.at(self.path, self.marks.key(where), reason))


def validate(
    data: Mapping[str, Any], *, path: str = "<string>", marks: SourceMarks | None = None
) -> dict[str, Any]:
    """Check ``data`` against :data:`SCHEMA` and return it with every default filled in.

    Raises:
        PersonaErrors: every problem found, each located through ``marks`` (0:0 without them).
    """
    ctx = _Context(path, marks or SourceMarks())
    result = _section(SCHEMA, data, (), ctx)
    if ctx.errors:
        raise PersonaErrors(ctx.errors)
    return result


def _section(section: Section, data: Any, where: FieldPath, ctx: _Context) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        ctx.value_error(where, f"expected a mapping with keys: {', '.join(section.fields)}")
        return {}
    known = ", ".join(section.fields)
    place = f"in {dotted(where)}" if where else "at the top level"
    for key in data:
        if key not in section.fields:
            ctx.key_error((*where, key), f"unknown key {key!r} {place} (expected one of: {known})")
    result: dict[str, Any] = {}
    for name, spec in section.fields.items():
        here = (*where, name)
        if isinstance(spec, Section):
            result[name] = _section(spec, data.get(name, {}), here, ctx)
        elif name in data:
            result[name] = _field(spec, data[name], here, ctx)
        elif spec.required:
            ctx.key_error(where, f"missing required key {name!r} {place} ({spec.doc})")
        else:
            result[name] = _copy(spec.default)
    return result


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return value


def _field(spec: Field, value: Any, where: FieldPath, ctx: _Context) -> Any:
    if value is None and spec.nullable:
        return None
    if spec.kind is Kind.TEXT_LIST:
        return _text_list(spec, value, where, ctx)
    if spec.kind is Kind.MODES:
        return _modes(value, where, ctx)
    checked, problem = _scalar(spec, value)
    if problem:
        ctx.value_error(where, problem)
    return checked


def _scalar(spec: Field, value: Any) -> tuple[Any, str]:
    """Return (normalised value, "" if fine else what was expected)."""
    if spec.kind in (Kind.INT, Kind.NUMBER):
        return _number(spec, value)
    if not isinstance(value, str):
        return value, f"expected {_expected(spec)}, got {_describe(value)}"
    if spec.kind is Kind.PRESET:
        try:
            return Preset.parse(value).value, ""
        except ValueError as exc:
            return value, str(exc)
    return value, _text_problem(spec, value)


def _text_problem(spec: Field, value: str) -> str:
    pattern = _PATTERNS.get(spec.kind)
    if (spec.kind is Kind.CHOICE and value not in spec.choices) or (pattern and not pattern.fullmatch(value)):
        return f"expected {_expected(spec)}, got {value!r}"
    if spec.kind is Kind.ID and value in RESERVED_ACTORS:
        return f"the id {value!r} is reserved: it names the user or the app, not a persona"
    if spec.kind is Kind.TEXT and spec.required and not value.strip():
        return "expected non-empty text"
    if len(value) > spec.max_len:
        return f"text longer than {spec.max_len} characters"
    if _CONTROL.search(value):
        return "control characters are not allowed in text"
    return ""


def _number(spec: Field, value: Any) -> tuple[Any, str]:
    whole = spec.kind is Kind.INT
    allowed = (int,) if whole else (int, float)
    if isinstance(value, bool) or not isinstance(value, allowed) or not spec.low <= value <= spec.high:
        shown = value if isinstance(value, int | float) and not isinstance(value, bool) else _describe(value)
        return value, f"expected {_expected(spec)}, got {shown}"
    return (value if whole else float(value)), ""


def _text_list(spec: Field, value: Any, where: FieldPath, ctx: _Context) -> list[str]:
    if not isinstance(value, list):
        ctx.value_error(where, f"expected a list of text, got {_describe(value)}")
        return []
    if len(value) > spec.max_items:
        ctx.value_error(where, f"expected at most {spec.max_items} entries, got {len(value)}")
    item_spec = Field(Kind.TEXT, spec.doc, max_len=spec.max_len, required=True)
    for index, item in enumerate(value):
        _checked, problem = _scalar(item_spec, item)
        if problem:
            ctx.value_error((*where, index), problem)
    return list(value)


def _modes(value: Any, where: FieldPath, ctx: _Context) -> dict[str, str]:
    if not isinstance(value, Mapping):
        ctx.value_error(where, f"expected a mapping of capability -> mode, got {_describe(value)}")
        return {}
    modes = ", ".join(m.value for m in Mode)
    result: dict[str, str] = {}
    for cap, mode in value.items():
        if cap not in CAPABILITIES:
            ctx.key_error(
                (*where, cap),
                f"unknown capability {cap!r} in {dotted(where)} (expected one of: {', '.join(CAPABILITIES)})",
            )
        elif not isinstance(mode, str) or mode not in {m.value for m in Mode}:
            ctx.value_error((*where, cap), f"expected a mode ({modes}), got {_describe(mode)}")
        else:
            result[cap] = mode
    return dict(sorted(result.items()))


def _expected(spec: Field) -> str:
    if spec.kind is Kind.INT:
        return f"a whole number {spec.low:g}-{spec.high:g}" + (" or null" if spec.nullable else "")
    if spec.kind is Kind.NUMBER:
        return f"a number {spec.low:.1f}-{spec.high:.1f}"
    if spec.kind is Kind.CHOICE:
        return f"one of: {', '.join(spec.choices)}"
    return _EXPECTED.get(spec.kind, "text")


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"text {value[:40]!r}"
    return f"{type(value).__name__} {value!r}"


class _CanonicalDumper(yaml.SafeDumper):
    """Safe dumper that never writes anchors and writes multi-line text as ``|`` blocks."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_CanonicalDumper.add_representer(str, _represent_str)


def dump_persona(data: Mapping[str, Any]) -> str:
    """Canonical YAML for ``data``: sorted keys, block style, UTF-8 text, no anchors or tags."""
    text: str = yaml.dump(
        dict(data),
        Dumper=_CanonicalDumper,
        sort_keys=True,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
    return text
