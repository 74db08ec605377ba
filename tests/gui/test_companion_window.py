"""The companion-first main window: the avatar scales, the layout flips, the panel is a drawer.

A real policy runtime (opt-in key file, no keyring) and the scripted conversation on a real
bus. The screenshots of the wide and narrow layouts, with the trust centre closed and open,
are saved beside the test's files (and looked at when the window changes). The menu bar
lists every action with its shortcut, and every control of the window says what it does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from avatar_support import frame
from fake_conversation import TOKENS, FakeConversation
from keyring_support import key_file_runtime
from PySide6.QtCore import QEvent, QObject, QPoint, QSettings, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)
from pytestqt.qtbot import QtBot

from aether_qt.avatar.factory import make_avatar
from aether_qt.avatar.view import AvatarView
from aether_qt.companion import gate_on_bus
from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.core.paths import resolve_paths
from aether_qt.engines.presence.frame import Behaviour
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.memory.host import MemoryHost
from aether_qt.services.memory.service import MemoryService
from aether_qt.services.voice.mute import MicMute
from aether_qt.widgets.main_window import MIN_SIZE, MainWindow
from aether_qt.widgets.memory.panel import MemoryPanel
from aether_qt.widgets.window.menus import NOTHING_CONNECTED

MakeWindow = Callable[..., MainWindow]


@pytest.fixture
def runtime(home: Path) -> Iterator[PolicyRuntime]:
    with key_file_runtime(home) as rt:
        yield rt


@pytest.fixture
def make_window(qtbot: QtBot, runtime: PolicyRuntime, bus: EventBus, home: Path) -> Iterator[MakeWindow]:
    made: list[MainWindow] = []

    def make(**kwargs: Any) -> MainWindow:
        kwargs.setdefault("confirm", lambda *_: True)
        settings = QSettings(str(home / "config" / "aether-qt.ini"), QSettings.Format.IniFormat)
        window = MainWindow(runtime=runtime, controls=gate_on_bus(runtime, bus), settings=settings, **kwargs)
        qtbot.addWidget(window)
        made.append(window)
        return window

    yield make
    for window in made:
        window.shutdown()


def talk(qtbot: QtBot, window: MainWindow, fake: FakeConversation) -> None:
    """Two turns and an approval card, so the transcript has something to show."""
    view = window.conversation_view
    fake.tokens = ("Hello! I'm Aether. I run on this computer, ", "and I ask before I touch your files.")
    qtbot.keyClicks(view.input, "hello")
    qtbot.keyClick(view.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "turn_1" in view.transcript.bubbles and view.transcript.bubbles["turn_1"].ended)


def talking_window(
    qtbot: QtBot, make_window: MakeWindow, fake: FakeConversation, bridge: QtBusBridge, **kwargs: Any
) -> MainWindow:
    """A wide window, shown, after one turn; the input row has settled (Stop hides at the turn's end)."""
    window = make_window(conversation=fake, bus_bridge=bridge, **kwargs)
    window.resize(1200, 760)
    window.show()
    qtbot.waitExposed(window)
    talk(qtbot, window, fake)
    qtbot.wait(100)
    return window


def inside(child: QWidget, window: QWidget) -> bool:
    """Whether ``child`` is shown whole inside ``window`` (not clipped by it)."""
    top_left = child.mapTo(window, QPoint(0, 0))
    return (
        child.isVisible()
        and top_left.x() >= 0
        and top_left.y() >= 0
        and top_left.x() + child.width() <= window.width()
        and top_left.y() + child.height() <= window.height()
    )


def test_the_avatar_is_the_centrepiece_beside_a_wide_conversation_and_above_a_narrow_one(
    qtbot: QtBot, make_window: MakeWindow, fake: FakeConversation, bridge: QtBusBridge, tmp_path: Path
) -> None:
    window = talking_window(qtbot, make_window, fake, bridge)
    avatar, view = window.conversation_view.avatar, window.conversation_view
    assert window.companion.wide
    wide_face = avatar.canvas.face_size
    assert wide_face >= 200, "a wide window gives the avatar a large stage"
    assert avatar.mapTo(window, QPoint(0, 0)).x() + avatar.width() <= view.mapTo(window, QPoint(0, 0)).x()
    assert window.grab().save(str(tmp_path / "wide-closed.png"))
    window.resize(620, 900)
    qtbot.waitUntil(lambda: not window.companion.wide)
    qtbot.waitUntil(
        lambda: (
            avatar.mapTo(window, QPoint(0, 0)).y() + avatar.height() <= view.mapTo(window, QPoint(0, 0)).y()
        )
    )
    assert view.width() > 500, "below the avatar, the conversation has the window's width"
    assert window.grab().save(str(tmp_path / "narrow-closed.png"))
    window.resize(1, 1)  # the smallest the window gets: a sensible size, and nothing is cut off
    qtbot.waitUntil(lambda: avatar.canvas.face_size < wide_face)
    qtbot.wait(100)
    assert window.width() <= MIN_SIZE[0] + 20 and window.height() <= MIN_SIZE[1] + 40
    assert window.width() >= MIN_SIZE[0]
    for part in (view.input, view.send_button, avatar, window.banners, view.transcript):
        assert inside(part, window), f"{part.objectName()} is clipped at {window.size()}"
    assert view.transcript.height() >= 100 and avatar.canvas.height() <= avatar.height()
    assert window.grab().save(str(tmp_path / "smallest.png"))


def test_the_smallest_window_grows_with_its_banners_and_cuts_nothing_off(
    qtbot: QtBot, make_window: MakeWindow, runtime: PolicyRuntime, bus: EventBus, tmp_path: Path
) -> None:
    mute = MicMute(bus=bus)
    window = make_window(microphone=mute)
    window.show()
    qtbot.waitExposed(window)
    window.resize(1, 1)
    qtbot.wait(100)
    bare = window.height()
    runtime.gate.pause(True)
    mute.set_muted(True)
    window.refresh()
    qtbot.waitUntil(lambda: window.minimumHeight() > bare)  # it grows by itself
    window.resize(1, 1)
    qtbot.waitUntil(lambda: window.height() > bare)
    qtbot.wait(100)
    view = window.conversation_view
    assert window.banners.flags() == ["keys_on_disk", "paused", "microphone_muted"]
    parts = [*window.banners.banners(), view.input, view.send_button, view.avatar]
    for banner in window.banners.banners():
        parts.extend(banner.buttons.values())
    for part in parts:
        assert inside(part, window), f"{part.objectName()} is clipped at {window.size()}"
    assert view.avatar.height() >= view.avatar.minimumSizeHint().height()  # the name and state are not cut
    assert window.grab().save(str(tmp_path / "smallest-with-banners.png"))


def test_the_trust_centre_is_a_closed_drawer_that_opens_and_keeps_its_width(
    qtbot: QtBot,
    x11: str,
    make_window: MakeWindow,
    fake: FakeConversation,
    bridge: QtBusBridge,
    tmp_path: Path,
) -> None:
    """On the real X server: the offscreen screen (800x600) is too small for the window and the panel."""
    window = make_window(conversation=fake, bus_bridge=bridge, keep_in_tray=True)
    window.resize(1280, 760)
    window.show()
    qtbot.waitExposed(window)
    assert not window.trust_centre.isVisible() and not window.menus.panel_action.isChecked()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # the real shortcut
    assert window.trust_centre.isVisible() and window.menus.panel_action.isChecked()
    talk(qtbot, window, fake)
    qtbot.wait(100)  # the Stop button hides at the turn's end: let the input row settle
    assert window.grab().save(str(tmp_path / "wide-open.png"))
    window.splitter.setSizes([760, 520])
    qtbot.waitUntil(lambda: window.trust_centre.width() == 520)
    window.menus.panel_action.trigger()  # View → Trust centre closes it
    assert not window.trust_centre.isVisible()
    window.shortcuts["Ctrl+2"].trigger()  # a tab opens it again, at the width it had
    assert window.trust_centre.isVisible() and window.trust_centre.currentIndex() == 1
    qtbot.waitUntil(lambda: window.trust_centre.width() == 520)
    window.close()
    again = make_window(conversation=fake, bus_bridge=bridge)
    again.show()
    qtbot.waitExposed(again)
    assert again.trust_centre.isVisible() and again.trust_centre.currentIndex() == 1
    qtbot.waitUntil(lambda: again.trust_centre.width() == 520)
    again.resize(640, 900)
    qtbot.waitUntil(lambda: not again.companion.wide)
    assert again.grab().save(str(tmp_path / "narrow-open.png"))


def test_the_menus_hold_the_shortcuts_and_settings_wait_for_a_listener(
    qtbot: QtBot, make_window: MakeWindow
) -> None:
    shown: list[tuple[str, str]] = []
    window = make_window(inform=lambda _parent, title, text: shown.append((title, text)))
    titles = [action.text() for action in window.menuBar().actions()]
    assert titles == ["&Aether", "&Conversation", "&Edit", "&View", "&Help"]
    menus = window.menus
    for action in (menus.settings_action, menus.onboarding_action):
        assert not action.isEnabled() and action.toolTip() == NOTHING_CONNECTED
    assert menus.settings_action.shortcut().toString() == "Ctrl+,"
    settings: list[str] = []
    setup: list[str] = []
    window.sig_settings_requested.connect(lambda: settings.append("settings"))
    window.sig_onboarding_requested.connect(lambda: setup.append("setup"))
    window.show()  # the app connects after building the window: showing re-checks
    assert menus.settings_action.isEnabled() and menus.onboarding_action.isEnabled()
    menus.settings_action.trigger()
    menus.onboarding_action.trigger()
    assert (settings, setup) == (["settings"], ["setup"])
    view_keys = {keys for keys in window.shortcuts if keys.startswith("Ctrl+") and keys[5:].isdigit()}
    assert view_keys == {f"Ctrl+{n}" for n in range(1, window.trust_centre.count() + 1)}
    window.shortcuts["F1"].trigger()
    assert (
        shown[-1][0] == "Keyboard shortcuts" and "Ctrl+T" in shown[-1][1] and "Trust centre" in shown[-1][1]
    )


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def test_avatar_frames_repaint_the_avatar_only(
    qtbot: QtBot, make_window: MakeWindow, fake: FakeConversation, bridge: QtBusBridge
) -> None:
    window = talking_window(qtbot, make_window, fake, bridge)
    counter = PaintCounter()
    viewport = window.conversation_view.transcript.viewport()
    viewport.installEventFilter(counter)
    canvas = window.conversation_view.avatar.canvas
    painted = canvas.paint_count
    for seq in range(6):
        window.conversation_view.avatar.show_frame(frame(Behaviour.SPEAKING, seq=seq, mouth_open=seq / 6))
        qtbot.wait(40)
    qtbot.waitUntil(lambda: canvas.paint_count > painted)
    assert counter.count == 0, "an avatar frame repainted the transcript"


def test_frames_faster_than_the_cap_wait_for_the_next_slot_and_the_newest_is_drawn(qtbot: QtBot) -> None:
    host = QWidget()
    qtbot.addWidget(host)
    canvas = make_avatar(opengl=False).canvas
    avatar = AvatarView(canvas, stage=True, max_fps=1, parent=host)
    host.resize(400, 400)
    avatar.resize(400, 400)
    host.show()
    qtbot.waitExposed(host)
    avatar.show_frame(frame(Behaviour.SPEAKING, seq=1, mouth_open=0.1))
    qtbot.waitUntil(lambda: canvas.paint_count >= 1)
    painted = canvas.paint_count
    for seq in range(2, 8):  # within the same second: none is drawn now
        avatar.show_frame(frame(Behaviour.SPEAKING, seq=seq, mouth_open=seq / 10))
        qtbot.wait(10)
    assert canvas.paint_count == painted
    qtbot.waitUntil(lambda: canvas.paint_count == painted + 1, timeout=3000)
    assert avatar.frame.seq == 7  # the newest frame, once


# ---------------------------------------------------------------- menus and tooltips

REPLY = "".join(TOKENS)
CONTROLS = (QAbstractButton, QLineEdit, QTextEdit, QPlainTextEdit, QComboBox)


def talking_with_menus(
    qtbot: QtBot, make_window: MakeWindow, fake: FakeConversation, bridge: QtBusBridge, **kwargs: Any
) -> MainWindow:
    window = make_window(conversation=fake, bus_bridge=bridge, inform=lambda *_: None, **kwargs)
    window.resize(1280, 800)
    window.show()
    window.activateWindow()
    qtbot.waitActive(window)  # a menu's key works in the active window
    view = window.conversation_view
    qtbot.keyClicks(view.input, "hello")
    qtbot.keyClick(view.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "turn_1" in view.transcript.bubbles and view.transcript.bubbles["turn_1"].ended)
    return window


def menu_items(window: MainWindow) -> dict[str, tuple[str, str]]:
    """Every item of every menu: its words -> (menu title, shortcut)."""
    items: dict[str, tuple[str, str]] = {}
    for top in window.menuBar().actions():
        menu = top.menu()
        assert isinstance(menu, QMenu)
        for action in menu.actions():
            if not action.isSeparator():
                keys = action.shortcut().toString()
                items[action.text().replace("&", "")] = (top.text().replace("&", ""), keys)
    return items


def test_the_menu_bar_lists_every_action_with_its_shortcut(
    qtbot: QtBot, make_window: MakeWindow, fake: FakeConversation, bridge: QtBusBridge
) -> None:
    shown: list[tuple[str, str]] = []
    window = make_window(
        conversation=fake, bus_bridge=bridge, inform=lambda _p, title, text: shown.append((title, text))
    )
    assert [a.text() for a in window.menuBar().actions()] == [
        "&Aether",
        "&Conversation",
        "&Edit",
        "&View",
        "&Help",
    ]
    items = menu_items(window)
    expected = {
        "New conversation": ("Conversation", "Ctrl+N"),
        "Type a message": ("Conversation", "Ctrl+L"),
        "Regenerate the last reply": ("Conversation", "Ctrl+R"),
        "Continue the cut reply": ("Conversation", ""),
        "Stop the reply": ("Conversation", "Esc"),
        "Copy": ("Edit", "Ctrl+C"),
        "Copy the last reply": ("Edit", "Ctrl+Shift+C"),
        "Edit your last message": ("Edit", "Ctrl+E"),
        "Trust centre": ("View", "Ctrl+T"),
        "Keyboard shortcuts": ("Help", "F1"),
        "Settings…": ("Aether", "Ctrl+,"),
        "Quit Aether": ("Aether", "Ctrl+Q"),
    }
    assert {words: items.get(words) for words in expected} == expected
    window.shortcuts["F1"].trigger()
    title, text = shown[-1]
    assert title == "Keyboard shortcuts"
    for words, (_menu, keys) in expected.items():
        if keys:
            native = QKeySequence(keys).toString(QKeySequence.SequenceFormat.NativeText)
            assert native in text and words in text, words
    assert "Up" in text and "Shift+Enter" in text


def test_the_menu_actions_act_on_the_conversation(
    qtbot: QtBot, make_window: MakeWindow, fake: FakeConversation, bridge: QtBusBridge
) -> None:
    window = talking_with_menus(qtbot, make_window, fake, bridge)
    view = window.conversation_view
    QApplication.clipboard().setText("")
    qtbot.keyClick(
        view.input, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    assert QApplication.clipboard().text() == REPLY
    qtbot.keyClick(view.input, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert view.input.text() == "hello" and view.editing is not None
    qtbot.keyClick(view.input, Qt.Key.Key_Escape)
    qtbot.keyClick(view.input, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert fake.redone == [("regenerate", "")]
    qtbot.waitUntil(lambda: not view.running() and view.transcript.order == ["turn_2"], timeout=3000)
    continue_action = next(
        a for a in window.menus.conversation_menu.actions() if a.text().startswith("&Continue")
    )
    assert not continue_action.isEnabled()  # nothing was cut


def test_new_conversation_waits_for_a_listener(
    qtbot: QtBot, make_window: MakeWindow, fake: FakeConversation, bridge: QtBusBridge
) -> None:
    window = make_window(conversation=fake, bus_bridge=bridge)
    action = window.menus.new_conversation_action
    assert not action.isEnabled() and action.toolTip() == NOTHING_CONNECTED
    asked: list[str] = []
    window.sig_new_conversation_requested.connect(lambda: asked.append("new"))
    window.show()  # the app connects after building the window: showing re-checks
    assert action.isEnabled() and action.toolTip() != NOTHING_CONNECTED
    window.shortcuts["Ctrl+N"].trigger()
    assert asked == ["new"]


def unexplained(window: QWidget) -> list[str]:
    """Visible controls with neither a tooltip nor an accessible name."""
    missing = []
    for control in window.findChildren(QWidget):
        if not isinstance(control, CONTROLS) or not control.isVisible():
            continue
        owner = control.parent()
        if isinstance(control, QLineEdit) and isinstance(owner, QAbstractSpinBox | QComboBox):
            control = owner  # the editor inside a spin box or combo box: the box speaks for it
        if not control.toolTip() and not control.accessibleName():
            words = control.text() if isinstance(control, QAbstractButton | QLineEdit) else ""
            missing.append(f"{type(control).__name__} {control.objectName()!r} {words!r}")
    return sorted(set(missing))


@pytest.fixture
def memory_panel(
    qtbot: QtBot, runtime: PolicyRuntime, bus: EventBus, bridge: QtBusBridge, home: Path
) -> Iterator[MemoryPanel]:
    """The memory panel over a started memory (no embedder), as the app puts it in the side panel."""
    service = MemoryService(runtime=runtime, bus=bus, paths=resolve_paths(home), load_embedder=False)
    memory = MemoryHost(service=service)
    memory.start()
    try:
        qtbot.waitUntil(lambda: service.status.state in {"ready", "fts_only"}, timeout=30_000)
        yield MemoryPanel(host=memory, bus_bridge=bridge)
    finally:
        memory.stop()


@pytest.fixture
def full_window(
    qtbot: QtBot,
    x11: str,
    make_window: MakeWindow,
    fake: FakeConversation,
    bridge: QtBusBridge,
    memory_panel: MemoryPanel,
) -> MainWindow:
    """The window with every trust-centre tab (the Memory tab too), after one exchange."""
    return talking_with_menus(qtbot, make_window, fake, bridge, memory_panel=memory_panel)


def test_every_control_in_the_window_has_a_tooltip(
    qtbot: QtBot, full_window: MainWindow, memory_panel: MemoryPanel
) -> None:
    window = full_window
    assert window.trust_centre.indexOf(memory_panel) >= 0
    assert unexplained_on_every_tab(qtbot, window) == {}


def test_ctrl_n_starts_a_conversation_and_adds_a_memory_in_the_memory_tab(
    qtbot: QtBot, full_window: MainWindow, memory_panel: MemoryPanel
) -> None:
    window = full_window
    asked: list[str] = []
    window.sig_new_conversation_requested.connect(lambda: asked.append("new"))
    window.menus.update_actions()  # the app connects before showing the window, which re-checks
    window.show_tab(window.trust_centre.indexOf(memory_panel))
    memory_panel.search_field.setFocus()
    qtbot.keyClick(memory_panel.search_field, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert memory_panel.add_row.isVisible() and asked == []  # not an ambiguous key that does nothing
    window.focus_input()
    qtbot.keyClick(window.conversation_view.input, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert asked == ["new"]


def unexplained_on_every_tab(qtbot: QtBot, window: MainWindow) -> dict[str, list[str]]:
    window.set_trust_centre_visible(True)
    missing: dict[str, list[str]] = {}
    for index in range(window.trust_centre.count()):
        window.show_tab(index)
        qtbot.wait(50)
        if found := unexplained(window):
            missing[window.trust_centre.tabText(index)] = found
    return missing


def test_esc_while_editing_leaves_the_message_as_it_was_and_keeps_the_window(
    qtbot: QtBot, make_window: MakeWindow, fake: FakeConversation, bridge: QtBusBridge
) -> None:
    window = make_window(conversation=fake, bus_bridge=bridge, keep_in_tray=True, inform=lambda *_: None)
    window.show()
    view = window.conversation_view
    qtbot.keyClicks(view.input, "hello")
    qtbot.keyClick(view.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "turn_1" in view.transcript.bubbles and view.transcript.bubbles["turn_1"].ended)
    window.shortcuts["Ctrl+E"].trigger()
    assert view.editing is not None and view.input.text() == "hello"
    window.shortcuts["Esc"].trigger()  # the window's Esc, as the key reaches it from the input
    assert view.editing is None and view.input.text() == "" and window.isVisible()
    assert fake.redone == [] and fake.cancels == 0


def test_every_trust_centre_tab_is_in_sight_in_the_side_panel(
    qtbot: QtBot,
    x11: str,
    make_window: MakeWindow,
    fake: FakeConversation,
    bridge: QtBusBridge,
    memory_panel: MemoryPanel,
) -> None:
    """With every tab (the Memory tab too), none hides behind scroll arrows at the panel's width."""
    window = talking_with_menus(qtbot, make_window, fake, bridge, memory_panel=memory_panel)
    window.set_trust_centre_visible(True)
    qtbot.wait(100)
    tabs = window.trust_centre.tabs
    assert tabs.count() == 7 and tabs.width() <= 480  # the panel at its default width
    bar = tabs.tabBar()
    metrics = bar.fontMetrics()
    out_of_sight = [
        bar.tabText(i)
        for i in range(bar.count())
        if not tabs.rect().contains(bar.tabRect(i))
        or metrics.horizontalAdvance(bar.tabText(i).replace("&", "")) > bar.tabRect(i).width()  # shortened
    ]
    assert out_of_sight == []
