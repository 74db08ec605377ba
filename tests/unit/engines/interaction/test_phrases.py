"""Tests of phrase pools: seeded, non-repeating selection and the default persona loader."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from aether_qt.engines.interaction.phrases import (
    DEFAULT_PERSONA_FILE,
    DEFAULT_PHRASES,
    DEFAULT_SYSTEM_PROMPT,
    SAFETY_PHRASES,
    PhrasePools,
    load_default_persona,
    load_default_pools,
)

POOLS = ("ack", "clarify", "repair", "progress", "safety")


def test_shipped_persona_has_enough_phrases() -> None:
    persona = load_default_persona()
    assert DEFAULT_PERSONA_FILE.is_file()
    assert (persona.persona_id, persona.name) == ("aether", "Aether")
    assert "Aether" in persona.system_prompt
    pools = persona.pools
    assert len(pools.phrases("ack")) >= 6
    assert len(pools.phrases("clarify")) >= 5
    assert len(pools.phrases("repair")) >= 5
    assert len(pools.phrases("progress")) >= 5
    assert pools.phrases("ack2") == pools.phrases("ack")
    assert pools.phrases("safety") == SAFETY_PHRASES


@pytest.mark.parametrize("pool", POOLS)
def test_never_the_same_phrase_twice_in_a_row(pool: str) -> None:
    pools = load_default_pools()
    picks = [pools.pick(pool, turn_seed=f"turn-{i}") for i in range(300)]  # type: ignore[arg-type]
    assert all(a != b for a, b in itertools.pairwise(picks))
    assert len(set(picks)) == len(pools.phrases(pool))  # type: ignore[arg-type]


@pytest.mark.parametrize("pool", ["ack", "clarify", "repair", "progress"])
def test_repetition_over_100_turns_is_under_5_percent(pool: str) -> None:
    pools = PhrasePools(DEFAULT_PHRASES)
    previous: str | None = None
    repeats = 0
    for turn in range(100):
        seed = f"t{turn}"
        phrase = pools.pick(pool, turn_seed=seed)  # type: ignore[arg-type]
        if pool == "ack":
            pools.pick("ack2", turn_seed=seed)  # a slow turn: a second ack in between
        repeats += phrase == previous
        previous = phrase
    assert repeats / 100 < 0.05


def test_second_ack_differs_from_this_turns_first_even_in_a_two_phrase_pool() -> None:
    pools = PhrasePools({"ack": ["one", "two"]})
    for turn in range(50):
        first = pools.pick("ack", turn_seed=f"t{turn}")
        pools.pick("clarify", turn_seed=f"t{turn}")
        assert pools.pick("ack2", turn_seed=f"t{turn}") != first


def test_ack2_of_another_turn_only_avoids_recent_picks() -> None:
    pools = PhrasePools({"ack": ["one", "two", "three"]})
    first = pools.pick("ack", turn_seed="a")
    assert pools.pick("ack2", turn_seed="b") != first


def test_selection_is_seeded_per_turn() -> None:
    first = PhrasePools(DEFAULT_PHRASES)
    second = PhrasePools(DEFAULT_PHRASES)
    seeds = [f"turn-{i}" for i in range(30)]
    assert [first.pick("ack", turn_seed=s) for s in seeds] == [second.pick("ack", turn_seed=s) for s in seeds]


def test_pool_of_one_phrase_repeats_and_missing_pools_fall_back() -> None:
    pools = PhrasePools({"repair": ["Sorry."], "clarify": ["  ", ""], "safety": ["anything goes"]})
    assert [pools.pick("repair", turn_seed=str(i)) for i in range(3)] == ["Sorry."] * 3
    assert pools.phrases("clarify") == DEFAULT_PHRASES["clarify"]
    assert pools.phrases("safety") == SAFETY_PHRASES  # no persona can change the Safety pool
    assert pools.pick("safety", turn_seed="x") in SAFETY_PHRASES


def test_duplicate_phrases_are_collapsed() -> None:
    pools = PhrasePools({"ack": ["Hi.", "Hi.", " Hi. ", "Hello."]})
    assert pools.phrases("ack") == ("Hi.", "Hello.")


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "persona.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "content",
    [
        "phrases: [unclosed",  # YAML error
        b"\xff\xfe not utf-8",  # undecodable
        "- just\n- a list\n",  # not a mapping
        "id: x\nphrases: nope\n",  # phrases not a mapping
    ],
)
def test_unreadable_persona_falls_back_to_built_ins(tmp_path: Path, content: str | bytes) -> None:
    persona = load_default_persona(_write(tmp_path, content))
    assert persona.pools.phrases("ack") == DEFAULT_PHRASES["ack"]
    assert persona.system_prompt in (DEFAULT_SYSTEM_PROMPT,)


def test_missing_persona_file_falls_back(tmp_path: Path) -> None:
    pools = load_default_pools(tmp_path / "absent.yaml")
    assert pools.phrases("repair") == DEFAULT_PHRASES["repair"]


def test_partial_persona_keeps_what_is_valid(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "id: mine\nname: Mine\nsystem_prompt: ' '\nphrases:\n  ack: [Yo., 3, Sup.]\n  repair: oops\n",
    )
    persona = load_default_persona(path)
    assert (persona.persona_id, persona.name) == ("mine", "Mine")
    assert persona.system_prompt == DEFAULT_SYSTEM_PROMPT
    assert persona.pools.phrases("ack") == ("Yo.", "Sup.")
    assert persona.pools.phrases("repair") == DEFAULT_PHRASES["repair"]
