"""The passphrase of a backup: typed masked, twice for a new backup, never kept by the widget after use.

:class:`PassphraseDialog` enables OK only for a passphrase of at least
:data:`~aether_qt.storage.cipher.MIN_PASSPHRASE` characters (and, for a new
backup, typed the same way twice). :func:`ask_passphrase` runs it and clears the
fields before it returns, so the text does not linger in a hidden widget.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from aether_qt.storage.cipher import MIN_PASSPHRASE

AskPassphrase = Callable[[QWidget, str, bool], "str | None"]
"""Asks ``(parent, title, confirm)``; the passphrase, or None when cancelled (tests pass a lambda)."""


class PassphraseDialog(QDialog):
    """A masked passphrase field, a second one when ``confirm``, and a line saying what is missing."""

    def __init__(self, *, title: str, confirm: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName("passphrase_dialog")
        self.setMinimumWidth(380)
        self.passphrase = QLineEdit()
        self.passphrase.setEchoMode(QLineEdit.EchoMode.Password)
        self.again: QLineEdit | None = None
        form = QFormLayout()
        form.addRow("Passphrase", self.passphrase)
        if confirm:
            self.again = QLineEdit()
            self.again.setEchoMode(QLineEdit.EchoMode.Password)
            form.addRow("Again", self.again)
            self.again.textChanged.connect(self._on_text_changed)
        self.passphrase.textChanged.connect(self._on_text_changed)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        if confirm:
            note = QLabel("Choose a passphrase for this backup. Aether cannot recover it if it is lost.")
            note.setWordWrap(True)
            layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(self.hint)
        layout.addWidget(self.buttons)
        self._on_text_changed()

    def problem(self) -> str:
        """What keeps OK disabled ("" when nothing does)."""
        text = self.passphrase.text()
        if len(text) < MIN_PASSPHRASE:
            return f"At least {MIN_PASSPHRASE} characters."
        if self.again is not None and self.again.text() != text:
            return "The two passphrases differ."
        return ""

    def clear(self) -> None:
        """Empty both fields."""
        self.passphrase.clear()
        if self.again is not None:
            self.again.clear()

    def _on_text_changed(self, *_: object) -> None:
        problem = self.problem()
        self.hint.setText(problem)
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not problem)


def ask_passphrase(parent: QWidget, title: str, confirm: bool) -> str | None:
    """Run a :class:`PassphraseDialog`; the passphrase, or None when cancelled."""
    dialog = PassphraseDialog(title=title, confirm=confirm, parent=parent)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.problem():
            return None
        return dialog.passphrase.text()
    finally:
        dialog.clear()
        dialog.deleteLater()


__all__ = ["AskPassphrase", "PassphraseDialog", "ask_passphrase"]
