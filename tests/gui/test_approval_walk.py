"""Approval cards over the real stack: a write to a missing approved folder, walked as a newcomer would.

The card says in plain words what will happen (the file, the text, that its folder
does not exist yet); its "Create the folder" button makes the folder through the
gate; "Allow once" writes the file and the result lands in the reply of the turn
that asked (never in a bubble of its own, never stuck on "Thinking…"); a retry
gets a reply of its own; while the card waits the status says "Waiting for your OK".
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QPushButton, QScrollArea, QWidget
from pytestqt.qtbot import QtBot
from test_app_conversation import Stack, stack, type_and_send
from test_approval_card import assert_fits

from aether_qt.core.events import TurnBegan
from aether_qt.policy.decisions import ApprovalChoice
from aether_qt.widgets.main_window import MainWindow
from aether_qt.widgets.trust.approval_card import BREAK, ApprovalCard

__all__ = ["stack"]  # the fixture, shared with the first-light tests
IDS = re.compile(r"files\.create|turn_[0-9a-f]|tkt_|taint|aud_|No such file|Errno|Error\b")


def visible_text(root: QWidget) -> str:
    """Every label text a person can see under ``root``."""
    texts = [label.text() for label in root.findChildren(QLabel) if label.isVisible()]
    return "\n".join(texts).replace(BREAK, "")


def turn_ids(stack: Stack) -> list[str]:
    return [e.payload.turn_id for e in stack.events if isinstance(e.payload, TurnBegan)]


def open_card(qtbot: QtBot, window: MainWindow, count: int) -> ApprovalCard:
    cards = window.conversation_view.transcript.cards
    qtbot.waitUntil(lambda: len(cards) == count, timeout=30_000)
    card = list(cards.values())[-1]
    qtbot.waitUntil(lambda: card.described and card.isVisible(), timeout=5_000)
    return card


def click(qtbot: QtBot, window: MainWindow, button: QPushButton) -> None:
    """Click ``button`` of a card as a person would: scrolled into view first (real X clicks land there)."""
    window.conversation_view.transcript.ensureWidgetVisible(button)
    qtbot.waitUntil(lambda: button.visibleRegion().boundingRect() == button.rect(), timeout=5_000)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def ask_to_write(qtbot: QtBot, stack: Stack, folder: Path, *, cards: int = 1) -> tuple[ApprovalCard, str]:
    """Type ``write <folder>/todo.txt buy milk``; the card it raises and the id of the turn that asked."""
    type_and_send(qtbot, stack.window, f"write {folder}/todo.txt buy milk")
    return open_card(qtbot, stack.window, cards), turn_ids(stack)[-1]


def look_at_the_side_panel(qtbot: QtBot, stack: Stack, ticket_id: str, shots: Path) -> None:
    """The same card in the trust centre's Approvals tab: described, fitting, ids hidden; a screenshot."""
    stack.window.show_approvals()
    tab = stack.window.trust_centre.approvals
    qtbot.waitUntil(lambda: ticket_id in tab.cards and tab.cards[ticket_id].described, timeout=5_000)
    side = tab.cards[ticket_id]
    qtbot.waitUntil(side.isVisible, timeout=5_000)
    assert side.text_view.toPlainText() == "buy milk"
    assert "does not exist yet" in visible_text(side) and not IDS.search(visible_text(side))
    column = tab.findChild(QScrollArea)
    assert column is not None
    qtbot.waitUntil(
        lambda: stack.window.trust_centre.x() >= stack.window.companion.geometry().right(), timeout=5_000
    )
    qtbot.wait(100)  # let the splitter settle (a screenshot mid-layout overlaps the panes)
    assert_fits(side, column)
    stack.window.grab().save(str(shots / "approval-card-window.png"))
    side.grab().save(str(shots / "approval-card-side-panel.png"))


