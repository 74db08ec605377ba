"""The tray icon: state colours, Pause, hide-to-tray, and (on the real X server) its menu."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fake_conversation import TOKENS, FakeConversation
from keyring_support import key_file_runtime
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QSystemTrayIcon
from pytestqt.qtbot import QtBot
from tray_support import ask, open_tray_menu, show_in_tray

from aether_qt.companion import gate_on_bus
from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.core.events import Envelope, PauseChanged
from aether_qt.policy.capabilities import CAPABILITIES
from aether_qt.policy.decisions import ActionRequest, ApprovalChoice, Deny, DenyReason
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.gate.gate_on_bus import GateOnBus
from aether_qt.widgets.main_window import MainWindow
from aether_qt.widgets.tray import STATE_COLOURS, TrayIcon, state_pixmap, tray_state


@pytest.fixture
def runtime(home: Path) -> Iterator[PolicyRuntime]:
    with key_file_runtime(home) as rt:
        yield rt


@pytest.fixture
def controls(runtime: PolicyRuntime, bus: EventBus) -> GateOnBus:
    """The policy controls the app hands the window and the tray (the gate-on-bus adapter)."""
    return gate_on_bus(runtime, bus)


@pytest.fixture
def parts(
    qtbot: QtBot, runtime: PolicyRuntime, controls: GateOnBus, home: Path
) -> Iterator[tuple[MainWindow, TrayIcon]]:
    settings = QSettings(str(home / "config" / "aether-qt.ini"), QSettings.Format.IniFormat)
    window = MainWindow(
        runtime=runtime, controls=controls, settings=settings, keep_in_tray=True, confirm=lambda *_: True
    )
    qtbot.addWidget(window)
    tray = TrayIcon(runtime=runtime, controls=controls, window=window)
    try:
        yield window, tray
    finally:
        tray.shutdown()
        window.shutdown()


CREATE_FILE = CAPABILITIES["files.create"].description


def test_tray_state_priorities() -> None:
    assert tray_state(0, []) == "idle"
    assert tray_state(0, ["keys_on_disk"]) == "idle"
    assert tray_state(2, ["keys_on_disk"]) == "attention"
    assert tray_state(0, ["paused"]) == "paused"
    assert tray_state(1, ["paused"]) == "attention"
    assert tray_state(3, ["audit_broken", "paused"]) == "degraded"
    assert tray_state(0, ["policy_degraded"]) == "degraded"
    assert tray_state(0, [], "thinking") == "thinking"
    assert tray_state(0, ["paused"], "speaking") == "speaking"
    assert tray_state(0, [], "listening") == "listening"
    assert tray_state(0, [], "attention") == "attention"
    assert tray_state(1, [], "speaking") == "attention"
    assert tray_state(0, ["audit_broken"], "thinking") == "degraded"


@pytest.mark.parametrize("state", sorted(STATE_COLOURS))
def test_state_icon_is_a_coloured_dot(qapp: object, state: str) -> None:
    image = state_pixmap(state, 64).toImage()
    assert QColor(image.pixel(32, 44)).name() == STATE_COLOURS[state]
    assert image.pixelColor(1, 1).alpha() == 0  # transparent corners: a circle, not a square


def test_icon_turns_to_attention_when_a_ticket_is_pending(
    parts: tuple[MainWindow, TrayIcon], runtime: PolicyRuntime, home: Path
) -> None:
    window, tray = parts
    assert tray.state == "idle"
    ask(runtime, home)
    window.refresh()
    assert tray.state == "attention"
    assert "waiting for your OK" in tray.toolTip()


def test_pause_from_the_menu_shows_the_banner_and_denies(
    parts: tuple[MainWindow, TrayIcon], runtime: PolicyRuntime, home: Path
) -> None:
    window, tray = parts
    tray.pause_action.trigger()
    assert runtime.gate.paused
    assert "paused" in window.banners.flags()
    assert tray.state == "paused"
    decision = runtime.gate.evaluate(ActionRequest("notify.send", "hello"))
    assert isinstance(decision, Deny)
    assert decision.reason is DenyReason.PAUSED
    tray.pause_action.trigger()
    assert not runtime.gate.paused
    assert "paused" not in window.banners.flags()
    assert tray.state == "idle"


def test_initial_state_counts_tickets_opened_before_the_tray(
    qtbot: QtBot, parts: tuple[MainWindow, TrayIcon], runtime: PolicyRuntime, controls: GateOnBus, home: Path
) -> None:
    window, first = parts
    ask(runtime, home)
    tray = TrayIcon(runtime=runtime, controls=controls, window=window)
    assert tray.state == "attention"
    assert first.state == "idle"  # not refreshed yet


def test_pause_elsewhere_updates_the_check_mark(
    parts: tuple[MainWindow, TrayIcon], runtime: PolicyRuntime
) -> None:
    window, tray = parts
    runtime.gate.pause(True)
    window.refresh()
    assert tray.pause_action.isChecked()


def test_new_approval_while_hidden_shows_a_tray_message(
    parts: tuple[MainWindow, TrayIcon], runtime: PolicyRuntime, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window, tray = parts
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(tray, "isVisible", lambda: True)
    monkeypatch.setattr(tray, "showMessage", lambda title, text, *_: shown.append((title, text)))
    window.hide()
    ask(runtime, home)
    window.refresh()
    assert shown == [("Aether needs your approval", f"{CREATE_FILE}: {home / 'docs' / 'x.txt'}")]
    window.refresh()  # the same ticket is announced once
    assert len(shown) == 1


def test_quit_action_asks_to_quit(qtbot: QtBot, parts: tuple[MainWindow, TrayIcon]) -> None:
    _, tray = parts
    with qtbot.waitSignal(tray.sig_quit_requested, timeout=1000):
        tray.quit_action.trigger()


def test_left_click_toggles_the_window(qtbot: QtBot, parts: tuple[MainWindow, TrayIcon]) -> None:
    window, tray = parts
    tray.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    qtbot.waitUntil(window.isVisible, timeout=2000)
    tray.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    assert not window.isVisible()


def test_close_hides_to_the_visible_tray(qtbot: QtBot, x11: str, parts: tuple[MainWindow, TrayIcon]) -> None:
    assert QSystemTrayIcon.isSystemTrayAvailable(), "no tray host on the display (trayer)"
    window, tray = parts
    tray.show()
    window.show()
    qtbot.waitExposed(window)
    with qtbot.assertNotEmitted(window.sig_quit_requested):
        window.close()
    assert not window.isVisible()
    assert tray.isVisible()
    qtbot.waitUntil(lambda: tray.geometry().width() > 0, timeout=5000)


def test_tray_menu_opens_on_right_click_and_pauses(
    qtbot: QtBot,
    x11: str,
    xdotool: Callable[..., None],
    parts: tuple[MainWindow, TrayIcon],
    runtime: PolicyRuntime,
) -> None:
    window, tray = parts
    show_in_tray(qtbot, tray)
    open_tray_menu(qtbot, xdotool, tray)
    target = tray.menu.mapToGlobal(tray.menu.actionGeometry(tray.pause_action).center())
    with qtbot.waitSignal(tray.sig_pause_toggled, timeout=5000) as blocker:
        xdotool("mousemove", target.x(), target.y(), "click", "1")
    assert blocker.args == [True]
    assert runtime.gate.paused
    assert "paused" in window.banners.flags()
    qtbot.waitUntil(lambda: not tray.menu.isVisible(), timeout=3000)


# ---------------------------------------------------------------- with a conversation


@pytest.fixture
def talking(
    qtbot: QtBot,
    runtime: PolicyRuntime,
    controls: GateOnBus,
    home: Path,
    fake: FakeConversation,
    bridge: QtBusBridge,
) -> Iterator[tuple[MainWindow, TrayIcon]]:
    settings = QSettings(str(home / "config" / "aether-qt.ini"), QSettings.Format.IniFormat)
    window = MainWindow(
        runtime=runtime,
        controls=controls,
        settings=settings,
        keep_in_tray=True,
        confirm=lambda *_: True,
        conversation=fake,
        bus_bridge=bridge,
    )
    qtbot.addWidget(window)
    tray = TrayIcon(runtime=runtime, controls=controls, window=window, conversation=fake, bus_bridge=bridge)
    qtbot.addWidget(tray.quick_talk)
    try:
        yield window, tray
    finally:
        tray.shutdown()
        window.shutdown()


def icon_colour(tray: TrayIcon) -> str:
    return QColor(tray.icon().pixmap(64, 64).toImage().pixel(32, 44)).name()


def test_menu_offers_show_quick_talk_pause_and_quit(talking: tuple[MainWindow, TrayIcon]) -> None:
    _, tray = talking
    texts = [a.text() for a in tray.menu.actions() if not a.isSeparator()]
    assert texts == ["Show Aether", "Quick talk", "Pause side effects", "Mute microphone", "Quit"]
    tray.quick_talk_action.trigger()
    assert tray.quick_talk.isVisible()


def test_icon_follows_the_turn_state(
    qtbot: QtBot, talking: tuple[MainWindow, TrayIcon], fake: FakeConversation
) -> None:
    window, tray = talking
    assert (tray.state, icon_colour(tray)) == ("idle", STATE_COLOURS["idle"])
    fake.hold = True
    window.conversation_view.input.setPlainText("hello")
    window.conversation_view.send()
    fake.run_all()
    assert (tray.state, icon_colour(tray)) == ("thinking", STATE_COLOURS["thinking"])
    assert tray.toolTip() == "Aether: thinking"
    fake.open_ticket("tkt_1")  # the turn waits for an approval: needs attention
    assert (tray.state, icon_colour(tray)) == ("attention", STATE_COLOURS["attention"])
    fake.answer("tkt_1", ApprovalChoice.ALLOW_ONCE)
    fake.release()
    qtbot.waitUntil(lambda: tray.state == "speaking", timeout=2000)
    assert icon_colour(tray) == STATE_COLOURS["speaking"]
    assert tray.toolTip() == "Aether: speaking"
    qtbot.waitUntil(lambda: tray.state == "idle", timeout=2000)
    assert icon_colour(tray) == STATE_COLOURS["idle"]


def test_pending_ticket_on_the_bus_needs_attention(
    qtbot: QtBot, talking: tuple[MainWindow, TrayIcon], fake: FakeConversation
) -> None:
    _, tray = talking
    fake.open_ticket("tkt_5", turn_id="turn_0")
    qtbot.waitUntil(lambda: tray.state == "attention", timeout=2000)
    fake.answer("tkt_5", ApprovalChoice.DENY)
    qtbot.waitUntil(lambda: tray.state == "idle", timeout=2000)


def test_pause_from_the_menu_is_published_and_shows_the_banner(
    talking: tuple[MainWindow, TrayIcon], runtime: PolicyRuntime, bus: EventBus
) -> None:
    window, tray = talking
    seen: list[Envelope] = []
    bus.subscribe(PauseChanged.KIND, seen.append)
    tray.pause_action.trigger()
    assert runtime.audit is not None
    pause_row = runtime.audit.rows()[-1]
    assert [e.payload for e in seen] == [PauseChanged(paused=True, audit_id=pause_row.audit_id)]
    assert pause_row.detail["paused"] is True and pause_row.change_id == seen[0].change_id
    assert "paused" in window.banners.flags()  # at once, not after the bus event
    assert tray.state == "paused"
    tray.pause_action.trigger()
    assert [e.payload.paused for e in seen if isinstance(e.payload, PauseChanged)] == [True, False]
    assert "paused" not in window.banners.flags()


def test_pause_from_elsewhere_reaches_the_tray_through_the_bus(
    qtbot: QtBot, talking: tuple[MainWindow, TrayIcon], controls: GateOnBus
) -> None:
    window, tray = talking
    controls.pause(True)  # another surface (or the command line of this app) paused side effects
    qtbot.waitUntil(tray.pause_action.isChecked, timeout=2000)
    assert "paused" in window.banners.flags()
    assert tray.state == "paused"
    controls.pause(False)
    qtbot.waitUntil(lambda: not tray.pause_action.isChecked(), timeout=2000)
    assert tray.state == "idle"


def test_left_click_toggles_quick_talk(qtbot: QtBot, talking: tuple[MainWindow, TrayIcon]) -> None:
    window, tray = talking
    tray.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    qtbot.waitUntil(tray.quick_talk.isVisible, timeout=2000)
    assert not window.isVisible()
    tray.activated.emit(QSystemTrayIcon.ActivationReason.Trigger)
    assert not tray.quick_talk.isVisible()


def test_quick_talk_from_a_real_tray_click_answers(
    qtbot: QtBot,
    x11: str,
    xdotool: Callable[..., None],
    talking: tuple[MainWindow, TrayIcon],
    fake: FakeConversation,
) -> None:
    assert QSystemTrayIcon.isSystemTrayAvailable(), "no tray host on the display (trayer)"
    _, tray = talking
    tray.show()
    qtbot.waitUntil(lambda: not tray.geometry().isEmpty(), timeout=5000)
    qtbot.wait(200)  # the XEmbed icon window is mapped into trayer asynchronously
    centre = tray.geometry().center()
    quick = tray.quick_talk

    def opens() -> bool:
        if not quick.isVisible():
            xdotool("mousemove", centre.x(), centre.y(), "click", "1")
            qtbot.wait(150)
        return quick.isVisible()

    qtbot.waitUntil(opens, timeout=5000)
    qtbot.waitExposed(quick)
    qtbot.keyClicks(quick.input, "hi there")
    qtbot.keyClick(quick.input, Qt.Key.Key_Return)
    assert fake.submitted == [("hi there", "quick_talk")]
    qtbot.waitUntil(lambda: quick.reply.toPlainText() == "".join(TOKENS), timeout=3000)
    qtbot.keyClick(quick.input, Qt.Key.Key_Escape)
    assert not quick.isVisible()


def test_closing_the_window_keeps_the_tray_and_the_app(
    qtbot: QtBot, x11: str, talking: tuple[MainWindow, TrayIcon]
) -> None:
    assert QSystemTrayIcon.isSystemTrayAvailable(), "no tray host on the display (trayer)"
    window, tray = talking
    tray.show()
    window.show()
    qtbot.waitExposed(window)
    with (
        qtbot.assertNotEmitted(window.sig_quit_requested),
        qtbot.assertNotEmitted(QApplication.instance().aboutToQuit),
    ):
        window.close()
        qtbot.wait(100)
    assert not window.isVisible()
    assert tray.isVisible()
    tray.quick_talk_action.trigger()  # the app still answers from the tray
    assert tray.quick_talk.isVisible()
