"""Driving the real tray icon on the desktop of ``make test`` (trayer, xdotool)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QSystemTrayIcon
from pytestqt.qtbot import QtBot

from aether_qt.policy.decisions import ActionRequest, Ask
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.widgets.tray import TrayIcon


def ask(runtime: PolicyRuntime, home: Path, name: str = "x.txt") -> Ask:
    """Open an approval ticket: creating ``name`` in an approved folder asks under the default preset."""
    root = home / "docs"
    root.mkdir(exist_ok=True)
    runtime.set_roots((root,))
    decision = runtime.gate.evaluate(ActionRequest("files.create", str(root / name)))
    assert isinstance(decision, Ask), decision
    return decision


def show_in_tray(qtbot: QtBot, tray: TrayIcon) -> None:
    """Show the icon and wait until trayer has embedded it."""
    assert QSystemTrayIcon.isSystemTrayAvailable(), "no tray host on the display (trayer)"
    tray.show()
    qtbot.waitUntil(lambda: not tray.geometry().isEmpty(), timeout=5000)
    qtbot.wait(200)  # the XEmbed icon window is mapped into trayer asynchronously


def open_tray_menu(qtbot: QtBot, xdotool: Callable[..., None], tray: TrayIcon) -> None:
    """Right-click the icon (again, until the menu shows: the first click may land before the map)."""
    centre = tray.geometry().center()

    def menu_opens() -> bool:
        if not tray.menu.isVisible():
            xdotool("mousemove", centre.x(), centre.y(), "click", "3")
            qtbot.wait(150)
        return tray.menu.isVisible()

    qtbot.waitUntil(menu_opens, timeout=5000)
