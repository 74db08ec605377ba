"""The approval card on its own and in the window: plain words, exactly what will happen, and it fits.

Cards are described by the conductor's real preview (``describe_call``) of real files;
the window tests use a real policy runtime and check the card's width against the
side panel at the window's default and minimum size, and in the conversation column.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from fake_conversation import FakeConversation
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QScrollArea, QWidget
from pytestqt.qtbot import QtBot
from test_main_window import MakeWindow, ask, controls, docs, fail_keyring, make_window, runtime

from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.core.events import ActionFinished, TurnBegan, TurnEnded
from aether_qt.policy.decisions import ApprovalChoice
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.interaction.previews import describe_call
from aether_qt.services.interaction.tools import ToolCall
from aether_qt.widgets.conversation.view import ConversationView
from aether_qt.widgets.trust.approval_card import BREAK, ApprovalCard

__all__ = [
    "controls",
    "docs",
    "fail_keyring",
    "make_window",
    "runtime",
]  # fixtures shared with the window tests
IDS = re.compile(r"files\.|browser\.open|shell\.exec|turn_|tkt_|taint|aud_|\bnone\b")
LONG_NAME = "a-very-long-file-name-without-any-space-that-would-push-a-label-wide-" * 2 + ".txt"


def visible_text(root: QWidget) -> str:
    texts = [label.text() for label in root.findChildren(QLabel) if label.isVisibleTo(root)]
    return "\n".join(texts).replace(BREAK, "")


def card_for(qtbot: QtBot, capability: str, resource: str, payload: str = "") -> ApprovalCard:
    card = ApprovalCard(
        ticket_id="tkt_abc123",
        capability=capability,
        resource=resource,
        risk="medium",
        turn_id="turn_0123456789ab",
        persona="aether",
        taint=("file:/tmp/x.txt",),
        compact=True,
    )
    card.describe(describe_call("tkt_abc123", ToolCall(capability, resource, payload, "turn_0123456789ab")))
    qtbot.addWidget(card)
    card.resize(420, 600)
    card.show()
    return card


def test_a_new_file_card_shows_the_path_the_text_and_no_ids(qtbot: QtBot, tmp_path: Path) -> None:
    target = tmp_path / "todo.txt"
    card = card_for(qtbot, "files.create", str(target), "buy milk\nand bread")
    words = visible_text(card)
    assert "Create a file" in words and str(target) in words and "A new file." in words
    assert card.text_view.isVisibleTo(card) and card.text_view.toPlainText() == "buy milk\nand bread"
    assert card.text_view.isReadOnly()
    assert card.folder_box.isHidden()
    assert not IDS.search(words.replace("file ~", "").replace("text from file", "")), words
    assert card.meta.isHidden()
    card.details_toggle.click()
    assert (
        card.meta.isVisibleTo(card)
        and "files.create" in card.meta.text()
        and "tkt_abc123" in card.meta.text()
    )


def test_every_button_has_a_tooltip(qtbot: QtBot, tmp_path: Path) -> None:
    card = card_for(qtbot, "files.create", str(tmp_path / "missing" / "todo.txt"), "x")
    buttons = card.findChildren(QPushButton)
    assert {b.text() for b in buttons} >= {"Allow once", "Draft only", "Deny", "Create the folder"}
    assert all(b.toolTip() for b in buttons), [b.text() for b in buttons if not b.toolTip()]
    assert card.details_toggle.toolTip() and card.text_view.toolTip()


def test_a_missing_folder_is_said_plainly(qtbot: QtBot, tmp_path: Path) -> None:
    card = card_for(qtbot, "files.create", str(tmp_path / "Documents" / "todo.txt"), "buy milk")
    assert card.folder_box.isVisibleTo(card)
    assert f"The folder {tmp_path / 'Documents'} does not exist yet." in visible_text(card)
    with qtbot.waitSignal(card.sig_folder_create_requested) as blocker:
        card.create_folder_button.click()
    assert blocker.args == ["tkt_abc123"]
    with qtbot.waitSignal(card.sig_folder_choose_requested):
        card.choose_folder_button.click()


def test_an_edit_of_an_existing_file_shows_a_diff(qtbot: QtBot, tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("milk\neggs\n")
    card = card_for(qtbot, "files.edit", str(target), "milk\nbread\n")
    words = visible_text(card)
    assert "Change a file" in words and "The file exists; its text will be replaced." in words
    diff = card.text_view.toPlainText()
    assert "-eggs" in diff and "+bread" in diff and " milk" in diff
    assert "What will change:" in words


def test_a_web_page_and_a_command_are_shown_as_they_are(qtbot: QtBot) -> None:
    page = card_for(qtbot, "browser.open", "https://example.org/a?b=c")
    assert "Open a web page" in visible_text(page) and "https://example.org/a?b=c" in visible_text(page)
    assert page.text_view.isHidden()
    command = card_for(qtbot, "shell.exec", "ls -la /tmp")
    assert "Run a command" in visible_text(command) and "ls -la /tmp" in visible_text(command)


def assert_fits(card: ApprovalCard, column: QScrollArea) -> None:
    """Nothing of the card is cut off on the right of ``column``'s visible area."""
    viewport = column.viewport()
    right = card.mapTo(viewport, card.rect().topRight()).x()
    assert right <= viewport.width(), (right, viewport.width())
    for widget in card.findChildren(QWidget):
        if widget.isVisibleTo(card):
            edge = widget.mapTo(card, widget.rect().topRight()).x()
            assert edge <= card.width(), (widget.objectName(), edge, card.width())


