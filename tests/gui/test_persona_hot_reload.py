"""Hot reload on the real stack: editing the active persona file changes the avatar and the next reply.

The app's persona thread watches the file; the edit is compiled there and
swapped at a turn boundary. Within a second of saving, the avatar is drawn in
the new palette; the next turn runs with the new persona (its content hash and
its system prompt); a broken edit shows the located error and keeps the persona.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import keyring
import keyring.backends.fail
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from aether_qt.app import _conversation
from aether_qt.companion import gate_on_bus
from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.core.events import Envelope, PersonaActivated, PersonaFailed, TurnEnded
from aether_qt.core.paths import resolve_paths
from aether_qt.engines.persona.registry import shipped_personas_dir
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.interaction.host import QtConversation
from aether_qt.services.persona.host import PersonaHost
from aether_qt.services.persona.service import PersonaService
from aether_qt.widgets.main_window import MainWindow


@dataclass
class Live:
    service: PersonaService
    conversation: QtConversation
    window: MainWindow
    events: list[Envelope]
    path: Path


@pytest.fixture
def live(qtbot: QtBot, x11: str, tmp_path: Path) -> Iterator[Live]:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    paths = resolve_paths(tmp_path / "home")
    runtime = PolicyRuntime.open(paths, allow_key_file=True)
    user_dir = paths.data_dir / "personas"
    user_dir.mkdir(parents=True)
    path = user_dir / "mine.yaml"
    path.write_text(
        (shipped_personas_dir() / "aether.yaml").read_text().replace("id: aether\n", "id: mine\n", 1)
    )
    runtime.settings.set("persona.active", "mine")
    bus = EventBus()
    events: list[Envelope] = []
    bus.subscribe("*", events.append)
    bridge = QtBusBridge(bus=bus)
    service = PersonaService(runtime=runtime, bus=bus, user_dir=user_dir)
    host = PersonaHost(service=service, bus=bus, debounce_ms=100)
    conversation = _conversation(paths, runtime, bus, service)
    window = MainWindow(
        runtime=runtime,
        controls=gate_on_bus(runtime, bus),
        settings=QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat),
        conversation=conversation,
        bus_bridge=bridge,
        personas=host.choices,
        choose_persona=host.choose,
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    service.start()
    host.start()
    conversation.start()
    try:
        qtbot.waitUntil(conversation.model_ready, timeout=60_000)
        yield Live(service, conversation, window, events, path)
    finally:
        window.shutdown()
        host.stop()
        conversation.stop()
        runtime.close()
        keyring.set_keyring(previous)


def face_colour(window: MainWindow) -> str:
    avatar = window.conversation_view.avatar
    image = avatar.grab().toImage()
    centre = avatar.face_rect().center()
    return QColor(image.pixel(int(centre.x()), int(centre.y()) - 12)).name()


def ends(live: Live) -> list[TurnEnded]:
    return [e.payload for e in live.events if isinstance(e.payload, TurnEnded)]


def test_editing_the_palette_and_prompt_applies_within_a_second(qtbot: QtBot, live: Live) -> None:
    qtbot.waitUntil(lambda: face_colour(live.window) == "#7fb7ff", timeout=5_000)
    old_hash = live.service.active.content_hash
    text = live.path.read_text()
    edited = text.replace('primary: "#7fb7ff"', 'primary: "#e0603a"').replace("You are", "You, Mine, are", 1)
    assert edited != text
    saved = time.monotonic()
    live.path.write_text(edited)
    qtbot.waitUntil(lambda: face_colour(live.window) == "#e0603a", timeout=3_000)
    took = time.monotonic() - saved
    assert took < 1.5, f"the avatar took {took:.2f} s to change"
    new_hash = live.service.active.content_hash
    assert new_hash != old_hash and "You, Mine, are" in live.service.active.router.system_prompt
    live.conversation.submit("hello again")
    qtbot.waitUntil(lambda: len(ends(live)) == 1, timeout=60_000)
    # the turn stays busy past TurnEnded while it stores its episode; then it lets a swap in
    qtbot.waitUntil(lambda: live.conversation.conductor.busy() is False, timeout=10_000)
    activated = [e.payload for e in live.events if isinstance(e.payload, PersonaActivated)]
    assert activated[-1].content_hash == new_hash


def test_a_broken_save_shows_the_location_and_keeps_the_persona(qtbot: QtBot, live: Live) -> None:
    good = live.service.active.content_hash
    live.path.write_text(live.path.read_text().replace("style:", "stlye:", 1))
    qtbot.waitUntil(lambda: any(isinstance(e.payload, PersonaFailed) for e in live.events), timeout=3_000)
    failed = next(e.payload for e in live.events if isinstance(e.payload, PersonaFailed))
    assert failed.path == str(live.path) and failed.line > 0
    assert live.service.active.content_hash == good
    qtbot.waitUntil(lambda: live.window.banners.banner("persona_error") is not None, timeout=3_000)
    banner = live.window.banners.banner("persona_error")
    assert banner is not None
    assert f"{live.path}:{failed.line}:{failed.column}" in banner.message.text()


def test_replacing_the_file_by_rename_is_noticed(qtbot: QtBot, live: Live) -> None:
    old_hash = live.service.active.content_hash
    replacement = live.path.with_name(".mine.yaml.swp")
    replacement.write_text(live.path.read_text().replace("You are", "You, renamed, are", 1))
    replacement.replace(live.path)  # what many editors do on save
    qtbot.waitUntil(lambda: live.service.active.content_hash != old_hash, timeout=3_000)
    assert "You, renamed, are" in live.service.active.router.system_prompt
