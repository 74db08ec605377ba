"""The General, Voice and Memory pages: persona, spoken replies, push-to-talk, speech model, retention."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel, QWidget

from aether_qt.engines.media.hotkeys import DEFAULT_KEY
from aether_qt.widgets.common.hotkey_edit import HotkeyEdit
from aether_qt.widgets.settings.page import SettingsPage, fill_combo
from aether_qt.widgets.settings.ports import GeneralPort, MemoryPort, VoicePort


class GeneralPage(SettingsPage):
    """Who Aether is, and whether it speaks its replies."""

    title = "General"

    def __init__(self, *, port: GeneralPort, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._port = port
        self.persona = QComboBox()
        self.persona.setAccessibleName("Persona")
        self.persona_message = self.add_field("&Persona:", self.persona, "persona")
        self.speak = QCheckBox("&Speak replies aloud")
        self.speak_typed = QCheckBox("Also speak replies to &typed messages")
        self.form.addRow("", self.speak)
        self.form.addRow("", self.speak_typed)
        self.speech_message = self.add_message("speech_message")
        self.persona.activated.connect(self._on_persona_activated)
        self.speak.toggled.connect(self._on_speech_toggled)
        self.speak_typed.toggled.connect(self._on_speech_toggled)
        self.refresh()

    def refresh(self) -> None:
        """Show the personas and the speech switches in force."""
        view = self._port.view()
        fill_combo(self.persona, view.personas, view.active_persona)
        for box, value in ((self.speak, view.speak), (self.speak_typed, view.speak_typed)):
            box.blockSignals(True)
            box.setChecked(value)
            box.blockSignals(False)
        self.speak_typed.setEnabled(view.speak)

    def _on_persona_activated(self, index: int) -> None:
        persona_id = str(self.persona.itemData(index))
        self.attempt(lambda: self._port.choose_persona(persona_id), self.persona_message)

    def _on_speech_toggled(self, _checked: bool) -> None:
        speak, typed = self.speak.isChecked(), self.speak_typed.isChecked()
        self.attempt(lambda: self._port.set_speech(speak=speak, speak_typed=typed), self.speech_message)


class VoicePage(SettingsPage):
    """The push-to-talk key and how it is heard, and the speech model."""

    title = "Voice"

    def __init__(self, *, port: VoicePort, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._port = port
        self.key = HotkeyEdit(key=DEFAULT_KEY, default=DEFAULT_KEY, show_refusals=False)
        self.key_message = self.add_field("Push-to-talk &key:", self.key, "ptt_key")
        self.backend = QComboBox()
        self.backend.setAccessibleName("How the key is heard")
        self.backend_message = self.add_field("&Listen for the key:", self.backend, "ptt_backend")
        self.in_use = QLabel("")
        self.in_use.setObjectName("backend_in_use")
        self.form.addRow("", self.in_use)
        self.stt = QComboBox()
        self.stt.setAccessibleName("Speech model")
        self.stt_message = self.add_field("Speech &model:", self.stt, "stt_model")
        self.key.sig_key_changed.connect(self._on_key_changed)
        self.key.sig_key_refused.connect(self._on_key_refused)
        self.backend.activated.connect(self._on_backend_activated)
        self.stt.activated.connect(self._on_stt_activated)
        self.refresh()

    def refresh(self) -> None:
        """Show the key, the backend and the speech model in force."""
        view = self._port.view()
        self.key.show_key(view.ptt_key)
        fill_combo(self.backend, view.backends, view.backend)
        fill_combo(self.stt, view.stt_models, view.stt_model)
        self.in_use.setText(
            f"In use now: {view.backend_in_use}." if view.backend_in_use else "Voice has not started yet."
        )

    def _on_key_changed(self, name: str) -> None:
        if not self.attempt(lambda: self._port.set_ptt_key(name), self.key_message):
            self.refresh()  # show the key still in force

    def _on_key_refused(self, sentence: str) -> None:
        self.show_error(self.key_message, sentence)

    def _on_backend_activated(self, index: int) -> None:
        value = str(self.backend.itemData(index))
        self.attempt(lambda: self._port.set_backend(value), self.backend_message)

    def _on_stt_activated(self, index: int) -> None:
        value = str(self.stt.itemData(index))
        self.attempt(lambda: self._port.set_stt_model(value), self.stt_message)


class MemoryPage(SettingsPage):
    """How long Aether keeps what it remembers."""

    title = "Memory"

    def __init__(self, *, port: MemoryPort, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._port = port
        self.retention = QComboBox()
        self.retention.setAccessibleName("Keep memories")
        self.retention_message = self.add_field("&Keep memories:", self.retention, "retention")
        note = QLabel(
            "A persona may keep memories for less time than this, never for longer. "
            "The memory panel in the main window shows, edits and forgets single memories."
        )
        note.setWordWrap(True)
        self.form.addRow("", note)
        self.retention.activated.connect(self._on_retention_activated)
        self.refresh()

    def refresh(self) -> None:
        """Show the choice in force."""
        view = self._port.view()
        fill_combo(self.retention, view.choices, view.retention)

    def _on_retention_activated(self, index: int) -> None:
        value = str(self.retention.itemData(index))
        self.attempt(lambda: self._port.set_retention(value), self.retention_message)
