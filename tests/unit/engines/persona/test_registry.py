"""Tests of persona discovery, the shipped personas and the fallback (registry.py)."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from aether_qt.engines.persona.registry import (
    MINIMUM_TRUST,
    find_entry,
    find_persona,
    list_personas,
    persona_files,
    shipped_personas_dir,
    user_personas_dir,
)
from aether_qt.policy.capabilities import Preset

SHIPPED = ("aether", "pip", "sage")
GOOD = "schema_version: 1\nid: {id}\nname: {name}\nsystem_prompt: Hello.\n"


def test_shipped_personas_compile_cleanly_and_differ() -> None:
    entries = {e.persona_id: e for e in list_personas(None)}
    assert set(SHIPPED) <= set(entries)
    personas = [entries[i].persona for i in SHIPPED]
    assert all(p is not None for p in personas)
    for p in personas:
        assert p is not None and p.summary.trusted and p.policy.clamps == ()
        phrases = p.interaction.phrases
        assert len(phrases["ack"]) >= 6
        assert all(len(phrases[pool]) >= 5 for pool in ("clarify", "repair", "progress"))
    for a, b in itertools.combinations(personas, 2):
        assert a is not None and b is not None
        assert a.router.system_prompt != b.router.system_prompt
        assert set(a.interaction.phrases["ack"]).isdisjoint(b.interaction.phrases["ack"])
        assert a.voice.voice_hint != b.voice.voice_hint
        assert (a.voice.rate, a.voice.pitch) != (b.voice.rate, b.voice.pitch)
        assert a.visual.palette != b.visual.palette
        assert a.visual.shape != b.visual.shape
        assert a.visual.blink_rate != b.visual.blink_rate
        assert (a.interaction.warmth, a.interaction.humor) != (b.interaction.warmth, b.interaction.humor)


def test_user_personas_shadow_shipped_ones_and_broken_files_are_listed(tmp_path: Path) -> None:
    user = user_personas_dir(tmp_path)
    assert user == tmp_path / "personas"
    user.mkdir()
    (user / "mine.yaml").write_text(GOOD.format(id="aether", name="My Aether"), encoding="utf-8")
    (user / "broken.yml").write_text("id: [\n", encoding="utf-8")
    (user / ".hidden.yaml").write_text("x", encoding="utf-8")
    (user / "notes.txt").write_text("x", encoding="utf-8")
    entries = list_personas(user)
    assert [(e.persona_id, e.origin, e.ok) for e in entries[:2]] == [
        ("broken", "user", False),
        ("aether", "user", True),
    ]
    broken = entries[0]
    assert broken.summary is None and broken.error is not None
    assert str(broken.error).startswith(f"{user / 'broken.yml'}:2:1: invalid YAML")
    found = find_entry("aether", user)
    assert found is not None and found.summary is not None and found.summary.name == "My Aether"
    assert find_persona("aether", user) == user / "mine.yaml"
    assert find_persona("pip", user) == shipped_personas_dir() / "pip.yaml"
    assert find_persona("broken", user) == user / "broken.yml"
    again = find_entry("broken", user)
    assert again is not None and not again.ok and str(again.error) == str(broken.error)
    assert find_entry("sage", user) is not None
    assert find_entry("nobody", user) is None and find_persona("nobody", user) is None


def test_persona_files_of_a_missing_folder(tmp_path: Path) -> None:
    assert persona_files(tmp_path / "absent") == []
    assert [e.persona_id for e in list_personas(tmp_path / "absent", shipped_dir=tmp_path)] == []


def test_shipped_dir_is_the_repository_folder() -> None:
    assert (shipped_personas_dir() / "aether.yaml").is_file()


def test_minimum_trust_persona() -> None:
    assert MINIMUM_TRUST.persona_id == "minimum_trust"
    assert MINIMUM_TRUST.policy.preset is Preset.OBSERVER
    assert MINIMUM_TRUST.policy.overrides == {} and MINIMUM_TRUST.policy.clamps == ()
    assert MINIMUM_TRUST.router.privacy_posture == "local_only"
    assert MINIMUM_TRUST.interaction.humor == 0.0
    assert MINIMUM_TRUST.source_path == "<built-in>"
    assert len(MINIMUM_TRUST.content_hash) == 64


def test_packaged_personas_are_preferred(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aether_qt.engines.persona import registry

    (tmp_path / "_data" / "personas").mkdir(parents=True)
    monkeypatch.setattr(registry.resources, "files", lambda _package: tmp_path)
    assert shipped_personas_dir() == tmp_path / "_data" / "personas"


def test_listing_again_parses_only_files_whose_bytes_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the app lists every persona three times as it starts: the YAML is parsed once per content
    from aether_qt.engines.persona import registry

    user = tmp_path / "personas"
    user.mkdir()
    (user / "alpha.yaml").write_text(GOOD.format(id="alpha", name="Alpha"))
    (user / "beta.yaml").write_text(GOOD.format(id="beta", name="Betty"))
    parsed: list[str] = []
    real = registry.load_persona_bytes
    monkeypatch.setattr(
        registry,
        "load_persona_bytes",
        lambda raw, *, path: parsed.append(Path(path).name) or real(raw, path=path),
    )
    empty = tmp_path / "none"
    first = list_personas(user, shipped_dir=empty)
    again = list_personas(user, shipped_dir=empty)
    assert sorted(parsed) == ["alpha.yaml", "beta.yaml"]
    assert [e.persona for e in again] == [e.persona for e in first]
    st = (user / "beta.yaml").stat()
    (user / "beta.yaml").write_text(GOOD.format(id="beta", name="Bella"))  # same size
    os.utime(user / "beta.yaml", ns=(st.st_atime_ns, st.st_mtime_ns))  # same time: only the bytes differ
    changed = {e.persona_id: e for e in list_personas(user, shipped_dir=empty)}
    assert sorted(parsed) == ["alpha.yaml", "beta.yaml", "beta.yaml"]
    summary = changed["beta"].summary
    assert summary is not None and summary.name == "Bella"
