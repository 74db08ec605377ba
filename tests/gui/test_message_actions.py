"""What every chat app does with a message: copy, time, context menu, regenerate, edit and resend, continue.

The conversation view over the scripted conversation on a real bus (the real
conductor's side is tested in ``tests/unit/services/interaction/test_conductor_redo.py``
and, with the bundled model, in ``test_app_conversation.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fake_conversation import TOKENS, FakeConversation
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QLabel, QMenu
from pytestqt.qtbot import QtBot

from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.widgets.conversation.bubbles import AssistantBubble, UserBubble
from aether_qt.widgets.conversation.message_actions import message_time
from aether_qt.widgets.conversation.view import ConversationView

REPLY = "".join(TOKENS)
TWO_DAYS_NS = 2 * 24 * 3600 * 10**9


@pytest.fixture
def view(qtbot: QtBot, fake: FakeConversation, bridge: QtBusBridge) -> Iterator[ConversationView]:
    widget = ConversationView(conversation=fake, bus_bridge=bridge)
    qtbot.addWidget(widget)
    widget.resize(700, 600)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget
    widget.transcript.flush_timer.stop()


def say(qtbot: QtBot, view: ConversationView, text: str) -> AssistantBubble:
    before = view.transcript.last_bubble()
    qtbot.keyClicks(view.input, text)
    qtbot.keyClick(view.input, Qt.Key.Key_Return)
    return wait_reply(qtbot, view, before)


def wait_reply(qtbot: QtBot, view: ConversationView, before: AssistantBubble | None) -> AssistantBubble:
    def done() -> bool:
        last = view.transcript.last_bubble()
        return last is not None and last is not before and last.ended and not view.running()

    qtbot.waitUntil(done, timeout=3000)
    bubble = view.transcript.last_bubble()
    assert bubble is not None
    return bubble


def shown_texts(view: ConversationView) -> list[str]:
    return [label.text() for label in view.transcript.findChildren(QLabel) if label.isVisible()]


def users(view: ConversationView) -> list[str]:
    return [bubble.full_text for bubble in view.transcript.findChildren(UserBubble) if bubble.isVisible()]


def test_copy_puts_the_whole_message_on_the_clipboard(qtbot: QtBot, view: ConversationView) -> None:
    reply = say(qtbot, view, "hello")
    clipboard = QApplication.clipboard()
    clipboard.setText("")
    assert reply.copy_button.isVisible() and reply.copy_button.toolTip()
    qtbot.mouseClick(reply.copy_button, Qt.MouseButton.LeftButton)
    assert clipboard.text() == REPLY
    user = view.transcript.user_bubbles[reply.turn_id]
    qtbot.mouseClick(user.copy_button, Qt.MouseButton.LeftButton)
    assert clipboard.text() == "hello"
    clipboard.setText("")
    assert view.copy_last_reply() and clipboard.text() == REPLY


def test_each_message_shows_its_time(qtbot: QtBot, view: ConversationView) -> None:
    before = datetime.now()
    reply = say(qtbot, view, "hello")
    user = view.transcript.user_bubbles[reply.turn_id]
    for bubble in (user, reply):
        assert bubble.time_label.isVisible()
        assert bubble.time_label.text() in {f"{before:%H:%M}", f"{datetime.now():%H:%M}"}
        assert bubble.time_label.toolTip()  # the full date and time


def test_a_message_from_another_day_shows_its_date(qtbot: QtBot) -> None:
    then = time.time_ns() - TWO_DAYS_NS
    bus = EventBus(clock_ns=lambda: then)
    bridge = QtBusBridge(bus=bus)
    fake = FakeConversation(bus=bus)
    view = ConversationView(conversation=fake, bus_bridge=bridge)
    qtbot.addWidget(view)
    view.show()
    reply = say(qtbot, view, "hello")
    day = datetime.fromtimestamp(then / 1e9)
    assert (
        reply.time_label.text().startswith(f"{day.day} {day:%b}")
        and f"{day:%H:%M}" in reply.time_label.text()
    )
    fake.stop()
    bridge.detach()
    bus.close()


def test_the_context_menu_offers_what_each_message_can_do(qtbot: QtBot, view: ConversationView) -> None:
    first = say(qtbot, view, "hello")
    assert [a.text() for a in first.context_menu().actions() if a.isVisible()] == [
        "Copy",
        "Copy selected text",
        "Regenerate",
    ]
    assert not first.context_menu().actions()[1].isEnabled()  # nothing selected
    second = say(qtbot, view, "tell me more")
    assert [a.text() for a in first.context_menu().actions() if a.isVisible()] == [
        "Copy",
        "Copy selected text",
    ]
    user = view.transcript.user_bubbles[second.turn_id]
    assert [a.text() for a in user.context_menu().actions() if a.isVisible()] == [
        "Copy",
        "Copy selected text",
        "Edit and resend",
    ]
    second.reply.setSelection(0, 5)
    menu = second.context_menu()
    copy_selected = menu.actions()[1]
    assert copy_selected.isEnabled()
    copy_selected.trigger()
    assert QApplication.clipboard().text() == REPLY[:5]


def test_regenerate_replaces_the_last_reply(
    qtbot: QtBot, view: ConversationView, fake: FakeConversation
) -> None:
    say(qtbot, view, "hello")
    old = say(qtbot, view, "tell me a joke")
    assert old.regenerate_button.isVisible() and old.regenerate_button.toolTip()
    fake.tokens = ("A", " new", " joke.")
    qtbot.mouseClick(old.regenerate_button, Qt.MouseButton.LeftButton)
    assert fake.redone == [("regenerate", "")]
    new = wait_reply(qtbot, view, old)
    assert new.reply_text() == "A new joke."
    assert users(view) == ["hello", "tell me a joke"]
    replies = [b.reply_text() for b in view.transcript.findChildren(AssistantBubble) if b.isVisible()]
    assert replies == [REPLY, "A new joke."]
    assert old.turn_id not in view.transcript.bubbles


def test_edit_and_resend_puts_the_message_back_and_replaces_the_exchange(
    qtbot: QtBot, view: ConversationView, fake: FakeConversation
) -> None:
    say(qtbot, view, "hello")
    old = say(qtbot, view, "tell me a joke")
    view.input.setFocus()
    qtbot.keyClick(view.input, Qt.Key.Key_Up)  # in the empty input: edit the last message
    assert view.input.text() == "tell me a joke" and view.editing_bar.isVisible()
    view.input.clear()
    fake.tokens = ("Once", " upon", " a time.")
    qtbot.keyClicks(view.input, "tell me a story")
    qtbot.keyClick(view.input, Qt.Key.Key_Return)
    assert fake.redone == [("edit", "tell me a story")]
    assert fake.submitted == [("hello", "typed"), ("tell me a joke", "typed")]
    assert wait_reply(qtbot, view, old).reply_text() == "Once upon a time."
    assert users(view) == ["hello", "tell me a story"]
    assert not view.editing_bar.isVisible()


def test_escape_leaves_editing_without_sending(
    qtbot: QtBot, view: ConversationView, fake: FakeConversation
) -> None:
    reply = say(qtbot, view, "hello")
    user = view.transcript.user_bubbles[reply.turn_id]
    qtbot.mouseClick(user.edit_button, Qt.MouseButton.LeftButton)
    assert view.input.text() == "hello" and view.editing_bar.isVisible()
    qtbot.keyClick(view.input, Qt.Key.Key_Escape)
    assert not view.editing_bar.isVisible() and view.input.text() == ""
    assert fake.redone == []


def test_a_cut_reply_says_so_and_continue_appends_to_it(
    qtbot: QtBot, view: ConversationView, fake: FakeConversation
) -> None:
    fake.cut = True
    fake.tokens = ("Why did", " the chicken")
    cut = say(qtbot, view, "tell me a long joke")
    qtbot.waitUntil(lambda: cut.continue_button.isVisible(), timeout=3000)
    assert cut.continue_button.text() == "Continue" and cut.continue_button.toolTip()
    assert "cut short" in cut.cut_label.text() and cut.cut_label.isVisible()
    assert not any("more]" in text for text in shown_texts(view))
    assert "Continue" in [a.text() for a in cut.context_menu().actions() if a.isVisible()]
    fake.more = (" cross", " the road?")
    fake.hold = True
    qtbot.mouseClick(cut.continue_button, Qt.MouseButton.LeftButton)
    assert fake.redone == [("continue", "")]
    qtbot.waitUntil(lambda: view.running(), timeout=3000)
    assert not cut.cut_label.isVisible()  # while it goes on
    fake.release()
    qtbot.waitUntil(lambda: not view.running() and cut.ended, timeout=3000)
    assert view.transcript.last_bubble() is cut
    assert cut.reply.text() == "Why did the chicken cross the road?"
    assert not cut.continue_button.isVisible() and not cut.cut_label.isVisible()
    assert len(view.transcript.findChildren(AssistantBubble)) == 1
    assert users(view) == ["tell me a long joke"]


def test_message_time_is_the_time_today_and_the_date_on_another_day() -> None:
    now = datetime(2026, 12, 7, 16, 30)
    assert message_time(datetime(2026, 12, 7, 9, 5), now) == "09:05"
    assert message_time(datetime(2026, 12, 6, 23, 59), now) == "6 Dec 23:59"
    assert message_time(datetime(2025, 12, 7, 9, 5), now) == "7 Dec 2025 09:05"


def test_a_right_click_on_a_message_opens_its_menu(
    qtbot: QtBot, view: ConversationView, fake: FakeConversation, tmp_path: Path, xdotool: Callable[..., None]
) -> None:
    fake.tokens = ("Paris is the capital of France. ", "It has been since the tenth century.")
    say(qtbot, view, "what is the capital of France?")
    fake.cut = True
    fake.tokens = ("Here is a long story about a dragon who lived ", "in the mountains and")
    reply = say(qtbot, view, "tell me a long story")
    qtbot.waitUntil(reply.continue_button.isVisible)
    view.activateWindow()
    spot = reply.reply.mapToGlobal(reply.reply.rect().center())

    def menu_opens() -> bool:
        if not isinstance(QApplication.activePopupWidget(), QMenu):
            xdotool("mousemove", spot.x(), spot.y(), "click", "3")  # a real right click on the X server
            qtbot.wait(150)
        return isinstance(QApplication.activePopupWidget(), QMenu)

    qtbot.waitUntil(menu_opens, timeout=5000)
    menu = QApplication.activePopupWidget()
    assert isinstance(menu, QMenu)
    assert [a.text() for a in menu.actions() if a.isVisible()] == [
        "Copy",
        "Copy selected text",
        "Regenerate",
        "Continue",
    ]
    qtbot.wait(100)
    shot = QGuiApplication.primaryScreen().grabWindow(0)
    assert shot.save(str(tmp_path / "context-menu.png"))
    menu.close()
