"""How the trust centre and the memory panel ask the user to confirm a change."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget

Confirm = Callable[[QWidget, str, str], bool]
"""Asks ``(parent, title, text)``; True when the user agreed (tests pass a lambda)."""


def ask_user(parent: QWidget, title: str, text: str) -> bool:
    """The default confirmation: a Yes/No question box."""
    buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    answer = QMessageBox.question(parent, title, text, buttons, QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes
