"""The start-up window (aether_qt/widgets/startup/shell.py): drawn first, where the main window will be.

It is shown before the app imports or opens anything heavy; ``show_painted``
returns only once the window system has really drawn it, and it takes the main
window's remembered geometry so the main window replaces it in place.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from aether_qt.widgets.startup.shell import (
    DEFAULT_SIZE,
    KEY_GEOMETRY,
    PaintWatch,
    StartWindow,
    show_painted,
)


def _settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)


def test_it_is_painted_before_show_painted_returns_and_says_aether_is_starting(
    x11: str, qtbot: QtBot, tmp_path: Path
) -> None:
    window = StartWindow(settings=_settings(tmp_path))
    qtbot.addWidget(window)
    watch = PaintWatch()
    painted = show_painted(window, watch)
    assert watch.first_paint(window) == painted  # a real paint, not the wait giving up
    assert window.isVisible() and window.windowTitle() == "Aether"
    assert (window.width(), window.height()) == DEFAULT_SIZE
    words = " ".join(label.text() for label in window.findChildren(QLabel))
    assert "Aether is starting" in words and "model" in words
    window.grab().save(str(tmp_path / "start_window.png"))
    window.hand_over()
    assert not window.isVisible()


def test_it_takes_the_main_windows_remembered_geometry(x11: str, qtbot: QtBot, tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    remembered = QWidget()
    qtbot.addWidget(remembered)
    remembered.resize(900, 610)
    settings.setValue(KEY_GEOMETRY, remembered.saveGeometry())
    window = StartWindow(settings=settings)
    qtbot.addWidget(window)
    assert (window.width(), window.height()) == (900, 610)


def test_an_unreadable_remembered_geometry_falls_back_to_the_default_size(
    x11: str, qtbot: QtBot, tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    settings.setValue(KEY_GEOMETRY, "not a geometry")  # the file is the user's to edit
    window = StartWindow(settings=settings)
    qtbot.addWidget(window)
    assert (window.width(), window.height()) == DEFAULT_SIZE
