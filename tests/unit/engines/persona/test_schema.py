"""Tests of the v1 schema: located validation, defaults and canonical dumping (schema.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aether_qt.engines.persona.errors import PersonaError, PersonaErrors
from aether_qt.engines.persona.loader import load_persona_text
from aether_qt.engines.persona.schema import SCHEMA, Field, Section, dump_persona, validate

DOCS = Path(__file__).resolve().parents[4] / "docs" / "personas.md"

MINIMAL = "schema_version: 1\nid: tester\nname: Tester\nsystem_prompt: Be brief.\n"


def _errors(text: str) -> list[str]:
    loaded = load_persona_text(text, path="t.yaml")
    with pytest.raises(PersonaErrors) as info:
        validate(loaded.data, path="t.yaml", marks=loaded.marks)
    return [str(e) for e in info.value.errors]


def _leaves(section: Section, prefix: str = "") -> list[tuple[str, Field]]:
    found: list[tuple[str, Field]] = []
    for name, spec in section.fields.items():
        here = f"{prefix}{name}"
        found += _leaves(spec, f"{here}.") if isinstance(spec, Section) else [(here, spec)]
    return found


def test_minimal_file_gets_every_default() -> None:
    data = validate(load_persona_text(MINIMAL).data)
    assert data["style"] == {"warmth": 0.5, "formality": 0.5, "verbosity": 0.5, "humor": 0.3}
    assert data["avatar"]["palette"]["primary"] == "#7fb7ff"
    assert data["phrases"] == {"ack": [], "clarify": [], "repair": [], "progress": []}
    assert data["policy_defaults"] == {"preset": "Assistant", "overrides": {}}
    assert data["routing"]["privacy_posture"] == "local_only"
    assert data["memory"]["retention_days"] == 365


def test_defaults_are_not_shared_between_documents() -> None:
    first = validate(load_persona_text(MINIMAL).data)
    first["phrases"]["ack"].append("mutated")
    first["policy_defaults"]["overrides"]["files.read"] = "deny"
    second = validate(load_persona_text(MINIMAL).data)
    assert second["phrases"]["ack"] == []
    assert second["policy_defaults"]["overrides"] == {}


def test_every_default_is_itself_valid() -> None:
    full = validate(load_persona_text(MINIMAL).data)
    assert validate(full) == full
    assert {name for name, _spec in _leaves(SCHEMA)} <= {".".join(p) for p in _paths(full)}


def _paths(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for key, value in data.items():
        here = (*prefix, key)
        found += _paths(value, here) if isinstance(value, dict) and value else [here]
    return found


def test_all_problems_are_reported_with_positions() -> None:
    text = (
        "schema_version: 1\nid: Bad Id\nname: ''\n"
        "style:\n  warmth: 2\n  sparkle: 1\n"
        "voice:\n  rate: 1.5\n  pitch: true\n"
        "avatar:\n  palette: {primary: red}\n  shape: cube\n"
        "phrases:\n  ack: [ok, 3]\n  clarify: nope\n"
        "memory:\n  retention_days: null\n"
        "routing: []\n"
        "policy_defaults:\n  preset: Root\n  overrides:\n    shell.exec: sometimes\n    teleport: auto\n"
    )
    errors = _errors(text)
    expected = [
        "t.yaml:1:1: missing required key 'system_prompt' at the top level",
        "t.yaml:2:5: id: expected an id",
        "t.yaml:3:7: name: expected non-empty text",
        "t.yaml:5:11: style.warmth: expected a number 0.0-1.0, got 2",
        "t.yaml:6:3: unknown key 'sparkle' in style (expected one of: warmth, formality, verbosity, humor)",
        "t.yaml:8:9: voice.rate: expected a whole number 80-450, got 1.5",
        "t.yaml:9:10: voice.pitch: expected a whole number 0-99, got true",
        "t.yaml:11:22: avatar.palette.primary: expected a colour #rrggbb, got 'red'",
        "t.yaml:12:10: avatar.shape: expected one of: round, soft-square, droplet, got 'cube'",
        "t.yaml:14:13: phrases.ack[1]: expected text, got int 3",
        "t.yaml:15:12: phrases.clarify: expected a list of text, got text 'nope'",
        "t.yaml:18:10: routing: expected a mapping with keys:",
        "t.yaml:20:11: policy_defaults.preset: unknown preset 'Root'",
        "t.yaml:22:17: policy_defaults.overrides.shell.exec: expected a mode (auto, task, ask, draft, deny",
        "t.yaml:23:5: unknown capability 'teleport' in policy_defaults.overrides (expected one of: files",
    ]
    assert len(errors) == len(expected), "\n".join(errors)
    for got, want in zip(errors, expected, strict=True):
        assert got.startswith(want), (got, want)


@pytest.mark.parametrize(
    ("snippet", "words"),
    [
        ("tagline: " + "x" * 121, "longer than 120"),
        ('tagline: "a\\x01b"', "control characters"),
        ("version: 1.0", "expected text, got float 1.0"),
        ("phrases:\n  ack: [" + ", ".join(["a"] * 51) + "]", "at most 50 entries"),
        ("policy_defaults:\n  overrides: [shell.exec]", "expected a mapping of capability -> mode"),
        ("policy_defaults:\n  overrides:\n    files.read: 3", "got int 3"),
        ("memory:\n  retention_days: 0", "a whole number 1-36500 or null"),
        ("style: 5", "expected a mapping"),
        ("tagline: null", "expected text, got null"),
        ("tagline: false", "expected text, got false"),
        ("tagline: {a: 1}", "expected text, got a mapping"),
        ("tagline: [a]", "expected text, got a list"),
        ("avatar:\n  palette:\n    primary: '#12345'", "#rrggbb"),
    ],
)
def test_field_checks(snippet: str, words: str) -> None:
    errors = _errors(MINIMAL + snippet + "\n")
    assert any(words in e for e in errors), errors


def test_normalisation() -> None:
    text = MINIMAL + "style:\n  warmth: 1\npolicy_defaults:\n  preset: power_user\n  overrides:\n"
    text += "    shell.exec: ask\n    files.read: deny\nmemory:\n  retention_days: null\n"
    data = validate(load_persona_text(text).data)
    assert data["style"]["warmth"] == 1.0 and isinstance(data["style"]["warmth"], float)
    assert data["policy_defaults"]["preset"] == "PowerUser"
    assert list(data["policy_defaults"]["overrides"]) == ["files.read", "shell.exec"]
    assert data["memory"]["retention_days"] is None


def test_non_mapping_document_and_unlocated_errors() -> None:
    with pytest.raises(PersonaError) as info:
        validate({"schema_version": 1, "id": "ab", "name": "x", "system_prompt": "y", "oops": 1})
    assert (
        str(info.value)
        == "<string>:0:0: unknown key 'oops' at the top level (expected one of: "
        + ", ".join(SCHEMA.fields)
        + ")"
    )
    with pytest.raises(PersonaErrors):
        validate([])  # type: ignore[arg-type]


def test_dump_is_canonical_and_round_trips() -> None:
    data = validate(load_persona_text(MINIMAL + "tagline: 'yes'\n").data)
    data["system_prompt"] = "Line one.\nLine two.\n"
    shared = ["same", "list"]
    data["phrases"]["ack"] = shared
    data["phrases"]["repair"] = shared  # the same object twice must not become an anchor
    text = dump_persona(data)
    assert "&" not in text and "*" not in text and "!!" not in text
    assert "system_prompt: |" in text
    assert "tagline: 'yes'" in text
    assert load_persona_text(text).data == data
    assert dump_persona(load_persona_text(text).data) == text


def test_docs_describe_every_field() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    missing = [name for name, _spec in _leaves(SCHEMA) if f"`{name}`" not in docs]
    assert not missing, f"docs/personas.md does not describe: {missing}"


@pytest.mark.parametrize("reserved", ["user", "system", "assistant", "default", "gate"])
def test_a_persona_file_cannot_take_a_reserved_actor_id(reserved: str) -> None:
    # "user" is the actor of the user's own acts and grants; a persona with that id would share them
    [error] = _errors(MINIMAL.replace("id: tester", f"id: {reserved}"))
    assert error.startswith("t.yaml:2:5:") and "reserved" in error and repr(reserved) in error
