"""Quick talk: one input line, the streaming reply of its own turn, Esc hides it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_conversation import LONG_NOTICE, TOKENS, FakeConversation
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.widgets.quick_talk import QuickTalk

REPLY = "".join(TOKENS)


@pytest.fixture
def quick(qtbot: QtBot, fake: FakeConversation, bridge: QtBusBridge) -> Iterator[QuickTalk]:
    widget = QuickTalk(conversation=fake, bus_bridge=bridge)
    qtbot.addWidget(widget)
    widget.show_near(None)
    qtbot.waitExposed(widget)
    yield widget
    widget.flush_timer.stop()


def test_enter_sends_and_the_reply_streams_in(qtbot: QtBot, quick: QuickTalk, fake: FakeConversation) -> None:
    qtbot.keyClicks(quick.input, "what time is it?")
    qtbot.keyClick(quick.input, Qt.Key.Key_Return)
    assert fake.submitted == [("what time is it?", "quick_talk")]
    assert quick.turn_id == "turn_1"
    assert quick.input.text() == ""
    with qtbot.waitSignal(quick.sig_turn_finished, timeout=3000) as finished:
        pass
    assert finished.args == ["turn_1", "Answered"]
    assert quick.reply.toPlainText() == REPLY
    assert quick.state.text() == "Ready"
    assert not quick.notice.isVisible()


def test_escape_hides_it(qtbot: QtBot, quick: QuickTalk) -> None:
    qtbot.keyClick(quick.input, Qt.Key.Key_Escape)
    assert not quick.isVisible()
    quick.toggle()
    assert quick.isVisible()
    quick.toggle()
    assert not quick.isVisible()


def test_empty_input_is_ignored(qtbot: QtBot, quick: QuickTalk, fake: FakeConversation) -> None:
    qtbot.keyClick(quick.input, Qt.Key.Key_Return)
    qtbot.keyClicks(quick.input, "  ")
    qtbot.keyClick(quick.input, Qt.Key.Key_Return)
    assert fake.submitted == []
    assert quick.turn_id is None


def test_it_shows_only_its_own_turn(qtbot: QtBot, quick: QuickTalk, fake: FakeConversation) -> None:
    fake.submit("typed in the main window")
    fake.run_all()
    assert quick.reply.toPlainText() == ""
    qtbot.keyClicks(quick.input, "mine")
    qtbot.keyClick(quick.input, Qt.Key.Key_Return)
    assert quick.turn_id == "turn_2"
    qtbot.waitUntil(lambda: quick.reply.toPlainText() == REPLY, timeout=3000)


def test_events_before_submit_returns_are_matched_by_source(
    qtbot: QtBot, bus: EventBus, bridge: QtBusBridge
) -> None:
    fake = FakeConversation(bus=bus, sync=True)  # publishes the whole turn inside submit
    quick = QuickTalk(conversation=fake, bus_bridge=bridge)
    qtbot.addWidget(quick)
    quick.input.setPlainText("x" * 5_000)
    with qtbot.waitSignal(quick.sig_turn_finished, timeout=1000):
        assert quick.send() == "turn_1"
    assert quick.reply.toPlainText() == REPLY
    assert quick.notice.text() == LONG_NOTICE
    assert not quick.notice.isHidden()


def test_it_opens_next_to_the_anchor_inside_the_screen(qtbot: QtBot, quick: QuickTalk) -> None:
    area = QGuiApplication.primaryScreen().availableGeometry()
    quick.hide()
    anchor = QRect(area.right() - 30, area.top(), 24, 24)  # a tray icon in the top-right corner
    quick.show_near(anchor)
    geometry = quick.frameGeometry()
    assert area.contains(geometry.topLeft())
    assert geometry.top() >= anchor.bottom()
    assert geometry.right() <= area.right()


def test_without_a_conversation_it_says_so(qtbot: QtBot) -> None:
    quick = QuickTalk(conversation=None, bus_bridge=None)
    qtbot.addWidget(quick)
    assert not quick.input.isEnabled()
    assert quick.state.text() == "Conversation unavailable"
    assert quick.send() is None
