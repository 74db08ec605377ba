"""The wizard's "Text or voice" page on its own in a QWizard, over the real ports and a real runtime.

The microphone test opens the virtual microphone of scripts/with-desktop.sh
through the gate; the English speech model comes from a mirror on 127.0.0.1
(its pinned hash is the test archive's), with progress, a cancel and a resume.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from audio_support import PacedFeeder, espeak, recording_streams
from keyring_support import key_file_runtime
from mirror_support import Mirror, serving
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QWizard
from pytestqt.qtbot import QtBot
from wizard_media_support import in_wizard, sha256, shot, speech_zip

from aether_qt.engines.media.audio import array_to_pcm, read_wav_16k
from aether_qt.engines.media.stt_models import CATALOG
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.onboarding_media.media import OnboardingMedia
from aether_qt.widgets.common.hotkey_edit import PROMPT
from aether_qt.widgets.onboarding.choices import OnboardingChoices
from aether_qt.widgets.onboarding.media_pages import build_media_pages
from aether_qt.widgets.onboarding.voice_page import HEARD, VoicePage

FOLDER = CATALOG["vosk-en-small"].folder
PADDING = 1 << 20  # a 1 MiB archive: big enough to watch it arrive


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[PolicyRuntime]:
    with key_file_runtime(tmp_path / "home") as rt:
        yield rt


@pytest.fixture
def mirror() -> Iterator[Mirror]:
    with serving() as running:
        running.files["model.zip"] = speech_zip(FOLDER, padding=PADDING)
        yield running


@pytest.fixture
def media(runtime: PolicyRuntime, mirror: Mirror) -> Iterator[OnboardingMedia]:
    spec = dataclasses.replace(
        CATALOG["vosk-en-small"], url=mirror.url("model.zip"), sha256=sha256(mirror.files["model.zip"])
    )
    made = OnboardingMedia(runtime=runtime, speech_model=spec)
    yield made
    made.close()


@pytest.fixture
def choices() -> OnboardingChoices:
    return OnboardingChoices()


@pytest.fixture
def page(qtbot: QtBot, media: OnboardingMedia, choices: OnboardingChoices) -> VoicePage:
    voice, _model = build_media_pages(choices, media)
    return voice


def test_keyboard_only_walk_records_voice_key_and_spoken_replies(
    qtbot: QtBot, page: VoicePage, choices: OnboardingChoices, tmp_path: Path
) -> None:
    wizard = in_wizard(qtbot, page)
    shot(wizard, "wizard-voice-text-only", tmp_path)
    assert page.text_only.isChecked() and not page.details.isEnabled()
    page.text_only.setFocus()
    QTest.keyClick(page.text_only, Qt.Key.Key_Down)  # arrows move between the radio buttons
    assert page.voice.isChecked() and page.details.isEnabled()
    QTest.keyClick(wizard, Qt.Key.Key_K, Qt.KeyboardModifier.AltModifier)  # "Talk &key"
    assert page.hotkey.field.hasFocus()
    QTest.keyClick(page.hotkey.field, Qt.Key.Key_Space)  # starts capturing
    assert page.hotkey.capturing and page.hotkey.field.text() == PROMPT
    QTest.keyClick(
        page.hotkey.field,
        Qt.Key.Key_Space,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier,
    )
    assert page.hotkey.key == "Ctrl+Alt+Space" and page.hotkey.field.text() == "Ctrl+Alt+Space"
    QTest.keyClick(wizard, Qt.Key.Key_S, Qt.KeyboardModifier.AltModifier)  # "&Speak replies aloud" off
    qtbot.waitUntil(lambda: not page.speak.isChecked(), timeout=2000)  # a mnemonic animates the click
    QTest.keyClick(wizard, Qt.Key.Key_S, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(page.speak.isChecked, timeout=2000)
    shot(wizard, "wizard-voice-voice", tmp_path)
    assert wizard.button(QWizard.WizardButton.FinishButton).text() == "&Finish"
    QTest.keyClick(wizard, Qt.Key.Key_F, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=3000)
    assert choices.voice is True
    assert choices.ptt_key == "Ctrl+Alt+Space"
    assert choices.speak_replies is True
    assert choices.stt_model is None  # nothing downloaded, nothing installed


def test_text_only_records_no_voice(qtbot: QtBot, page: VoicePage, choices: OnboardingChoices) -> None:
    wizard = in_wizard(qtbot, page)
    QTest.keyClick(wizard, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not wizard.isVisible(), timeout=3000)
    assert (choices.voice, choices.ptt_key, choices.speak_replies) == (False, None, False)


def test_hotkey_capture_refuses_typing_keys_esc_cancels_and_reset(qtbot: QtBot, page: VoicePage) -> None:
    _wizard = in_wizard(qtbot, page)  # kept: the wizard owns the page
    page.voice.setChecked(True)
    edit = page.hotkey
    edit.field.setFocus()
    QTest.keyClick(edit.field, Qt.Key.Key_Space)
    QTest.keyClick(edit.field, Qt.Key.Key_A)
    assert edit.capturing and edit.key == "F9"
    assert "used for typing" in edit.message.text()
    QTest.keyClick(edit.field, Qt.Key.Key_Tab)  # Tab is never trapped: capturing ends, the focus moves on
    assert not edit.capturing and not edit.field.hasFocus() and not edit.message.isVisibleTo(edit)
    edit.field.setFocus()
    QTest.keyClick(edit.field, Qt.Key.Key_Space)
    QTest.keyClick(edit.field, Qt.Key.Key_Escape)  # cancels; the wizard stays open
    assert not edit.capturing and edit.key == "F9" and edit.field.text() == "F9"
    assert page.isVisible()
    QTest.keyClick(edit.field, Qt.Key.Key_Space)
    QTest.keyClick(edit.field, Qt.Key.Key_Pause)
    assert edit.key == "Pause" and not edit.capturing
    QTest.keyClick(edit.field, Qt.Key.Key_Space)
    QTest.keyClick(edit.field, Qt.Key.Key_Tab, Qt.KeyboardModifier.AltModifier)
    assert "used by your desktop" in edit.message.text() and edit.key == "Pause"
    QTest.keyClick(edit.field, Qt.Key.Key_Escape)
    edit.reset_button.click()
    assert edit.key == "F9" and edit.field.text() == "F9"


@pytest.fixture
def real_media(runtime: PolicyRuntime) -> Iterator[OnboardingMedia]:
    """The ports as the app builds them (the real speech-model source: nothing is fetched)."""
    made = OnboardingMedia(runtime=runtime)
    yield made
    made.close()


def test_the_meter_moves_while_the_virtual_microphone_hears_speech(
    qtbot: QtBot, real_media: OnboardingMedia, runtime: PolicyRuntime, vmic: Path, tmp_path: Path
) -> None:
    page, _model_page = build_media_pages(OnboardingChoices(), real_media)
    wizard = in_wizard(qtbot, page)
    page.voice.setChecked(True)
    page.mic_button.click()
    assert page.mic_status.text() != "", "the test says what to do"
    qtbot.waitUntil(lambda: recording_streams() == 1, timeout=5000)  # the microphone is open
    pcm = array_to_pcm(read_wav_16k(espeak(tmp_path, "Hello, can you hear me? One two three.", "-v", "en")))
    feeder = PacedFeeder(vmic, pcm)
    feeder.start()
    peaks: list[float] = []
    qtbot.waitUntil(lambda: peaks.append(page.meter.peak) or page.meter.peak > 0.4, timeout=10_000)
    assert page.mic_status.text() == HEARD
    shot(wizard, "wizard-voice-mic", tmp_path)
    qtbot.waitUntil(lambda: not feeder.is_alive(), timeout=15_000)
    page.mic_button.click()  # stop
    assert page.meter.level == 0.0
    qtbot.waitUntil(lambda: recording_streams() == 0, timeout=5000)  # closed, nothing left open
    assert "media.mic" in audited(runtime)
    page.mic_button.click()  # again, then leave the wizard with the microphone open
    qtbot.waitUntil(lambda: recording_streams() == 1, timeout=5000)
    wizard.reject()
    qtbot.waitUntil(lambda: recording_streams() == 0, timeout=5000)  # hiding the page closed it


def audited(runtime: PolicyRuntime) -> str:
    """Every capability in the audit log (the acts went through the gate)."""
    assert runtime.audit is not None
    return " ".join(row.capability for row in runtime.audit.rows())


def test_the_speech_model_downloads_with_consent_progress_cancel_and_resume(
    qtbot: QtBot,
    page: VoicePage,
    mirror: Mirror,
    runtime: PolicyRuntime,
    choices: OnboardingChoices,
    tmp_path: Path,
) -> None:
    wizard = in_wizard(qtbot, page)
    page.voice.setChecked(True)
    bar = page.download
    assert "Nothing is downloaded unless you press the button" in bar.status.text()
    assert bar.button.isVisible() and "MB" in bar.button.text()
    assert mirror.ranges == []  # no byte fetched before consent
    mirror.step, mirror.pause = 64 * 1024, 0.05
    bar.button.click()
    assert not page.isComplete()  # Next waits while it downloads
    qtbot.waitUntil(lambda: 0 < bar.progress.value() < bar.progress.maximum() // 2, timeout=10_000)
    shot(wizard, "wizard-voice-downloading", tmp_path)
    QTest.keyClick(bar.cancel_button, Qt.Key.Key_Space)  # Cancel from the keyboard
    qtbot.waitUntil(lambda: not bar.busy, timeout=10_000)
    assert bar.last is not None and bar.last.cancelled
    assert "cancelled" in bar.status.text()
    stt = runtime.paths.models_dir / "stt"
    assert not (stt / FOLDER).exists() and not (stt / f"{FOLDER}.zip").exists()
    assert page.isComplete()
    mirror.step, mirror.pause = 0, 0.0
    bar.button.click()
    qtbot.waitUntil(lambda: not bar.busy, timeout=10_000)
    assert bar.last is not None and bar.last.path == stt / FOLDER, bar.status.text()
    assert mirror.ranges[-1] is not None and mirror.ranges[-1].startswith("bytes=")  # resumed
    assert "installed" in page.model_status.text()
    shot(wizard, "wizard-voice-downloaded", tmp_path)
    assert "model.download" in audited(runtime)
    page.record()
    assert choices.stt_model == str(stt / FOLDER)


def test_a_download_that_is_not_the_pinned_file_is_refused(
    qtbot: QtBot, page: VoicePage, mirror: Mirror, runtime: PolicyRuntime
) -> None:
    _wizard = in_wizard(qtbot, page)  # kept: the wizard owns the page
    page.voice.setChecked(True)
    mirror.files["model.zip"] = speech_zip(FOLDER, padding=10)  # not what the hash pins
    page.download.button.click()
    qtbot.waitUntil(lambda: not page.download.busy, timeout=10_000)
    assert "was not the expected file" in page.download.status.text()
    assert not list((runtime.paths.models_dir / "stt").glob("*.zip"))
    del mirror.files["model.zip"]  # the server answers 404
    page.download.button.click()
    qtbot.waitUntil(lambda: not page.download.busy, timeout=10_000)
    assert page.download.status.text().startswith(
        "Could not download the speech model: the server could not be reached or refused it."
    )


def test_an_installed_english_model_is_said_and_not_downloaded(
    qtbot: QtBot, media: OnboardingMedia, runtime: PolicyRuntime, choices: OnboardingChoices, mirror: Mirror
) -> None:
    model = runtime.paths.models_dir / "stt" / FOLDER
    (model / "am").mkdir(parents=True)
    (model / "am" / "final.mdl").write_bytes(b"\0" * 64)
    page, _model_page = build_media_pages(choices, media)
    _wizard = in_wizard(qtbot, page)  # kept: the wizard owns the page
    page.voice.setChecked(True)
    assert "installed: no download needed" in page.model_status.text()
    assert not page.download.button.isVisible()
    page.record()
    assert choices.stt_model == str(model) and mirror.ranges == []


def test_a_paused_aether_opens_no_microphone_and_fetches_nothing(
    qtbot: QtBot, page: VoicePage, runtime: PolicyRuntime, mirror: Mirror
) -> None:
    _wizard = in_wizard(qtbot, page)  # kept: the wizard owns the page
    page.voice.setChecked(True)
    runtime.gate.pause(True)
    page.mic_button.click()
    assert page.mic_status.text() == "Aether is paused. Resume it in the trust centre, then try again."
    assert page.mic_button.text() == "Test &microphone" and page.meter.level == 0.0
    page.download.button.click()
    qtbot.waitUntil(lambda: not page.download.busy, timeout=10_000)
    assert page.download.status.text() == "Aether is paused. Resume it in the trust centre, then try again."
    assert mirror.ranges == []  # the gate said no: not one byte was asked for
