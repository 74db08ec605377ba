"""The main window's status bar: the policy summary, a pending persona switch, the model, the panel button."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QStatusBar, QToolButton


@dataclass(frozen=True, slots=True)
class StatusWidgets:
    """The widgets of the status bar, left to right."""

    summary: QLabel
    persona: QLabel
    model: QLabel
    panel_button: QToolButton

    @classmethod
    def build(cls, bar: QStatusBar) -> StatusWidgets:
        """Fill ``bar``: the summary stretches; the persona switch, model and panel button keep right."""
        summary = QLabel("")
        summary.setObjectName("status_summary")
        bar.addWidget(summary, 1)
        persona = QLabel("")
        persona.setObjectName("persona_status")
        persona.setTextFormat(Qt.TextFormat.PlainText)
        persona.hide()
        bar.addPermanentWidget(persona)
        model = QLabel("")
        model.setObjectName("model_status")
        bar.addPermanentWidget(model)
        button = QToolButton()
        button.setText("Trust centre")
        button.setToolTip("Show or hide the trust centre (Ctrl+T)")
        button.setCheckable(True)
        button.setAutoRaise(True)
        bar.addPermanentWidget(button)
        return cls(summary, persona, model, button)
