"""The Settings dialog over a real home, for the settings GUI tests.

Everything under the dialog is real: the policy runtime of a home on disk (its
keys and the providers' keys in the desktop session's gnome-keyring), the
encrypted ``aether.db``, the audit log, the gate adapter on a real bus, the
persona service with the shipped personas, a real router whose remote tier the
Providers page rebuilds, and the cost ledger. Only the conversation's
``use_model`` is a recorder (loading a model on the router thread is the
conversation's own test). With ``AETHER_WRITE_SCREENSHOTS=1`` the page
screenshots go to ``docs/screenshots``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot

from aether_qt.companion import build_remote_tier
from aether_qt.core.bus import EventBus
from aether_qt.core.events import Envelope
from aether_qt.core.paths import resolve_paths
from aether_qt.engines.persona.registry import user_personas_dir
from aether_qt.engines.router.router import Router
from aether_qt.policy.contracts import AuditRow
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.persona.host import PersonaHost
from aether_qt.services.persona.service import PersonaService
from aether_qt.services.settings.build import build_settings
from aether_qt.services.settings.voice import VoiceControl
from aether_qt.widgets.settings.dialog import SettingsDialog

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Harness:
    """The dialog and the real parts it changes."""

    runtime: PolicyRuntime
    bus: EventBus
    router: Router
    personas: PersonaHost
    dialog: SettingsDialog
    events: list[Envelope] = field(default_factory=list)
    loaded: list[str] = field(default_factory=list)  # what the conversation was asked to load

    def audit_rows(self) -> list[AuditRow]:
        assert self.runtime.audit is not None
        return list(self.runtime.audit.rows())

    def setting(self, key: str) -> object:
        return self.runtime.settings.get(key)


@contextmanager
def settings_harness(
    qtbot: QtBot, home: Path, *, voice: Callable[[], VoiceControl | None] = lambda: None
) -> Iterator[Harness]:
    """Open ``home`` (keys in the session keyring), build the dialog over it, close everything after."""
    runtime = PolicyRuntime.open(resolve_paths(home))
    assert runtime.keys is not None, "the desktop session's keyring should hold the keys"
    bus = EventBus()
    events: list[Envelope] = []
    bus.subscribe("*", events.append)
    service = PersonaService(runtime=runtime, bus=bus, user_dir=user_personas_dir(runtime.paths.data_dir))
    service.start()
    personas = PersonaHost(service=service, bus=bus)  # not started: no file watching needed here
    router = Router(models_dir=runtime.paths.models_dir, clock=lambda: 0.0)
    loaded: list[str] = []

    def reload_remote() -> None:
        router.remote = build_remote_tier(runtime)

    services = build_settings(
        runtime=runtime,
        models_dir=runtime.paths.models_dir,
        bus=bus,
        personas=personas,
        voice=voice,
        use_model=loaded.append,
        reload_remote=reload_remote,
        router=router,
    )
    dialog = SettingsDialog(ports=services)
    qtbot.addWidget(dialog)
    harness = Harness(runtime, bus, router, personas, dialog, events, loaded)
    try:
        yield harness
    finally:
        dialog.close()
        dialog.shutdown()
        personas.stop()
        runtime.close()


def show(qtbot: QtBot, dialog: SettingsDialog) -> None:
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is dialog, timeout=5000)


def focused() -> QWidget:
    widget = QApplication.focusWidget()
    assert widget is not None, "something in the dialog should have the keyboard focus"
    return widget


def press(qtbot: QtBot, key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    """Press ``key`` on whatever has the focus, as the keyboard would."""
    qtbot.keyClick(focused(), key, modifier)


def tab_to(qtbot: QtBot, target: QWidget, *, limit: int = 30) -> int:
    """Press Tab until ``target`` has the focus (fails after ``limit`` presses); how many it took."""
    for presses in range(limit):
        if focused() is target:
            return presses
        press(qtbot, Qt.Key.Key_Tab)
    raise AssertionError(f"Tab never reached {target.objectName() or target}")


def save_page_shot(qtbot: QtBot, dialog: SettingsDialog, page: str, tmp_path: Path) -> Path:
    """Screenshot the dialog on ``page`` (docs/screenshots with AETHER_WRITE_SCREENSHOTS=1)."""
    qtbot.wait(120)
    write = os.environ.get("AETHER_WRITE_SCREENSHOTS") == "1"
    target = REPO / "docs" / "screenshots" if write else tmp_path
    target.mkdir(parents=True, exist_ok=True)
    image = dialog.grab().toImage()
    path = target / f"settings-{page.lower()}.png"
    assert image.save(str(path))
    colours = {
        QColor(image.pixel(x, y)).name()
        for x in range(0, image.width(), 9)
        for y in range(0, image.height(), 9)
    }
    assert len(colours) > 8, "the screenshot should show drawn widgets, not a blank area"
    return path
