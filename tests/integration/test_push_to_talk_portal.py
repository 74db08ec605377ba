"""Choosing the push-to-talk backend with a GlobalShortcuts portal on a private session bus.

The session type comes from the environment handed to :class:`PushToTalk`; the
portal is a real service on a real ``dbus-daemon`` (see ``portal_support``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from portal_support import FakePortal, PrivateBus
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit
from pytestqt.qtbot import QtBot

from aether_qt.engines.media.portal_shortcuts import probe_portal
from aether_qt.services.voice.push_to_talk import PORTAL_WAITING, InWindowKeys, PushToTalk

WAIT_MS = 10_000


class Keys:
    """Presses and releases as the backends report them (from any thread)."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self._lock = threading.Lock()

    def press(self) -> None:
        with self._lock:
            self.seen.append("press")

    def release(self) -> None:
        with self._lock:
            self.seen.append("release")


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[PrivateBus]:
    private = PrivateBus(tmp_path / "bus")
    yield private
    private.close()


def session(bus: PrivateBus, kind: str) -> dict[str, str]:
    """The environment of a desktop session of ``kind`` whose session bus is ``bus``."""
    if kind == "wayland":  # no XWayland: only the portal could give a global key
        return {
            "XDG_SESSION_TYPE": "wayland",
            "WAYLAND_DISPLAY": "wayland-0",
            "DBUS_SESSION_BUS_ADDRESS": bus.address,
        }
    return {"XDG_SESSION_TYPE": "x11", "DISPLAY": ":4242", "DBUS_SESSION_BUS_ADDRESS": bus.address}


@pytest.fixture
def keys() -> Keys:
    return Keys()


def make(keys: Keys, environ: dict[str, str], prefer: str = "auto") -> PushToTalk:
    return PushToTalk(key="F9", prefer=prefer, on_press=keys.press, on_release=keys.release, environ=environ)


def wait_for_portal(ptt: PushToTalk, qtbot: QtBot) -> None:
    """Until the portal has bound the shortcut and push-to-talk uses it."""
    qtbot.waitUntil(lambda: ptt.backend is not None and ptt.backend.name == "portal", timeout=WAIT_MS)


def test_on_wayland_the_portal_takes_over_from_the_window_once_it_binds(
    bus: PrivateBus, keys: Keys, qtbot: QtBot
) -> None:
    portal = FakePortal(bus.address)
    ptt = make(keys, session(bus, "wayland"))
    try:
        ptt.start()
        assert ptt.in_window is not None and PORTAL_WAITING in ptt.notes  # the window meanwhile
        wait_for_portal(ptt, qtbot)
        assert ptt.in_window is None and PORTAL_WAITING not in ptt.notes
        portal.activate()
        qtbot.waitUntil(lambda: keys.seen == ["press"], timeout=WAIT_MS)
        portal.deactivate()
        qtbot.waitUntil(lambda: keys.seen == ["press", "release"], timeout=WAIT_MS)
    finally:
        ptt.stop()
        portal.close()


def test_a_declined_bind_falls_back_to_the_window_and_says_why(
    bus: PrivateBus, keys: Keys, qtbot: QtBot
) -> None:
    portal = FakePortal(bus.address, bind_response=1)
    ptt = make(keys, session(bus, "wayland"))
    try:
        with qtbot.waitSignal(ptt.sig_fell_back, timeout=WAIT_MS) as fell_back:
            ptt.start()
        reason = "the shortcut was declined in the desktop's dialog"
        assert fell_back.args == [reason]
        assert ptt.in_window is not None
        assert ptt.notes == [f"portal: {reason}", "x11: Wayland session without XWayland"]
        assert reason in ptt.in_window.reason
    finally:
        ptt.stop()
        portal.close()


def test_without_a_portal_on_the_bus_the_window_keeps_the_key(
    bus: PrivateBus, keys: Keys, qtbot: QtBot
) -> None:
    ptt = make(keys, session(bus, "wayland"))
    try:
        with qtbot.waitSignal(ptt.sig_fell_back, timeout=WAIT_MS):
            ptt.start()
        assert ptt.in_window is not None
        assert "portal: no desktop portal is running on the session bus" in ptt.notes
    finally:
        ptt.stop()


def test_when_the_portal_vanishes_mid_hold_the_key_is_released_and_the_window_takes_over(
    bus: PrivateBus, keys: Keys, qtbot: QtBot
) -> None:
    portal = FakePortal(bus.address)
    ptt = make(keys, session(bus, "wayland"))
    try:
        ptt.start()
        wait_for_portal(ptt, qtbot)
        portal.activate()
        qtbot.waitUntil(lambda: keys.seen == ["press"], timeout=WAIT_MS)
        with qtbot.waitSignal(ptt.sig_fell_back, timeout=WAIT_MS):
            portal.vanish()
        assert keys.seen == ["press", "release"]  # the microphone is not left live
        assert ptt.in_window is not None and "portal: the desktop portal stopped" in ptt.notes
    finally:
        ptt.stop()
        portal.close()


def test_on_x11_the_portal_is_never_asked_unless_chosen(bus: PrivateBus, keys: Keys, qtbot: QtBot) -> None:
    portal = FakePortal(bus.address)
    ptt = make(keys, session(bus, "x11"))
    try:
        ptt.start()
        assert ptt.backend is not None and ptt.backend.name != "portal"
        assert not any(note.startswith("portal") for note in ptt.notes), ptt.notes
        assert probe_portal(session(bus, "x11")).version == 1  # our own question, answered in order
        assert portal.calls == ["org.freedesktop.DBus.Properties.Get"] and portal.sessions == {}
    finally:
        ptt.stop()
    chosen = make(keys, session(bus, "x11"), prefer="portal")
    try:
        chosen.start()
        qtbot.waitUntil(
            lambda: chosen.backend is not None and chosen.backend.name == "portal", timeout=WAIT_MS
        )
        assert len(portal.sessions) == 1
    finally:
        chosen.stop()
        portal.close()


def test_the_window_hears_the_key_only_while_no_global_hotkey_does(
    bus: PrivateBus, keys: Keys, qtbot: QtBot
) -> None:
    portal = FakePortal(bus.address)
    field = QLineEdit()
    qtbot.addWidget(field)
    ptt = make(keys, session(bus, "wayland"))
    app = QApplication.instance()
    assert app is not None
    try:
        ptt.start()
        InWindowKeys(ptt, app)
        qtbot.keyPress(field, Qt.Key.Key_F9)  # the portal has not bound yet: the window listens
        qtbot.keyRelease(field, Qt.Key.Key_F9)
        assert keys.seen == ["press", "release"]
        wait_for_portal(ptt, qtbot)
        qtbot.keyPress(field, Qt.Key.Key_F9)  # bound: the desktop owns the key, the window lets it pass
        qtbot.keyRelease(field, Qt.Key.Key_F9)
        assert keys.seen == ["press", "release"]
        with qtbot.waitSignal(ptt.sig_fell_back, timeout=WAIT_MS):
            portal.vanish()
        qtbot.keyPress(field, Qt.Key.Key_F9)  # the portal went: the window listens again
        assert keys.seen == ["press", "release", "press"]
        ptt.stop()
        qtbot.keyRelease(field, Qt.Key.Key_F9)  # stopped: nobody listens any more
        assert keys.seen == ["press", "release", "press"]
    finally:
        ptt.stop()
        portal.close()
