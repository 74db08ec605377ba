"""The wizard's can / asks / never lists come from the policy tables and never promise more than the gate."""

from __future__ import annotations

import pytest

from aether_qt.policy.capabilities import CAPABILITIES, Preset, Risk, preset_mode
from aether_qt.widgets.onboarding.preset_words import PLAIN, PRESET_WORDS, preset_lists


def words(cap_id: str) -> str:
    return PLAIN.get(cap_id, CAPABILITIES[cap_id].description)


@pytest.mark.parametrize("preset", list(Preset))
def test_every_capability_is_in_exactly_one_list(preset: Preset) -> None:
    lists = preset_lists(preset)
    every = [*lists.can, *lists.asks, *lists.never]
    assert sorted(every) == sorted(words(cap) for cap in CAPABILITIES)


@pytest.mark.parametrize("preset", list(Preset))
def test_nothing_high_risk_is_done_without_asking(preset: Preset) -> None:
    can = set(preset_lists(preset).can)
    assert not [cap for cap, c in CAPABILITIES.items() if c.risk >= Risk.HIGH and words(cap) in can]


def test_commands_are_never_run_in_the_consumer_presets_and_asked_for_in_the_others() -> None:
    shell = words("shell.exec")
    assert shell in preset_lists(Preset.OBSERVER).never and shell in preset_lists(Preset.ASSISTANT).never
    assert shell in preset_lists(Preset.OPERATOR).asks and shell in preset_lists(Preset.POWER_USER).asks


def test_the_lists_follow_the_table() -> None:
    lists = preset_lists(Preset.ASSISTANT)
    assert preset_mode(Preset.ASSISTANT, "files.read").value == "auto"
    assert words("files.read") in lists.can
    assert words("files.edit") in lists.asks and words("router.remote_private") in lists.never
    assert set(PRESET_WORDS) == set(Preset)
