"""The wizard's "Text or voice" page: typing only, or push-to-talk with spoken replies.

For voice the page offers what makes it work: a microphone test with a live
level meter (the microphone opens only while the test runs, as the user's act
through the gate), the push-to-talk key captured by pressing it, whether
replies are spoken, and the English speech model, downloaded only when the
user presses its button after reading its size and source. Nothing else
changes until Finish: :meth:`VoicePage.record` copies the picks into the
shared choices (``voice``, ``ptt_key``, ``speak_replies``, ``stt_model``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from PySide6.QtGui import QHideEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from aether_qt.engines.media.hotkeys import DEFAULT_KEY
from aether_qt.widgets.common.hotkey_edit import HotkeyEdit
from aether_qt.widgets.common.level_meter import LOUD_ENOUGH, LevelMeter
from aether_qt.widgets.onboarding.choices import OnboardingChoices, OnboardingPage
from aether_qt.widgets.onboarding.download_bar import DownloadBar
from aether_qt.widgets.onboarding.media_ports import MicTest, SpeechModels

TEST_MIC: Final = "Test &microphone"
STOP_MIC: Final = "Stop &microphone test"
SPEAK_NOW: Final = "Speak now: the bar moves with your voice."
HEARD: Final = "Aether hears you. You can stop the test."


class VoicePage(OnboardingPage):
    """Text only, or voice with its microphone test, hotkey, spoken replies and speech model.

    Args:
        choices: the wizard's shared choices.
        mic: opens the microphone for the test.
        speech: the English speech model (state and download).
        ptt_key: the key shown at first (portable text).
        parent: the Qt parent.
    """

    def __init__(
        self,
        choices: OnboardingChoices,
        *,
        mic: MicTest,
        speech: SpeechModels,
        ptt_key: str = DEFAULT_KEY,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(choices, parent)
        self.setObjectName("voice_page")
        self.setTitle("Text or voice")
        self.setSubTitle(
            "Type to Aether, or hold a key, speak, and hear the answer. "
            "You can change this later in Settings."
        )
        self._mic, self._speech = mic, speech
        self.installed: Path | None = None
        self.text_only = QRadioButton("&Text only: I type, Aether writes back", self)
        self.text_only.setObjectName("voice_text_only")
        self.voice = QRadioButton("&Voice: hold a key to talk, hear the replies", self)
        self.voice.setObjectName("voice_voice")
        group = QButtonGroup(self)
        group.addButton(self.text_only)
        group.addButton(self.voice)
        self.text_only.setChecked(True)
        self.details = QGroupBox("Voice", self)
        self.details.setObjectName("voice_details")
        self._build_details(ptt_key)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text_only)
        layout.addWidget(self.voice)
        layout.addWidget(self.details)
        layout.addStretch(1)
        self.voice.toggled.connect(self._on_voice_toggled)
        self._on_voice_toggled(False)
        self.refresh_speech_model()

    def _build_details(self, ptt_key: str) -> None:
        self.mic_button = QPushButton(TEST_MIC, self.details)
        self.mic_button.setObjectName("voice_mic_test")
        self.mic_button.clicked.connect(self._on_mic_button_clicked)
        self.meter = LevelMeter(self.details)
        self.mic_status = QLabel("Test the microphone before you rely on it.", self.details)
        self.mic_status.setObjectName("voice_mic_status")
        self.mic_status.setWordWrap(True)
        mic_row = QHBoxLayout()
        mic_row.addWidget(self.mic_button)
        mic_row.addWidget(self.meter, 1)
        mic_box = QVBoxLayout()
        mic_box.addLayout(mic_row)
        mic_box.addWidget(self.mic_status)
        self.hotkey = HotkeyEdit(key=ptt_key, default=DEFAULT_KEY, parent=self.details)
        self.hotkey.setObjectName("voice_hotkey")
        self.speak = QCheckBox("&Speak replies aloud", self.details)
        self.speak.setObjectName("voice_speak")
        self.speak.setChecked(True)
        self.model_status = QLabel("", self.details)
        self.model_status.setObjectName("voice_model_status")
        self.model_status.setWordWrap(True)
        self.download = DownloadBar(name="voice_download", parent=self.details)
        self.download.sig_busy_changed.connect(self._on_download_busy_changed)
        self.download.sig_downloaded.connect(self._on_download_downloaded)
        model_box = QVBoxLayout()
        model_box.addWidget(self.model_status)
        model_box.addWidget(self.download)
        form = QFormLayout(self.details)
        mic_label = QLabel("Microphone:", self.details)
        form.addRow(mic_label, mic_box)
        key_label = QLabel("Talk &key:", self.details)
        key_label.setBuddy(self.hotkey.field)
        form.addRow(key_label, self.hotkey)
        form.addRow("", self.speak)
        form.addRow(QLabel("Speech model:", self.details), model_box)

    # ------------------------------------------------------------------ the speech model

    def refresh_speech_model(self) -> None:
        """Say whether the English model is there; if not, offer its download with size and source."""
        state = self._speech.speech_model()
        self.installed = state.installed
        if state.installed is not None:
            self.model_status.setText(
                f"The {state.language} speech model is installed: no download needed. {state.note}".strip()
            )
            self.download.offer("", "", None)
            return
        self.model_status.setText(
            f"Aether needs a speech model to understand {state.language} speech. {state.note}".strip()
        )
        source = f" from {state.host}" if state.host else ""
        self.download.offer(
            f"&Download the English model ({state.size_mb} MB)",
            f"Nothing is downloaded unless you press the button: about {state.size_mb} MB{source}, "
            "checked against its published fingerprint, kept on this computer.",
            self._speech.fetch_speech_model,
        )

    def _on_download_busy_changed(self, _busy: bool) -> None:
        self.completeChanged.emit()

    def _on_download_downloaded(self, path: Path) -> None:
        self.installed = path
        self.model_status.setText("The English speech model is installed: voice input uses it after Finish.")

    # ------------------------------------------------------------------ the microphone

    def _on_mic_button_clicked(self) -> None:
        if self.mic_button.text() == STOP_MIC:
            self.stop_mic_test()
            return
        self.meter.reset()
        self.mic_button.setText(STOP_MIC)
        self.mic_status.setText(SPEAK_NOW)
        self._mic.start_mic_test(self._on_mic_level, self._on_mic_problem)

    def _on_mic_level(self, rms: float) -> None:
        if self.mic_button.text() != STOP_MIC:
            return
        self.meter.set_level(rms)
        if self.meter.level >= LOUD_ENOUGH:
            self.mic_status.setText(HEARD)

    def _on_mic_problem(self, words: str) -> None:
        self.mic_button.setText(TEST_MIC)
        self.meter.reset()
        self.mic_status.setText(words)

    def stop_mic_test(self) -> None:
        """Close the microphone and empty the meter (leaving the page does it too)."""
        if self.mic_button.text() == STOP_MIC:
            self._mic.stop_mic_test()
            self.mic_button.setText(TEST_MIC)
            self.meter.reset()
            if self.mic_status.text() == SPEAK_NOW:
                self.mic_status.setText("Test the microphone before you rely on it.")

    def hideEvent(self, event: QHideEvent) -> None:
        """The microphone never stays open behind another page."""
        self.stop_mic_test()
        super().hideEvent(event)

    # ------------------------------------------------------------------ the page

    def _on_voice_toggled(self, on: bool) -> None:
        self.details.setEnabled(on)
        if not on:
            self.stop_mic_test()

    def isComplete(self) -> bool:
        """Not while a download runs (Cancel it, or wait)."""
        return not self.download.busy

    def cleanupPage(self) -> None:
        """Going Back: stop the microphone."""
        self.stop_mic_test()
        super().cleanupPage()

    def record(self) -> None:
        """Copy the picks into the choices (applied at Finish)."""
        self.stop_mic_test()
        voice = self.voice.isChecked()
        self.choices.voice = voice
        self.choices.ptt_key = self.hotkey.key if voice else None
        self.choices.speak_replies = self.speak.isChecked() if voice else False
        self.choices.stt_model = str(self.installed) if voice and self.installed is not None else None
