"""The reusable hotkey field's rules and the level meter's scale (aether_qt/widgets/common)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from aether_qt.widgets.common.hotkey_edit import PROMPT, HotkeyEdit, hotkey_problem, sequence_text
from aether_qt.widgets.common.level_meter import LevelMeter, level_fraction

K, M = Qt.Key, Qt.KeyboardModifier
CTRL_ALT = M.ControlModifier | M.AltModifier


@pytest.mark.parametrize(
    ("key", "mods", "text"),
    [
        (K.Key_Space, CTRL_ALT, "Ctrl+Alt+Space"),
        (K.Key_F9, M.NoModifier, "F9"),
        (K.Key_Pause, M.NoModifier, "Pause"),
        (K.Key_T, M.MetaModifier | M.ShiftModifier, "Meta+Shift+T"),
        (K.Key_F12, M.ControlModifier, "Ctrl+F12"),
    ],
)
def test_keys_that_can_be_held_to_talk_are_accepted(
    key: Qt.Key, mods: Qt.KeyboardModifier, text: str
) -> None:
    assert hotkey_problem(key, mods) == ""
    assert sequence_text(key, mods) == text


@pytest.mark.parametrize(
    ("key", "mods", "words"),
    [
        (K.Key_A, M.NoModifier, "A is used for typing"),
        (K.Key_A, M.ShiftModifier, "Shift+A is used for typing"),
        (K.Key_Space, M.NoModifier, "Space is used for typing"),
        (K.Key_Return, M.NoModifier, "Return is used for typing"),
        (K.Key_Left, M.NoModifier, "Left is used for typing"),
        (K.Key_Tab, M.NoModifier, "Tab moves between fields"),
        (K.Key_CapsLock, M.NoModifier, "Caps Lock and Num Lock"),
        (K.Key_Tab, M.AltModifier, "Alt+Tab is used by your desktop"),
        (K.Key_F2, CTRL_ALT, "Ctrl+Alt+F2 is used by your desktop"),
        (K.Key_Delete, CTRL_ALT, "Ctrl+Alt+Del is used by your desktop"),
        (K.Key_F4, M.AltModifier, "Alt+F4 is used by your desktop"),
    ],
)
def test_keys_that_cannot_be_a_global_hotkey_are_refused_in_words(
    key: Qt.Key, mods: Qt.KeyboardModifier, words: str
) -> None:
    assert words in hotkey_problem(key, mods)


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
