"""Tests of the persona migration registry (aether_qt/engines/persona/migrations.py)."""

from __future__ import annotations

from typing import Any

import pytest

from aether_qt.engines.persona.compiler import compile_persona
from aether_qt.engines.persona.errors import PersonaError
from aether_qt.engines.persona.loader import load_persona_text
from aether_qt.engines.persona.migrations import CURRENT_SCHEMA_VERSION, MIGRATIONS, migrate

V0 = "schema_version: 0\nid: old\nname: Old\nsystem_prompt: Hi.\nvoice:\n  speed: 1.2\n  pitch: 40\n"


def test_current_version_is_one_and_every_step_is_registered() -> None:
    assert CURRENT_SCHEMA_VERSION == 1
    assert sorted(MIGRATIONS) == list(range(min(MIGRATIONS), CURRENT_SCHEMA_VERSION))


def test_version_0_speed_becomes_rate() -> None:
    loaded = load_persona_text(V0)
    migrated = migrate(loaded.data)
    assert migrated["schema_version"] == 1
    assert migrated["voice"] == {"rate": 210, "pitch": 40}
    assert loaded.data["voice"]["speed"] == 1.2  # the input is not changed


def test_version_0_file_compiles_to_the_same_persona_as_its_v1_form() -> None:
    v1 = V0.replace("schema_version: 0", "schema_version: 1").replace("speed: 1.2", "rate: 210")
    old = compile_persona(load_persona_text(V0).data)
    new = compile_persona(load_persona_text(v1).data)
    assert old.voice.rate == 210
    assert old.content_hash == new.content_hash


def test_version_0_bad_speed_is_reported_at_rate() -> None:
    loaded = load_persona_text(V0.replace("speed: 1.2", "speed: fast"), path="o.yaml")
    with pytest.raises(PersonaError) as info:
        compile_persona(loaded.data, source_path="o.yaml", marks=loaded.marks)
    assert "voice.rate: expected a whole number 80-450, got text 'fast'" in str(info.value)
    assert (info.value.line, info.value.column) == (6, 3)  # the voice mapping: the speed key is gone


@pytest.mark.parametrize("speed", [".inf", ".nan", "-.inf", "true"])
def test_version_0_unusable_speed_is_a_located_error_not_a_crash(speed: str) -> None:
    loaded = load_persona_text(V0.replace("speed: 1.2", f"speed: {speed}"))
    with pytest.raises(PersonaError, match=r"voice\.rate: expected a whole number 80-450"):
        compile_persona(loaded.data, marks=loaded.marks)


def test_version_0_without_speed_keeps_its_voice() -> None:
    migrated = migrate(load_persona_text(V0.replace("  speed: 1.2\n", "")).data)
    assert migrated["voice"] == {"pitch": 40} and migrated["schema_version"] == 1


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        ("2", "schema_version 2 is newer than this app (1)"),
        ("-1", "schema_version -1 is not supported (oldest: 0)"),
        ("'1'", "schema_version: expected a whole number, got '1'"),
        ("true", "schema_version: expected a whole number, got True"),
    ],
)
def test_unusable_versions_are_located(version: str, reason: str) -> None:
    loaded = load_persona_text(f"id: x\nschema_version: {version}\n", path="v.yaml")
    with pytest.raises(PersonaError) as info:
        migrate(loaded.data, path="v.yaml", marks=loaded.marks)
    assert str(info.value) == f"v.yaml:2:17: {reason}"


def test_missing_version_is_left_to_validation() -> None:
    assert migrate({"id": "x"}) == {"id": "x"}


def test_a_registry_chain_runs_in_order() -> None:
    calls: list[int] = []

    def step(n: int) -> Any:
        def run(data: dict[str, Any]) -> dict[str, Any]:
            calls.append(n)
            return {**data, f"v{n + 1}": True}

        return run

    result = migrate({"schema_version": 1}, migrations={1: step(1), 2: step(2)}, current=3)
    assert calls == [1, 2]
    assert result == {"schema_version": 3, "v2": True, "v3": True}