def test_the_card_fits_the_side_panel_at_default_and_minimum_size(
    qtbot: QtBot, make_window: MakeWindow, runtime: PolicyRuntime, docs: Path, tmp_path: Path
) -> None:
    window = make_window()
    window.show()
    qtbot.waitExposed(window)
    ticket = ask(runtime, docs / "sub", LONG_NAME).ticket
    window.show_approvals()
    window.refresh()
    tab = window.trust_centre.approvals
    card = tab.cards[ticket.ticket_id]
    card.describe(
        describe_call(ticket.ticket_id, ToolCall("files.create", str(docs / "sub" / LONG_NAME), "x " * 400))
    )
    column = tab.findChild(QScrollArea)
    assert column is not None
    qtbot.waitUntil(card.isVisible, timeout=2000)
    qtbot.wait(50)
    assert_fits(card, column)
    shots = Path(os.environ.get("AETHER_SHOTS_DIR", str(tmp_path)))
    window.grab().save(str(shots / "panel-default.png"))
    window.resize(window.minimumSize())
    qtbot.waitUntil(lambda: window.size() == window.minimumSize(), timeout=2000)
    qtbot.wait(50)
    assert_fits(card, column)
    window.grab().save(str(shots / "panel-minimum.png"))


def test_the_card_fits_the_conversation_column(
    qtbot: QtBot, make_window: MakeWindow, fake: FakeConversation, bridge: QtBusBridge
) -> None:
    window = make_window(conversation=fake, bus_bridge=bridge)
    window.show()
    qtbot.waitExposed(window)
    window.resize(window.minimumSize())
    fake.open_ticket("tkt_9", turn_id="turn_9", resource=f"/home/user/{LONG_NAME}")
    transcript = window.conversation_view.transcript
    card = transcript.cards["tkt_9"]
    qtbot.waitUntil(card.isVisible, timeout=2000)
    qtbot.wait(50)
    assert_fits(card, transcript)


def test_waiting_for_your_ok_while_a_card_waits(
    qtbot: QtBot, fake: FakeConversation, bridge: QtBusBridge
) -> None:
    view = ConversationView(conversation=fake, bus_bridge=bridge)
    qtbot.addWidget(view)
    fake.open_ticket("tkt_5", turn_id="turn_5")
    qtbot.waitUntil(lambda: "tkt_5" in view.transcript.cards, timeout=2000)
    assert view.state == "AwaitingApproval" and view.avatar.caption == "Waiting for your OK"
    qtbot.mouseClick(view.transcript.cards["tkt_5"].buttons[ApprovalChoice.DENY], Qt.MouseButton.LeftButton)
    assert view.state == "Idle" and view.avatar.caption == "Ready"


