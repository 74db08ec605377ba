"""What every settings page shares: a titled form, a message line under each field, one way to apply.

A page calls :meth:`SettingsPage.attempt` with the change to make and the
field's message line: the service's sentence appears there (in the normal
colour), or its refusal (in red, with nothing changed), so the user reads
the outcome next to what they touched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from aether_qt.core.errors import ExplainedError
from aether_qt.core.settings_views import Option

_log = logging.getLogger(__name__)
ERROR_STYLE = "color: #c62828;"
DONE_STYLE = "color: palette(window-text);"
ERROR_PROPERTY = "settings_error"


class SettingsPage(QWidget):
    """A page of the Settings dialog (subclasses fill :attr:`form` and implement :meth:`refresh`).

    Signals:
        sig_setting_changed(str): a change was applied; its sentence.
    """

    sig_setting_changed = Signal(str)
    title = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(f"settings_page_{self.title.lower()}")
        body = QWidget()
        inner = QVBoxLayout(body)
        inner.addWidget(QLabel(f"<h2>{self.title}</h2>"))
        self.form = QFormLayout()
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        inner.addLayout(self.form)
        inner.addStretch(1)
        scroll = QScrollArea()  # a small screen scrolls the page rather than cutting it off
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    def refresh(self) -> None:
        """Show what is in force now (override)."""

    def shutdown(self) -> None:
        """Stop what the page runs in the background (override; the dialog calls it when it closes)."""

    def add_field(self, label: str, field: QWidget, name: str) -> QLabel:
        """Add ``field`` under ``label`` (use ``&`` for a mnemonic) and a message line below it."""
        caption = QLabel(label)
        caption.setBuddy(field)
        field.setObjectName(name)
        self.form.addRow(caption, field)
        return self.add_message(f"{name}_message")

    def add_message(self, name: str) -> QLabel:
        """A message line (empty until something is applied)."""
        message = QLabel("")
        message.setObjectName(name)
        message.setWordWrap(True)
        self.form.addRow("", message)
        return message

    def attempt(self, change: Callable[[], str], message: QLabel) -> bool:
        """Apply ``change``; show its sentence or its refusal in ``message``; whether it was applied."""
        try:
            sentence = change()
        except ExplainedError as exc:
            self.show_error(message, str(exc))
            return False
        message.setStyleSheet(DONE_STYLE)
        message.setProperty(ERROR_PROPERTY, False)
        message.setText(sentence)
        self.sig_setting_changed.emit(sentence)
        self.refresh()
        return True

    @staticmethod
    def show_error(message: QLabel, text: str) -> None:
        """Say in red, next to the field, why nothing changed."""
        _log.info("setting refused: %s", text)
        message.setStyleSheet(ERROR_STYLE)
        message.setProperty(ERROR_PROPERTY, True)
        message.setText(text)


def fill_combo(box: QComboBox, options: Sequence[Option], current: str) -> None:
    """Replace ``box``'s entries with ``options`` (disabled ones greyed) and select ``current``."""
    box.blockSignals(True)
    box.clear()
    for option in options:
        box.addItem(option.label, option.value)
        index = box.count() - 1
        if option.tooltip:
            box.setItemData(index, option.tooltip, 3)  # Qt.ToolTipRole
        if not option.enabled:
            item = box.model().item(index)  # type: ignore[attr-defined]
            item.setEnabled(False)
    box.setCurrentIndex(max(0, box.findData(current)))
    box.blockSignals(False)
