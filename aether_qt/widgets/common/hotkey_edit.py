"""Capturing a push-to-talk hotkey: press the keys, see "Ctrl+Alt+Space", Esc cancels.

:class:`HotkeyEdit` is a button that shows the current key; activating it
(click, Space or Enter) starts capturing: the next key with its modifiers
becomes the hotkey if it can be one (:func:`hotkey_problem`), else the refusal
is said in plain words under it and capturing goes on. Esc cancels and keeps
the previous key; "Reset" goes back to the default. While capturing, the
widget takes every key, Tab and the wizard's mnemonics included (their
``ShortcutOverride`` is accepted), so what the user presses is what they get.

The key is kept as a ``QKeySequence`` portable string (``"Ctrl+Alt+Space"``,
``"F9"``): the onboarding contract's format for ``ptt_key``.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

Key = Qt.Key
Mod = Qt.KeyboardModifier
PROMPT: Final = "Press the keys… (Esc cancels)"
_CHORD_MODS: Final = Mod.ControlModifier | Mod.AltModifier | Mod.MetaModifier
# the modifier each modifier key sets: its own press or release may not be in the event's state yet
_MODIFIER_KEYS: Final = {
    Key.Key_Control: Mod.ControlModifier,
    Key.Key_Shift: Mod.ShiftModifier,
    Key.Key_Alt: Mod.AltModifier,
    Key.Key_AltGr: Mod.AltModifier,
    Key.Key_Meta: Mod.MetaModifier,
    Key.Key_Super_L: Mod.MetaModifier,
    Key.Key_Super_R: Mod.MetaModifier,
}
_LOCKS: Final = frozenset({Key.Key_CapsLock, Key.Key_NumLock})
# keys that may stand alone: pressing them types nothing and moves nothing
_SOLO_KEYS: Final = frozenset(
    {Key.Key_Pause, Key.Key_ScrollLock, Key.Key_Menu, Key.Key_Help, Key.Key_Insert}
    | {Key(Key.Key_F1.value + n) for n in range(35)}
    | {Key.Key_MediaPlay, Key.Key_MediaTogglePlayPause, Key.Key_MicMute, Key.Key_Launch0, Key.Key_Launch1}
)
# chords the desktop itself uses: a grab there would fail or break the desktop
_SYSTEM_CHORDS: Final = frozenset(
    {"Alt+Tab", "Alt+Shift+Backtab", "Alt+Backtab", "Alt+F4", "Ctrl+Alt+Del", "Ctrl+Alt+Backspace", "Print"}
    | {f"Ctrl+Alt+F{n}" for n in range(1, 13)}
)


def sequence_text(key: int, modifiers: Qt.KeyboardModifier) -> str:
    """``key`` with ``modifiers`` as a portable string (``"Ctrl+Alt+Space"``)."""
    wanted = modifiers & (_CHORD_MODS | Mod.ShiftModifier)
    return QKeySequence(QKeySequence(wanted.value | key)).toString(QKeySequence.SequenceFormat.PortableText)


def hotkey_problem(key: int, modifiers: Qt.KeyboardModifier) -> str:
    """Why ``key`` with ``modifiers`` cannot be the push-to-talk hotkey, in plain words; "" if it can.

    Refused: Tab (it moves between fields), Caps Lock and Num Lock (they switch
    a mode), keys Qt cannot name, the desktop's own chords (Alt+Tab,
    Ctrl+Alt+F1...), and a key that types or moves something (a letter, Space,
    Enter, an arrow) without Ctrl, Alt or Super: holding it to talk would take
    it away from typing. Function keys, Pause, Scroll Lock and the like may
    stand alone.
    """
    if key in (Key.Key_Tab, Key.Key_Backtab) and not modifiers & _CHORD_MODS:
        return "Tab moves between fields, so it cannot be the talk key. Choose another key."
    if key in _LOCKS:
        return "Caps Lock and Num Lock switch a mode on and off. Choose another key."
    if key in (Key.Key_unknown, 0) or not sequence_text(key, modifiers):
        return "This key has no name Aether can use. Choose another key."
    text = sequence_text(key, modifiers)
    if text in _SYSTEM_CHORDS:
        return f"{text} is used by your desktop. Choose another key."
    if not modifiers & _CHORD_MODS and key not in _SOLO_KEYS:
        return f"{text} is used for typing. Add Ctrl, Alt or Super to it, or use a key such as F9 or Pause."
    return ""


class HotkeyEdit(QWidget):
    """The hotkey field, its Reset button and the line that says why a key was refused.

    Args:
        key: the current key (portable text).
        default: what Reset goes back to.
        parent: the Qt parent.

    Signals:
        sig_key_changed(str): a new key was captured or reset (portable text).
    """

    sig_key_changed = Signal(str)

    def __init__(self, *, key: str, default: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key, self.default = key, default
        self.capturing = False
        self.field = QPushButton(key, self)
        self.field.setObjectName("hotkey_field")
        self.field.setAccessibleName("Push-to-talk key")
        self.field.setToolTip("Click, or press Space, then press the keys you want to hold while you talk.")
        self.field.clicked.connect(self._on_field_clicked)
        self.field.installEventFilter(self)
        self.reset_button = QPushButton("&Reset", self)
        self.reset_button.setObjectName("hotkey_reset")
        self.reset_button.setToolTip(f"Go back to {default}")
        self.reset_button.clicked.connect(self._on_reset_button_clicked)
        self.message = QLabel("", self)
        self.message.setObjectName("hotkey_message")
        self.message.setWordWrap(True)
        self.message.hide()  # shown only while it says why a key was refused
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.field, 1)
        row.addWidget(self.reset_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self.setFocusProxy(self.field)

    def start_capture(self) -> None:
        """Wait for the next key (Esc cancels)."""
        self.capturing = True
        self.field.setText(PROMPT)
        self.field.setDown(True)
        self._say("")
        self.field.setFocus(Qt.FocusReason.OtherFocusReason)

    def cancel_capture(self) -> None:
        """Stop waiting; the key stays what it was."""
        self.capturing = False
        self.field.setDown(False)
        self.field.setText(self.key)

    def set_key(self, key: str) -> None:
        """Use ``key`` (portable text) and tell listeners."""
        self.key = key
        self.cancel_capture()
        self.sig_key_changed.emit(key)

    def _on_field_clicked(self) -> None:
        if not self.capturing:
            self.start_capture()

    def _on_reset_button_clicked(self) -> None:
        self._say("")
        self.set_key(self.default)

    def _say(self, words: str) -> None:
        self.message.setText(words)
        self.message.setVisible(bool(words))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """While capturing, every key press and release on the field is the user's answer."""
        if watched is not self.field or not self.capturing:
            return super().eventFilter(watched, event)
        if event.type() == QEvent.Type.ShortcutOverride:
            event.accept()  # a mnemonic or shortcut must not fire: the key is being captured
            return True
        if isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyPress:
            self._on_key(event)
            return True
        if isinstance(event, QKeyEvent) and event.type() == QEvent.Type.KeyRelease:
            if event.key() in _MODIFIER_KEYS:
                self._show_held(event.modifiers() & ~_MODIFIER_KEYS[Key(event.key())])
            return True
        if event.type() == QEvent.Type.FocusOut:
            self.cancel_capture()
        return super().eventFilter(watched, event)

    def _show_held(self, modifiers: Qt.KeyboardModifier) -> None:
        """``Ctrl+Alt+…`` while modifiers are held without a key; the prompt once all are let go."""
        held = sequence_text(0, modifiers).rstrip("+")
        self.field.setText(f"{held}+…" if held else PROMPT)

    def _on_key(self, event: QKeyEvent) -> None:
        key, modifiers = event.key(), event.modifiers()
        if event.isAutoRepeat():
            return
        if key == Key.Key_Escape and not modifiers & _CHORD_MODS:
            self._say("")
            self.cancel_capture()
            return
        if key in _MODIFIER_KEYS:
            self._show_held(modifiers | _MODIFIER_KEYS[Key(key)])
            return
        problem = hotkey_problem(key, modifiers)
        if problem:
            self._say(problem)
            self.field.setText(PROMPT)
            return
        self._say("")
        self.set_key(sequence_text(key, modifiers))