def test_a_result_before_the_turn_end_stays_the_reply(
    qtbot: QtBot, bus: EventBus, bridge: QtBusBridge, fake: FakeConversation
) -> None:
    view = ConversationView(conversation=fake, bus_bridge=bridge)
    qtbot.addWidget(view)
    bus.publish(TurnBegan(turn_id="turn_r", text="write x", source="typed"), source_layer="L1")
    bus.publish(ActionFinished("tkt_r", "turn_r", True, "Wrote 1 character to ~/x."), source_layer="L1")
    bus.publish(
        TurnEnded(
            turn_id="turn_r", outcome="Answered", final_state="AwaitingApproval", reply="", notice="Wait"
        ),
        source_layer="L1",
    )
    bubble = view.transcript.bubbles["turn_r"]
    qtbot.waitUntil(lambda: bubble.ended, timeout=2000)
    assert bubble.reply.text() == "Wrote 1 character to ~/x."
    assert bubble.notice.isHidden() and "Thinking" not in bubble.state_label.text()


def test_the_folder_buttons_reach_the_conversation_and_the_chooser_is_injected(
    qtbot: QtBot, fake: FakeConversation, bridge: QtBusBridge, tmp_path: Path
) -> None:
    answers: list[Path | None] = [None, tmp_path]
    view = ConversationView(conversation=fake, bus_bridge=bridge, choose_folder=lambda _p, _s: answers.pop(0))
    qtbot.addWidget(view)
    fake.open_ticket("tkt_f", turn_id="turn_f")
    card = view.transcript.cards["tkt_f"]
    card.create_folder_button.click()
    assert card.folder_note.text() == "Created the folder." and not card.answered
    card.choose_folder_button.click()  # cancelled: nothing happens
    assert fake.folder_acts == [("create", "tkt_f", None)] and not card.answered
    card.choose_folder_button.click()
    assert fake.folder_acts[-1] == ("move", "tkt_f", tmp_path)
    assert card.answered and card.result.text() == f"The file now goes to {tmp_path}."


def test_a_refused_card_ends_the_waiting_in_its_turns_reply(
    qtbot: QtBot, bus: EventBus, bridge: QtBusBridge, fake: FakeConversation
) -> None:
    view = ConversationView(conversation=fake, bus_bridge=bridge)
    qtbot.addWidget(view)
    for turn in ("turn_a", "turn_b"):
        bus.publish(TurnBegan(turn_id=turn, text="write x", source="typed"), source_layer="L1")
        bus.publish(
            TurnEnded(
                turn_id=turn, outcome="Answered", final_state="AwaitingApproval", reply="", notice="Wait"
            ),
            source_layer="L1",
        )
    fake.open_ticket("tkt_a", turn_id="turn_a")
    fake.open_ticket("tkt_b", turn_id="turn_b")
    qtbot.waitUntil(lambda: {"tkt_a", "tkt_b"} <= set(view.transcript.cards), timeout=2000)
    view.transcript.cards["tkt_a"].buttons[ApprovalChoice.DENY].click()
    fake.answer("tkt_b", ApprovalChoice.DRAFT_ONLY)  # from the trust centre
    bubbles = view.transcript.bubbles
    qtbot.waitUntil(lambda: bool(bubbles["turn_b"].reply.text()), timeout=2000)
    assert bubbles["turn_a"].reply.text() == "You said no, so nothing was done."
    assert bubbles["turn_b"].reply.text() == "Draft only: nothing was changed."
    assert bubbles["turn_a"].notice.isHidden() and bubbles["turn_b"].notice.isHidden()
