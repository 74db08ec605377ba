"""A field that captures one push-to-talk key: focus it, press the key.

The hotkey backends take an X key name (``F9``, ``Pause``, ``Scroll_Lock``),
one key without modifiers, so this field turns the pressed Qt key into that
name. Tab, Shift+Tab and Escape keep their meaning (moving on, closing the
dialog), so the field never traps the keyboard; any other key that cannot be
a push-to-talk key is refused with a sentence saying why.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QLineEdit, QWidget

_NAMED = {
    Qt.Key.Key_Pause: "Pause",
    Qt.Key.Key_ScrollLock: "Scroll_Lock",
    Qt.Key.Key_Insert: "Insert",
    Qt.Key.Key_Menu: "Menu",
    Qt.Key.Key_Print: "Print",
    Qt.Key.Key_Help: "Help",
}
_PASS = {Qt.Key.Key_Tab, Qt.Key.Key_Backtab, Qt.Key.Key_Escape}
_MODIFIERS = {Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_Meta, Qt.Key.Key_AltGr}


def x_key_name(key: int) -> str:
    """The X key name of a Qt key the backends can listen for, or "" when it cannot be one."""
    if Qt.Key.Key_F1.value <= key <= Qt.Key.Key_F35.value:
        return f"F{key - Qt.Key.Key_F1.value + 1}"
    return _NAMED.get(Qt.Key(key), "")


def shown_name(x_name: str) -> str:
    """How a key name reads to a person (``Scroll_Lock`` -> ``Scroll Lock``)."""
    return x_name.replace("_", " ")


class KeyCaptureEdit(QLineEdit):
    """Shows the push-to-talk key; pressing a key while it has focus captures it.

    Signals:
        sig_key_captured(str): the X key name of the key pressed.
        sig_key_refused(str): a sentence saying why the key pressed cannot be used.
    """

    sig_key_captured = Signal(str)
    sig_key_refused = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setPlaceholderText("Click here, then press a key")
        self.setAccessibleName("Push-to-talk key: press the key to use")
        self.key_name = ""

    def show_key(self, x_name: str) -> None:
        """Display ``x_name`` (the key in force)."""
        self.key_name = x_name
        self.setText(shown_name(x_name))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Capture the key (see the module docstring)."""
        key = event.key()
        if key in _PASS or event.isAutoRepeat():
            super().keyPressEvent(event) if key in _PASS else event.accept()
            return
        if key in _MODIFIERS:
            event.accept()  # wait for the real key
            return
        event.accept()
        name = x_key_name(key)
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if name and mods == Qt.KeyboardModifier.NoModifier:
            self.show_key(name)
            self.sig_key_captured.emit(name)
            return
        pressed = QKeySequence(event.keyCombination()).toString() or "That key"
        self.sig_key_refused.emit(
            f"{pressed} cannot be the push-to-talk key: use one key you do not type with, "
            "such as F9, Pause or Scroll Lock, without Ctrl, Alt or Shift."
        )
