"""The push-to-talk key rebound live from the Settings dialog, on the real X server.

A real :class:`VoiceHost` holds a passive X key grab on F9 (the X11 backend,
as the app starts it); the Voice page captures F8 from the keyboard, and from
then on ``xdotool keydown F8`` starts push-to-talk while F9 does nothing. A key
another X client has grabbed is refused next to the field, the old key keeps
working and nothing is stored. A combination (Ctrl+Alt+Space) is grabbed with
its modifiers, in the same stored form as the wizard's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot
from settings_support import press, settings_harness, show, tab_to

from aether_qt.companion import gate_on_bus
from aether_qt.core.bus import EventBus
from aether_qt.core.paths import resolve_paths
from aether_qt.engines.media.hotkeys import X11GrabBackend
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.voice.host import VoiceHost
from aether_qt.widgets.settings.page import ERROR_PROPERTY
from aether_qt.widgets.settings.pages_basic import VoicePage


@pytest.fixture
def voice(x11: str, tmp_path: Path) -> Iterator[tuple[VoiceHost, list[str]]]:
    """A started voice host on F9 (X11 grab, no speech model, no speech) over its own runtime."""
    runtime = PolicyRuntime.open(resolve_paths(tmp_path / "voice-home"))
    bus = EventBus()
    host = VoiceHost(
        gate=gate_on_bus(runtime, bus),
        effectors=runtime.effectors,
        bus=bus,
        submit=lambda _text, **_kw: None,
        interrupt=lambda: None,
        busy=lambda: False,
        stt_model=None,
        clip_dir=tmp_path / "speech",
        key="F9",
        backend="x11",
        speak=False,
    )
    pressed: list[str] = []
    host.sig_ptt_pressed.connect(lambda: pressed.append(host.key))
    host.start()
    try:
        assert host.backend_name == "x11", host.backend_notes
        yield host, pressed
    finally:
        host.stop()
        runtime.close()


def capture(
    qtbot: QtBot, page: VoicePage, key: Qt.Key, mods: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
) -> None:
    """Capture ``key`` from the keyboard: Tab to the field, Space starts capturing, then the key."""
    tab_to(qtbot, page.key.field)
    press(qtbot, Qt.Key.Key_Space)
    press(qtbot, key, mods)


def tap(xdotool: Callable[..., None], key: str) -> None:
    xdotool("keydown", key)
    xdotool("keyup", key)


def test_a_captured_key_is_grabbed_at_once_and_a_taken_key_is_refused(
    qtbot: QtBot,
    tmp_path: Path,
    xdotool: Callable[..., None],
    voice: tuple[VoiceHost, list[str]],
) -> None:
    host, pressed = voice
    taken = X11GrabBackend("F7", lambda: None, lambda: None)  # another application holds F7
    try:
        with settings_harness(qtbot, tmp_path / "home", voice=lambda: host) as h:
            show(qtbot, h.dialog)
            page = h.dialog.show_page("Voice")
            assert isinstance(page, VoicePage) and page.in_use.text() == "In use now: x11."
            capture(qtbot, page, Qt.Key.Key_F8)
            assert page.key_message.text() == "Hold F8 to talk." and h.setting("voice.ptt_hotkey") == "F8"
            tab_to(qtbot, page.backend)  # real key events go to the focused field: leave the capture field
            tap(xdotool, "F8")
            qtbot.waitUntil(lambda: pressed == ["F8"], timeout=5000)
            tap(xdotool, "F9")  # no longer grabbed: a later F8 is the next press seen
            tap(xdotool, "F8")
            qtbot.waitUntil(lambda: len(pressed) == 2, timeout=5000)
            assert pressed == ["F8", "F8"]

            assert h.setting("voice.ptt_backend") is None  # F9 reached the window, which ignored it
            capture(qtbot, page, Qt.Key.Key_F7)
            assert page.key_message.property(ERROR_PROPERTY) is True
            assert page.key_message.text() == "F7 cannot be used here: another application has grabbed F7."
            assert (
                page.key.field.text() == "F8" and h.setting("voice.ptt_hotkey") == "F8" and host.key == "F8"
            )
            tap(xdotool, "F8")  # the old key still works
            qtbot.waitUntil(lambda: len(pressed) == 3, timeout=5000)

            capture(
                qtbot,
                page,
                Qt.Key.Key_Space,
                Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier,
            )
            assert page.key_message.text() == "Hold Ctrl+Alt+Space to talk."
            assert (
                h.setting("voice.ptt_hotkey") == "Ctrl+Alt+Space"
                and page.key.field.text() == "Ctrl+Alt+Space"
            )
            tab_to(qtbot, page.backend)
            tap(xdotool, "F8")  # let go: it reaches the window, which ignores it
            tap(xdotool, "ctrl+alt+space")  # the combination, grabbed with its modifiers
            qtbot.waitUntil(lambda: len(pressed) == 4, timeout=5000)
            assert pressed[3] == "Ctrl+Alt+Space"
            tab_to(qtbot, page.backend)
            press(qtbot, Qt.Key.Key_Down)  # chosen when voice starts: said honestly
            assert page.backend_message.text().endswith(": takes effect after restart.")
            assert h.setting("voice.ptt_backend") == "x11" and host.backend_name == "x11"
    finally:
        taken.stop()
