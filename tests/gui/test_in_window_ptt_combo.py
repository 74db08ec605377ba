"""The in-window push-to-talk honours the key's modifiers: Ctrl+Alt+Space talks, Space alone still types.

A real :class:`PushToTalk` on the in-window backend and the real application
event filter; the key events are Qt's own (QTest), sent to a focused text field.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from aether_qt.services.voice.push_to_talk import InWindowKeys, PushToTalk, key_combination

K, M = Qt.Key, Qt.KeyboardModifier
CTRL_ALT = M.ControlModifier | M.AltModifier


def test_a_combination_talks_only_with_its_modifiers_and_the_bare_key_still_types(qtbot: QtBot) -> None:
    seen: list[str] = []
    ptt = PushToTalk(
        key="Ctrl+Alt+Space",
        prefer="in-window",
        on_press=lambda: seen.append("press"),
        on_release=lambda: seen.append("release"),
    )
    field = QLineEdit()
    qtbot.addWidget(field)
    field.show()
    qtbot.waitExposed(field)
    app = QApplication.instance()
    assert app is not None
    try:
        ptt.start()
        assert ptt.in_window is not None
        InWindowKeys(ptt, app)
        QTest.keyClick(field, K.Key_Space)  # Space alone: typed, not push-to-talk
        QTest.keyClick(field, K.Key_Space, M.ControlModifier)  # one modifier short
        assert seen == [] and field.text() == " "
        QTest.keyPress(field, K.Key_Space, CTRL_ALT)
        assert seen == ["press"]
        QTest.keyRelease(field, K.Key_Space, M.ControlModifier)  # Alt let go first: the main key ends it
        assert seen == ["press", "release"] and field.text() == " "
    finally:
        ptt.stop()


def test_the_stored_forms_are_read_as_qt_keys() -> None:
    assert key_combination("Ctrl+Alt+Space") == (K.Key_Space.value, CTRL_ALT)
    assert key_combination("Scroll_Lock") == (K.Key_ScrollLock.value, M.NoModifier)  # an older value
    assert key_combination("Meta+F9") == (K.Key_F9.value, M.MetaModifier)
    assert key_combination("Ctrl+Alt") is None and key_combination("") is None
