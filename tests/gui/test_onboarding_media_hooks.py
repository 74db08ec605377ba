"""What Finish does with the voice and model pages' picks, through the app's own hooks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring_support import key_file_runtime
from pytestqt.qtbot import QtBot
from wizard_media_support import gguf

from aether_qt.engines.router.models import SETTING_MODEL, find_model
from aether_qt.onboarding import MediaHooks
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.settings.voice import SETTING_PTT_KEY, SETTING_SPEAK
from aether_qt.widgets.onboarding.choices import ModelChoice, ModelKind, OnboardingChoices


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[PolicyRuntime]:
    with key_file_runtime(tmp_path / "home") as rt:
        yield rt


@pytest.fixture
def hooks(runtime: PolicyRuntime, qtbot: QtBot) -> Iterator[MediaHooks]:
    made = MediaHooks(runtime)
    yield made
    made.close()


def test_voice_choices_are_stored_and_said(runtime: PolicyRuntime, hooks: MediaHooks) -> None:
    choices = OnboardingChoices(voice=True, ptt_key="F8", speak_replies=True)
    done = hooks.apply(runtime, choices)
    assert runtime.settings.get_as(SETTING_SPEAK, bool, False) is True
    assert runtime.settings.get_as(SETTING_PTT_KEY, str, "") == "F8"
    assert any("F8" in line for line in done)


def test_text_only_turns_speech_off(runtime: PolicyRuntime, hooks: MediaHooks) -> None:
    runtime.settings.set(SETTING_SPEAK, True)
    done = hooks.apply(runtime, OnboardingChoices(voice=False, ptt_key="F8"))
    assert runtime.settings.get_as(SETTING_SPEAK, bool, True) is False
    assert runtime.settings.get_as(SETTING_PTT_KEY, str, "") == ""  # text only: the key is not asked
    assert done == ["Aether answers in text only."]


def test_an_own_gguf_becomes_the_model(runtime: PolicyRuntime, hooks: MediaHooks, tmp_path: Path) -> None:
    path = tmp_path / "mine.gguf"
    path.write_bytes(gguf())
    done = hooks.apply(runtime, OnboardingChoices(model=ModelChoice(ModelKind.GGUF, path=path)))
    model_id = runtime.settings.get_as(SETTING_MODEL, str, "")
    assert model_id and find_model(runtime.paths.models_dir, model_id) is not None
    assert model_id in done[0]


def test_a_broken_gguf_is_said_and_changes_nothing(
    runtime: PolicyRuntime, hooks: MediaHooks, tmp_path: Path
) -> None:
    path = tmp_path / "broken.gguf"
    path.write_bytes(b"not a model")
    done = hooks.apply(runtime, OnboardingChoices(model=ModelChoice(ModelKind.GGUF, path=path)))
    assert runtime.settings.get_as(SETTING_MODEL, str, "") == ""
    assert done and done[0].startswith("The model was not added")


def test_the_bundled_model_clears_an_earlier_choice(runtime: PolicyRuntime, hooks: MediaHooks) -> None:
    runtime.settings.set(SETTING_MODEL, "someone-else")
    hooks.apply(runtime, OnboardingChoices(model=ModelChoice(ModelKind.BUNDLED)))
    assert runtime.settings.get_as(SETTING_MODEL, str, "") == ""
