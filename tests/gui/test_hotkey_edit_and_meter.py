"""The reusable hotkey field's rules and the level meter's scale (aether_qt/widgets/common)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLineEdit, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from aether_qt.engines.media.hotkey_spec import hotkey_text, parse_hotkey
from aether_qt.widgets.common.hotkey_edit import PROMPT, HotkeyEdit, captured_key
from aether_qt.widgets.common.level_meter import LevelMeter, level_fraction

K, M = Qt.Key, Qt.KeyboardModifier
CTRL_ALT = M.ControlModifier | M.AltModifier


@pytest.mark.parametrize(
    ("key", "mods", "text"),
    [
        (K.Key_Space, CTRL_ALT, "Ctrl+Alt+Space"),
        (K.Key_F9, M.NoModifier, "F9"),
        (K.Key_Pause, M.NoModifier, "Pause"),
        (K.Key_ScrollLock, M.NoModifier, "ScrollLock"),
        (K.Key_T, M.MetaModifier | M.ShiftModifier, "Meta+Shift+T"),
        (K.Key_F12, M.ControlModifier, "Ctrl+F12"),
        (K.Key_Insert, M.AltModifier, "Alt+Ins"),
    ],
)
def test_keys_that_can_be_held_to_talk_are_captured_in_the_stored_form(
    key: Qt.Key, mods: Qt.KeyboardModifier, text: str
) -> None:
    assert captured_key(key, mods) == text
    assert hotkey_text(parse_hotkey(text)) == text  # what the widget stores, the parser reads back


@pytest.mark.parametrize(
    ("key", "mods", "words"),
    [
        (K.Key_A, M.NoModifier, "A is used for typing"),
        (K.Key_A, M.ShiftModifier, "Shift+A is used for typing"),
        (K.Key_Space, M.NoModifier, "Space is used for typing"),
        (K.Key_Return, M.NoModifier, "Return is used for typing"),
        (K.Key_Left, M.NoModifier, "Left is used for typing"),
        (K.Key_CapsLock, M.NoModifier, "Caps Lock and Num Lock"),
        (K.Key_Tab, M.AltModifier, "Alt+Tab is used by your desktop"),
        (K.Key_F2, CTRL_ALT, "Ctrl+Alt+F2 is used by your desktop"),
        (K.Key_Delete, CTRL_ALT, "Ctrl+Alt+Delete is used by your desktop"),
        (K.Key_F4, M.AltModifier, "Alt+F4 is used by your desktop"),
        (K.Key_Super_L, M.MetaModifier, "only work together with another key"),
        (K.Key_Control, M.ControlModifier, "only work together with another key"),
        (K.Key_unknown, M.NoModifier, "no name Aether can use"),
    ],
)
def test_keys_that_cannot_be_a_global_hotkey_are_refused_in_words(
    key: Qt.Key, mods: Qt.KeyboardModifier, words: str
) -> None:
    with pytest.raises(ValueError) as refused:
        captured_key(key, mods)
    assert words in str(refused.value)


def test_tab_and_shift_tab_end_capturing_and_move_on_esc_cancels(qtbot: QtBot) -> None:
    host = QWidget()
    before = QLineEdit(host)
    edit = HotkeyEdit(key="F9", default="F9", parent=host)  # the focus chain: before, field, Reset, after
    after = QLineEdit(host)
    layout = QVBoxLayout(host)
    for widget in (before, edit, after):
        layout.addWidget(widget)
    qtbot.addWidget(host)
    host.show()
    qtbot.waitExposed(host)
    host.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is host, timeout=5000)
    edit.field.setFocus()
    QTest.keyClick(edit.field, K.Key_Space)
    assert edit.capturing
    QTest.keyClick(edit.field, K.Key_Tab)  # never trapped: the focus moves on, the key stays
    assert not edit.capturing and edit.key == "F9" and edit.field.text() == "F9"
    assert not edit.field.hasFocus()
    edit.field.setFocus()
    QTest.keyClick(edit.field, K.Key_Space)
    QTest.keyClick(edit.field, K.Key_Backtab, M.ShiftModifier)
    assert not edit.capturing and before.hasFocus()
    edit.field.setFocus()
    QTest.keyClick(edit.field, K.Key_Space)
    with qtbot.assertNotEmitted(edit.sig_key_changed):
        QTest.keyClick(edit.field, K.Key_Escape)
    assert not edit.capturing and edit.field.hasFocus() and edit.key == "F9"


def test_modifiers_alone_show_what_is_held_and_end_nothing(qtbot: QtBot) -> None:
    edit = HotkeyEdit(key="F9", default="F9")
    qtbot.addWidget(edit)
    edit.show()
    edit.start_capture()
    QTest.keyPress(edit.field, K.Key_Control, M.ControlModifier)
    assert edit.field.text() == "Ctrl+…" and edit.capturing
    QTest.keyRelease(edit.field, K.Key_Control, M.NoModifier)
    assert edit.field.text() == PROMPT and edit.capturing and edit.key == "F9"
    with qtbot.waitSignal(edit.sig_key_changed) as changed:
        QTest.keyClick(edit.field, K.Key_Space, CTRL_ALT)
    assert changed.args == ["Ctrl+Alt+Space"] and not edit.message.isVisibleTo(edit)


def test_the_meter_reads_decibels_and_its_peak_falls_back_slowly(qtbot: QtBot) -> None:
    assert level_fraction(0.0) == 0.0 and level_fraction(-1.0) == 0.0 and level_fraction(float("nan")) == 0.0
    assert level_fraction(1.0) == 1.0 and level_fraction(2.0) == 1.0
    assert level_fraction(0.001) == pytest.approx(0.0, abs=1e-9)  # -60 dB: the floor
    assert level_fraction(0.01) == pytest.approx(1 / 3)  # -40 dB: quiet speech fills a third
    meter = LevelMeter()
    qtbot.addWidget(meter)
    meter.set_level(0.1)
    loud = meter.level
    meter.set_level(0.0)
    assert meter.level == 0.0 and 0 < meter.peak < loud and meter.updates == 2
    assert meter.accessibleDescription() == "0 percent"
    meter.reset()
    assert (meter.level, meter.peak, meter.updates) == (0.0, 0.0, 0)


def test_real_x_key_presses_are_captured(qtbot: QtBot, xdotool: Callable[..., None]) -> None:
    edit = HotkeyEdit(key="F9", default="F9")
    qtbot.addWidget(edit)
    edit.show()
    qtbot.waitExposed(edit)
    edit.activateWindow()
    qtbot.waitUntil(edit.isActiveWindow, timeout=5000)
    edit.start_capture()
    xdotool("key", "--clearmodifiers", "a")  # refused: it types
    qtbot.waitUntil(lambda: "used for typing" in edit.message.text(), timeout=5000)
    xdotool("keydown", "ctrl", "keydown", "alt")
    qtbot.waitUntil(lambda: edit.field.text() == "Ctrl+Alt+…", timeout=5000)
    with qtbot.waitSignal(edit.sig_key_changed, timeout=5000) as changed:
        xdotool("key", "space")
    xdotool("keyup", "alt", "keyup", "ctrl")
    assert changed.args == ["Ctrl+Alt+Space"] and edit.field.text() == "Ctrl+Alt+Space"