def test_write_to_a_missing_folder_create_it_from_the_card_then_allow(
    qtbot: QtBot, stack: Stack, tmp_path: Path
) -> None:
    shots = Path(os.environ.get("AETHER_SHOTS_DIR", str(tmp_path)))
    folder = stack.docs / "Documents"
    stack.runtime.set_roots((folder,))
    view = stack.window.conversation_view
    card, asking = ask_to_write(qtbot, stack, folder)
    words = visible_text(card)
    assert "Create a file" in words
    assert str(folder / "todo.txt") in words
    assert f"The folder {folder} does not exist yet" in words
    assert card.text_view.toPlainText() == "buy milk"
    assert not IDS.search(words), words
    qtbot.waitUntil(lambda: view.state == "AwaitingApproval", timeout=5_000)
    assert stack.window.conversation_view.avatar.caption == "Waiting for your OK"
    look_at_the_side_panel(qtbot, stack, card.ticket_id, shots)
    everything = visible_text(stack.window)
    assert not IDS.search(everything), IDS.findall(everything)

    click(qtbot, stack.window, card.create_folder_button)
    qtbot.waitUntil(folder.is_dir, timeout=5_000)
    qtbot.waitUntil(lambda: not card.create_folder_button.isVisible(), timeout=5_000)
    assert "does not exist" not in visible_text(card)
    assert not (folder / "todo.txt").exists()

    click(qtbot, stack.window, card.buttons[ApprovalChoice.ALLOW_ONCE])
    qtbot.waitUntil((folder / "todo.txt").exists, timeout=10_000)
    assert (folder / "todo.txt").read_text() == "buy milk"
    bubbles = view.transcript.bubbles
    qtbot.waitUntil(lambda: "Wrote" in bubbles[asking].reply.text(), timeout=5_000)
    assert set(bubbles) == {asking}, "the result belongs to the turn that asked"
    assert "Thinking" not in bubbles[asking].state_label.text()
    assert not IDS.search(visible_text(bubbles[asking]))
    qtbot.waitUntil(lambda: view.state == "Idle", timeout=5_000)
    assert view.avatar.caption != "Waiting for your OK"
    assert stack.runtime.audit is not None
    made = [
        r for r in stack.runtime.audit.rows() if r.capability == "files.create" and r.resource == str(folder)
    ]
    assert made, "creating the folder was a gated, audited act"
    everything = visible_text(stack.window)
    assert not IDS.search(everything), IDS.findall(everything)


def test_a_failed_action_ends_its_turn_in_one_sentence_and_a_retry_has_its_own_reply(
    qtbot: QtBot, stack: Stack
) -> None:
    folder = stack.docs / "Missing"
    stack.runtime.set_roots((folder,))
    view = stack.window.conversation_view
    card, first = ask_to_write(qtbot, stack, folder)
    click(qtbot, stack.window, card.buttons[ApprovalChoice.ALLOW_ONCE])
    bubble = view.transcript.bubbles[first]
    qtbot.waitUntil(lambda: "does not exist" in bubble.reply.text(), timeout=10_000)
    text = visible_text(bubble)
    assert not IDS.search(text), text
    assert "Thinking" not in bubble.state_label.text()
    assert set(view.transcript.bubbles) == {first}

    folder.mkdir()
    card, second = ask_to_write(qtbot, stack, folder, cards=2)
    assert second != first
    click(qtbot, stack.window, card.buttons[ApprovalChoice.ALLOW_ONCE])
    qtbot.waitUntil(lambda: "Wrote" in view.transcript.bubbles[second].reply.text(), timeout=10_000)
    assert "Wrote" not in bubble.reply.text(), "the retry's result is not appended to the old reply"
    assert set(view.transcript.bubbles) == {first, second}


def test_choose_another_folder_moves_the_request_there(qtbot: QtBot, stack: Stack, tmp_path: Path) -> None:
    missing = stack.docs / "Gone"
    other = tmp_path / "elsewhere"
    other.mkdir()
    stack.runtime.set_roots((missing,))
    stack.window.conversation_view.choose_folder = lambda _parent, _start: other
    card, asking = ask_to_write(qtbot, stack, missing)
    click(qtbot, stack.window, card.choose_folder_button)
    moved = open_card(qtbot, stack.window, 2)
    assert str(other / "todo.txt") in visible_text(moved)
    assert card.answered
    click(qtbot, stack.window, moved.buttons[ApprovalChoice.ALLOW_ONCE])
    qtbot.waitUntil((other / "todo.txt").exists, timeout=10_000)
    assert not missing.exists()
    view = stack.window.conversation_view
    qtbot.waitUntil(lambda: "Wrote" in view.transcript.bubbles[asking].reply.text(), timeout=5_000)
