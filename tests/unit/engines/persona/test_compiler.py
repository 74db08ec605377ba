"""Tests of the persona compiler and its policy clamps (aether_qt/engines/persona/compiler.py)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from aether_qt.engines.persona.compiler import (
    canonical_bytes,
    compile_persona,
    compile_policy,
    compiled_dict,
    load_and_compile,
)
from aether_qt.engines.persona.errors import PersonaError
from aether_qt.engines.persona.loader import load_persona_text
from aether_qt.engines.persona.registry import shipped_personas_dir
from aether_qt.policy.capabilities import CAPABILITIES, Mode, Preset, Risk, preset_mode

BASE = "schema_version: 1\nid: tester\nname: Tester\nsystem_prompt: Be brief.\n"


def _compile(text: str, *, trusted: bool = True):  # type: ignore[no-untyped-def]
    loaded = load_persona_text(text, path="t.yaml")
    return compile_persona(loaded.data, source_path="t.yaml", trusted=trusted, marks=loaded.marks)


def _overrides(lines: dict[str, str], preset: str = "Assistant") -> str:
    body = "".join(f"    {cap}: {mode}\n" for cap, mode in lines.items())
    return BASE + f"policy_defaults:\n  preset: {preset}\n  overrides:\n{body}"


def test_parts_carry_every_layer() -> None:
    persona = load_and_compile(shipped_personas_dir() / "aether.yaml")
    assert persona.persona_id == "aether" and persona.schema_version == 1
    assert len(persona.interaction.phrases["ack"]) >= 6
    assert set(persona.interaction.phrases) == {"ack", "clarify", "repair", "progress"}
    assert 0.0 <= persona.interaction.warmth <= 1.0
    assert persona.memory.retention_days == 365 and persona.memory.remember
    assert persona.visual.palette["primary"].startswith("#") and persona.visual.shape == "round"
    assert persona.voice.rate == 170
    assert "Aether" in persona.router.system_prompt and persona.router.privacy_posture == "allow_remote"
    assert persona.policy.preset is Preset.ASSISTANT and persona.policy.clamps == ()
    assert persona.summary.name == "Aether" and persona.summary.trusted
    assert persona.source_path.endswith("aether.yaml")
    with pytest.raises(dataclasses.FrozenInstanceError):
        persona.persona_id = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        persona.visual.palette["primary"] = "#000000"  # type: ignore[index]


def test_same_input_same_bytes_and_hash_whatever_the_key_order() -> None:
    text = BASE + "style:\n  warmth: 0.7\n  humor: 0.1\nvoice:\n  rate: 200\n"
    reordered = (
        "voice:\n  rate: 200\nstyle:\n  humor: 0.1\n  warmth: 0.7\n"
        "system_prompt: Be brief.\nname: Tester\nid: tester\nschema_version: 1\n"
    )
    first, second, third = _compile(text), _compile(text), _compile(reordered)
    assert canonical_bytes(first) == canonical_bytes(second) == canonical_bytes(third)
    assert first.content_hash == third.content_hash
    assert first == third
    explicit_defaults = _compile(text + "memory:\n  retention_days: 365\n")
    assert explicit_defaults.content_hash == first.content_hash


def test_hash_changes_with_content_but_not_with_the_path() -> None:
    a = _compile(BASE)
    b = _compile(BASE.replace("Be brief.", "Be briefer."))
    assert a.content_hash != b.content_hash
    c = compile_persona(load_persona_text(BASE).data, source_path="/elsewhere.yaml")
    assert c.content_hash == a.content_hash and c == a
    assert b"elsewhere" not in canonical_bytes(c)
    assert json.loads(canonical_bytes(a))["persona_id"] == "tester"
    plain = compiled_dict(a)
    assert plain["content_hash"] == a.content_hash and plain["policy"]["preset"] == "Assistant"


def test_shell_exec_auto_is_clamped_to_deny_in_consumer_presets() -> None:
    persona = _compile(_overrides({"shell.exec": "auto"}))
    assert persona.policy.overrides["shell.exec"] is Mode.DENY
    (clamp,) = persona.policy.clamps
    assert (clamp.capability, clamp.requested, clamp.granted) == ("shell.exec", Mode.AUTO, Mode.DENY)
    assert clamp.reason == "shell is never allowed in the Assistant preset"


def test_high_risk_is_never_auto_even_in_power_user() -> None:
    persona = _compile(_overrides({"files.delete": "auto", "shell.exec": "auto"}, preset="PowerUser"))
    assert persona.policy.overrides == {"files.delete": Mode.ASK, "shell.exec": Mode.ASK}
    reasons = {c.capability: c.reason for c in persona.policy.clamps}
    assert reasons["files.delete"] == "High risk is never automatic; the PowerUser preset gives ask"
    assert reasons["shell.exec"].startswith("Critical risk is never automatic")


def test_narrowing_is_kept_and_widening_is_clamped() -> None:
    persona = _compile(_overrides({"files.read": "deny", "net.fetch": "auto", "notify.send": "auto"}))
    assert persona.policy.overrides == {
        "files.read": Mode.DENY,
        "net.fetch": Mode.ASK,
        "notify.send": Mode.AUTO,
    }
    (clamp,) = persona.policy.clamps
    assert clamp.reason == "a persona may only narrow the Assistant preset, which gives ask"


def test_untrusted_personas_are_measured_against_observer() -> None:
    text = _overrides({"files.read": "auto", "memory.read": "auto"}, preset="PowerUser")
    persona = _compile(text, trusted=False)
    assert persona.policy.preset is Preset.OBSERVER and not persona.summary.trusted
    assert persona.policy.overrides == {"files.read": Mode.ASK, "memory.read": Mode.AUTO}
    (clamp,) = persona.policy.clamps
    assert clamp.reason.endswith("(untrusted persona: measured against Observer)")


def test_card_provenance_is_never_trusted() -> None:
    persona = _compile(BASE + "provenance:\n  source: 'card:alice.png (chara_card_v2)'\n", trusted=True)
    assert not persona.summary.trusted and persona.policy.preset is Preset.OBSERVER


@pytest.mark.parametrize("preset", list(Preset))
@pytest.mark.parametrize("trusted", [True, False])
def test_granted_is_never_wider_than_the_preset_for_any_capability(preset: Preset, trusted: bool) -> None:
    policy = compile_policy(
        {"preset": preset.value, "overrides": dict.fromkeys(CAPABILITIES, "auto")}, trusted=trusted
    )
    floor_preset = preset if trusted else Preset.OBSERVER
    for cap, granted in policy.overrides.items():
        assert granted.strictness >= preset_mode(floor_preset, cap).strictness
        if CAPABILITIES[cap].risk >= Risk.HIGH:
            assert granted.strictness >= Mode.ASK.strictness
        if cap == "shell.exec" and floor_preset.consumer:
            assert granted is Mode.DENY
    assert {c.capability for c in policy.clamps} == {
        c for c, m in policy.overrides.items() if m is not Mode.AUTO
    }


def test_invalid_documents_raise_located_errors(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(BASE + "style:\n  warmth: hot\n", encoding="utf-8")
    with pytest.raises(PersonaError) as info:
        load_and_compile(broken)
    assert str(info.value) == f"{broken}:6:11: style.warmth: expected a number 0.0-1.0, got text 'hot'"
    with pytest.raises(PersonaError) as info:
        compile_persona({"schema_version": 1})
    assert str(info.value).startswith("<string>:0:0: missing required key")
