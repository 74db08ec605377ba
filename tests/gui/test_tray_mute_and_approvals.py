"""The tray's approval message and its "Mute microphone" switch, with the window they drive.

On the real X server (``scripts/with-desktop.sh``: Xvfb with the ``trayer`` XEmbed tray host)
the tray message is Qt's own balloon, clicked with xdotool, and the tray menu is opened with
a real right click. Muting flips the app's :class:`~aether_qt.services.voice.mute.MicMute`,
published on the bus; the window shows the "Microphone muted" banner and the avatar says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from keyring_support import key_file_runtime
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication, QWidget
from pytestqt.qtbot import QtBot
from tray_support import ask, open_tray_menu, show_in_tray

from aether_qt.companion import gate_on_bus
from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.core.events import Envelope, VoiceStateChanged
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.voice.mute import MUTED_MESSAGE, MicMute
from aether_qt.widgets.main_window import MainWindow
from aether_qt.widgets.tray import NO_MICROPHONE, TrayIcon
from aether_qt.widgets.trust.banners import UNMUTE
from aether_qt.widgets.window.voice_banners import MUTED, MUTED_NOTE


@pytest.fixture
def runtime(home: Path) -> Iterator[PolicyRuntime]:
    with key_file_runtime(home) as rt:
        yield rt


@pytest.fixture
def mute(bus: EventBus) -> MicMute:
    return MicMute(bus=bus)


@pytest.fixture
def parts(
    qtbot: QtBot, runtime: PolicyRuntime, bus: EventBus, bridge: QtBusBridge, home: Path, mute: MicMute
) -> Iterator[tuple[MainWindow, TrayIcon]]:
    settings = QSettings(str(home / "config" / "aether-qt.ini"), QSettings.Format.IniFormat)
    controls = gate_on_bus(runtime, bus)
    window = MainWindow(
        runtime=runtime,
        controls=controls,
        settings=settings,
        keep_in_tray=True,
        confirm=lambda *_: True,
        bus_bridge=bridge,
        microphone=mute,
    )
    qtbot.addWidget(window)
    tray = TrayIcon(runtime=runtime, controls=controls, window=window, bus_bridge=bridge, microphone=mute)
    try:
        yield window, tray
    finally:
        tray.shutdown()
        window.shutdown()


def test_mute_from_the_tray_menu_is_published_shown_and_undone_by_the_banner(
    qtbot: QtBot, parts: tuple[MainWindow, TrayIcon], mute: MicMute, bus: EventBus
) -> None:
    window, tray = parts
    seen: list[Envelope] = []
    bus.subscribe(VoiceStateChanged.KIND, seen.append)
    assert (
        tray.mute_action.isEnabled() and tray.mute_action.isCheckable() and not tray.mute_action.isChecked()
    )
    tray.mute_action.trigger()
    assert mute.muted
    assert [(e.payload.state, e.payload.message) for e in seen] == [("muted", MUTED_MESSAGE)]
    assert MUTED in window.banners.flags()
    assert window.conversation_view.avatar.note == MUTED_NOTE
    banner = window.banners.banner(MUTED)
    assert banner is not None and banner.buttons[UNMUTE].isEnabled()
    banner.buttons[UNMUTE].click()  # the banner's own fix
    assert not mute.muted and not tray.mute_action.isChecked()
    assert MUTED not in window.banners.flags() and window.conversation_view.avatar.note == ""
    qtbot.waitUntil(lambda: len(seen) == 2)
    assert seen[-1].payload.state == "idle"


def test_without_a_microphone_switch_the_tray_entry_says_why(
    runtime: PolicyRuntime, bus: EventBus, home: Path, qtbot: QtBot
) -> None:
    settings = QSettings(str(home / "aether-qt.ini"), QSettings.Format.IniFormat)
    window = MainWindow(runtime=runtime, controls=gate_on_bus(runtime, bus), settings=settings)
    qtbot.addWidget(window)
    tray = TrayIcon(runtime=runtime, controls=gate_on_bus(runtime, bus), window=window)
    try:
        assert not tray.mute_action.isEnabled() and tray.mute_action.toolTip() == NO_MICROPHONE
    finally:
        tray.shutdown()
        window.shutdown()


def test_clicking_the_approval_message_opens_the_window_on_the_approvals_tab(
    qtbot: QtBot, parts: tuple[MainWindow, TrayIcon], runtime: PolicyRuntime, home: Path
) -> None:
    window, tray = parts
    window.show_tab(window.trust_centre.indexOf(window.trust_centre.audit))
    window.set_trust_centre_visible(False)
    window.hide()
    tray.show()
    ask(runtime, home, "plan.txt")
    window.refresh()  # the window announces the new approval; hidden, so the tray says it
    assert tray.message_shows_approvals
    tray.messageClicked.emit()
    qtbot.waitUntil(window.isVisible, timeout=3000)
    assert window.trust_centre.isVisible()
    assert window.trust_centre.currentWidget() is window.trust_centre.approvals


def balloon() -> QWidget | None:
    """Qt's own tray message (shown when no notification service handles it), if visible."""
    return next(
        (
            w
            for w in QApplication.topLevelWidgets()
            if w.metaObject().className() == "QBalloonTip" and w.isVisible()
        ),
        None,
    )


def test_a_real_click_on_the_tray_message_shows_the_approval(
    qtbot: QtBot,
    x11: str,
    xdotool: Callable[..., None],
    parts: tuple[MainWindow, TrayIcon],
    runtime: PolicyRuntime,
    home: Path,
) -> None:
    window, tray = parts
    show_in_tray(qtbot, tray)
    assert not window.isVisible()
    ask(runtime, home, "plan.txt")
    window.refresh()
    qtbot.waitUntil(lambda: balloon() is not None, timeout=5000)
    tip = balloon()
    assert tip is not None
    centre = tip.mapToGlobal(tip.rect().center())
    with qtbot.waitSignal(tray.messageClicked, timeout=5000):
        xdotool("mousemove", centre.x(), centre.y(), "click", "1")
    qtbot.waitUntil(window.isVisible, timeout=3000)
    assert window.trust_centre.currentWidget() is window.trust_centre.approvals
    assert len(window.trust_centre.approvals.pending_ids()) == 1


def test_mute_from_a_real_right_click_on_the_tray_menu(
    qtbot: QtBot, x11: str, xdotool: Callable[..., None], parts: tuple[MainWindow, TrayIcon], mute: MicMute
) -> None:
    window, tray = parts
    show_in_tray(qtbot, tray)
    open_tray_menu(qtbot, xdotool, tray)
    target = tray.menu.mapToGlobal(tray.menu.actionGeometry(tray.mute_action).center())
    with qtbot.waitSignal(mute.sig_muted_changed, timeout=5000) as blocker:
        xdotool("mousemove", target.x(), target.y(), "click", "1")
    assert blocker.args == [True] and mute.muted and tray.mute_action.isChecked()
    assert MUTED in window.banners.flags()
    qtbot.waitUntil(lambda: not tray.menu.isVisible(), timeout=3000)
