"""Capturing a push-to-talk hotkey: press the keys, see "Ctrl+Alt+Space", Esc cancels.

The one capture field of the app (the wizard's voice page and the Settings
dialog's Voice page). :class:`HotkeyEdit` is a button that shows the current
key; activating it (click, Space or Enter) starts capturing: the next key with
its modifiers becomes the hotkey if it can be held to talk (the rule of
:func:`~aether_qt.engines.media.hotkey_spec.hotkey_problem`, the same one the
settings service applies), else the refusal is said in plain words next to the
field and capturing goes on. Esc cancels and keeps the previous key; "Reset"
goes back to the default. The keyboard is never trapped: Tab and Shift+Tab end
capturing and move on as everywhere, Esc outside capturing reaches the dialog
(it closes); mnemonics and shortcuts are held back only while capturing, so a
combination such as Alt+K can be the hotkey.

The key is kept as the stored format of :mod:`~aether_qt.engines.media.hotkey_spec`
(Qt portable text: ``"Ctrl+Alt+Space"``, ``"F9"``) and shown as a person reads it.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from aether_qt.engines.media.hotkey_spec import describe_stored, hotkey_problem, hotkey_text, parse_hotkey

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
_HELD_NAMES: Final = (
    (Mod.MetaModifier, "Super"),
    (Mod.ControlModifier, "Ctrl"),
    (Mod.AltModifier, "Alt"),
    (Mod.ShiftModifier, "Shift"),
)


def sequence_text(key: int, modifiers: Qt.KeyboardModifier) -> str:
    """``key`` with ``modifiers`` as a portable string (``"Ctrl+Alt+Space"``)."""
    wanted = modifiers & (_CHORD_MODS | Mod.ShiftModifier)
    return QKeySequence(QKeySequence(wanted.value | key)).toString(QKeySequence.SequenceFormat.PortableText)


def captured_key(key: int, modifiers: Qt.KeyboardModifier) -> str:
    """The stored form of ``key`` with ``modifiers`` if it can be held to talk.

    Raises:
        ValueError: why not, in plain words (no name, a lock key, a typing key, the desktop's).
    """
    if key in _MODIFIER_KEYS:
        raise ValueError("Ctrl, Alt, Shift and Super only work together with another key.")
    try:
        spec = parse_hotkey(sequence_text(key, modifiers) if key not in (Key.Key_unknown, 0) else "")
    except ValueError:
        raise ValueError("This key has no name Aether can use. Choose another key.") from None
    problem = hotkey_problem(spec)
    if problem:
        raise ValueError(problem)
    return hotkey_text(spec)


class HotkeyEdit(QWidget):
    """The hotkey field, its Reset button and the line that says why a key was refused.

    Args:
        key: the current key (stored form).
        default: what Reset goes back to.
        show_refusals: say refusals on the line under the field (False: the owner
            says them, from :attr:`sig_key_refused`, on its own message line).
        parent: the Qt parent.

    Signals:
        sig_key_changed(str): a new key was captured or reset (stored form).
        sig_key_refused(str): a pressed key cannot be held to talk; why, in plain words.
    """

    sig_key_changed = Signal(str)
    sig_key_refused = Signal(str)

    def __init__(
        self, *, key: str, default: str, show_refusals: bool = True, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.key, self.default = key, default
        self.capturing = False
        self._show_refusals = show_refusals
        self.field = QPushButton(describe_stored(key), self)
        self.field.setObjectName("hotkey_field")
        self.field.setAccessibleName("Push-to-talk key")
        self.field.setToolTip("Click, or press Space, then press the keys you want to hold while you talk.")
        self.field.clicked.connect(self._on_field_clicked)
        self.field.installEventFilter(self)
        self.reset_button = QPushButton("&Reset", self)
        self.reset_button.setObjectName("hotkey_reset")
        self.reset_button.setToolTip(f"Go back to {describe_stored(default)}")
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
        self.field.setText(describe_stored(self.key))

    def show_key(self, key: str) -> None:
        """Show ``key`` (stored form) as the key in force, without telling listeners."""
        self.key = key
        self.cancel_capture()

    def set_key(self, key: str) -> None:
        """Use ``key`` (stored form) and tell listeners."""
        self.show_key(key)
        self.sig_key_changed.emit(key)

    def _on_field_clicked(self) -> None:
        if not self.capturing:
            self.start_capture()

    def _on_reset_button_clicked(self) -> None:
        self._say("")
        self.set_key(self.default)

    def _say(self, words: str) -> None:
        self.message.setText(words)
        self.message.setVisible(bool(words) and self._show_refusals)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """While capturing, key presses on the field are the user's answer; Tab and Shift+Tab move on."""
        if watched is not self.field or not self.capturing:
            return super().eventFilter(watched, event)
        if isinstance(event, QKeyEvent) and _moves_focus(event):
            self._say("")
            self.cancel_capture()  # and the event goes on: the focus moves as everywhere
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
        held = "+".join(name for flag, name in _HELD_NAMES if modifiers & flag)
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
        try:
            text = captured_key(key, modifiers)
        except ValueError as exc:
            self._say(str(exc))
            self.field.setText(PROMPT)
            self.sig_key_refused.emit(str(exc))
            return
        self._say("")
        self.set_key(text)


def _moves_focus(event: QKeyEvent) -> bool:
    """Tab or Shift+Tab without Ctrl, Alt or Super: it moves the focus, it is never captured."""
    return event.key() in (Key.Key_Tab, Key.Key_Backtab) and not event.modifiers() & _CHORD_MODS
