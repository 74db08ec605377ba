"""The newcomer's steps for newcomer_walk.py: each function is a generator of conditions to wait for.

A step does what a person does (type and press Return, click a button) and then yields a
condition; the walk records every visible text once the condition holds. What a step found
goes into ``walk.facts`` for the test to check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QWidget

from aether_qt.app import AppParts
from aether_qt.core.events import Envelope, TurnEnded

if TYPE_CHECKING:
    from newcomer_walk import Walk

Wait = Callable[[], bool]


def _button(root: QWidget, *texts: str) -> QAbstractButton:
    """The visible, enabled button under ``root`` whose text (without '&') starts with one of ``texts``."""
    for button in root.findChildren(QAbstractButton):
        label = button.text().replace("&", "")
        if button.isVisible() and button.isEnabled() and any(label.startswith(t) for t in texts):
            return button
    raise LookupError(f"no button {texts!r} in {type(root).__name__}")


def _has_button(root: QWidget, *texts: str) -> bool:
    try:
        _button(root, *texts)
    except LookupError:
        return False
    return True


class Turns:
    """Counts the turns that ended and keeps their replies (the bus, on the GUI thread)."""

    def __init__(self, parts: AppParts) -> None:
        assert parts.bus is not None
        self.ended: list[TurnEnded] = []
        parts.bus.subscribe(TurnEnded.KIND, self._on_ended)

    def _on_ended(self, env: Envelope) -> None:
        assert isinstance(env.payload, TurnEnded)
        self.ended.append(env.payload)

    def after(self, count: int) -> Wait:
        return lambda: len(self.ended) > count


def _ready(parts: AppParts) -> bool:
    assert parts.conversation is not None
    memory = parts.memory is None or parts.memory.service.started
    return parts.conversation.model_ready() and memory


def say(parts: AppParts, text: str) -> None:
    box = parts.window.conversation_view.input
    box.setFocus()
    if text.isascii():
        QTest.keyClicks(box, text)
    else:  # QTest types ASCII only: the rest arrives as an input method would commit it
        box.insertPlainText(text)
    QTest.keyClick(box, Qt.Key.Key_Return)


def first(parts: AppParts, walk: Walk, docs: Path) -> Iterator[Wait]:
    window, facts = parts.window, walk.facts
    turns = Turns(parts)
    yield lambda: _ready(parts)

    walk.step("hello")
    say(parts, "hello!")
    yield turns.after(0)
    facts["hello"] = turns.ended[-1].outcome

    walk.step("write to a missing folder")
    target = docs / "todo.txt"
    say(parts, f"write {target} buy milk")
    yield lambda: bool(window.conversation_view.transcript.cards)
    card = list(window.conversation_view.transcript.cards.values())[-1]
    yield lambda: _has_button(card, "Create the folder")  # once the card knows what will happen
    facts["card_text"] = _texts(card)
    walk.shot("walk-approval-card")

    walk.step("create the folder from the card")
    _button(card, "Create folder", "Create the folder").click()
    yield docs.is_dir

    walk.step("allow")
    asked = window.conversation_view.transcript.bubbles[turns.ended[-1].turn_id]
    _button(card, "Allow once").click()
    yield lambda: target.exists() and "todo.txt" in asked.reply_text()
    facts["written"] = target.read_text(encoding="utf-8")
    facts["write_reply"] = asked.reply_text()

    walk.step("remember")
    count = len(turns.ended)
    say(parts, "remember that my favourite colour is teal")
    yield turns.after(count)

    walk.step("ask")
    count = len(turns.ended)
    say(parts, "what is my favourite colour?")
    yield turns.after(count)
    facts["answer"] = turns.ended[-1].reply

    walk.step("trust centre")
    window.set_trust_centre_visible(True)
    centre = window.trust_centre
    centre.setCurrentIndex(centre.indexOf(centre.audit))
    yield lambda: not centre.audit.verifying
    centre.audit.verify_button.click()
    yield lambda: not centre.audit.verifying and centre.audit.report is not None
    facts["verify"] = centre.audit.verify_status.text()
    facts["summary"] = centre.summary_label.text()
    walk.shot("walk-trust-centre")

    walk.step("forget")
    panel = window.memory_panel
    assert panel is not None, "the window has no memory panel"
    centre.setCurrentIndex(centre.indexOf(panel))
    panel.refresh()
    yield lambda: not panel.busy and bool(panel.item_ids())
    teal = [i for i in panel.item_ids() if _memory_text(panel, i).find("teal") >= 0]
    facts["teal_memories"] = len(teal)
    facts["memories"] = [_memory_text(panel, i) for i in panel.item_ids()]
    assert teal, "the teal memory is in the panel"
    panel.select(teal[0])
    _button(panel, "Forget").click()
    yield lambda: not panel.busy and teal[0] not in panel.item_ids()

    walk.step("undo")
    walk.look()
    walk.shot("walk-memory-undo")
    _button(panel, "Undo").click()
    yield lambda: not panel.busy and teal[0] in panel.item_ids()

    walk.step("regenerate")
    window.set_trust_centre_visible(False)
    count = len(turns.ended)
    _action(window, "Regenerate").trigger()
    yield turns.after(count)

    walk.step("new conversation")
    _action(window, "New conversation").trigger()
    yield window.conversation_view.transcript.is_empty


def again(parts: AppParts, walk: Walk, docs: Path) -> Iterator[Wait]:
    """After a restart: the conversations are listed again, and the first one opens with its words."""
    window = parts.window
    yield lambda: _ready(parts)
    walk.step("restart")
    listing = window.conversation_list
    assert listing is not None, "the window has no conversation list"
    walk.facts["titles"] = listing.titles()
    first_one = next(i for i, t in enumerate(listing.titles()) if t.startswith("hello"))
    listing.list.setCurrentRow(first_one)
    listing.list.itemActivated.emit(listing.list.item(first_one))
    transcript = window.conversation_view.transcript
    yield lambda: bool(transcript.bubbles)
    walk.facts["bubbles"] = len(transcript.bubbles)
    walk.facts["replies"] = [b.reply_text() for b in transcript.bubbles.values()]
    walk.shot("walk-conversation")


def scaled(parts: AppParts, walk: Walk, docs: Path) -> Iterator[Wait]:
    """At 2x scale: the window fits the screen and its main controls are on it, not clipped."""
    window = parts.window
    yield lambda: _ready(parts)
    walk.step("2x scale")
    screen = window.screen()
    walk.facts["ratio"] = screen.devicePixelRatio()
    walk.facts["fits"] = screen.availableGeometry().contains(window.frameGeometry()) or (
        window.width() <= screen.availableGeometry().width()
        and window.height() <= screen.availableGeometry().height()
    )
    view = window.conversation_view
    parts_shown = {
        "input": view.input,
        "send": view.send_button,
        "avatar": view.avatar,
        "menu bar": window.menuBar(),
    }
    walk.facts["clipped"] = [
        name
        for name, part in parts_shown.items()
        if part is None
        or not part.isVisible()
        or not window.rect().contains(part.mapTo(window, part.rect().bottomRight()))
    ]
    listing = window.conversation_list
    walk.facts["list_folded"] = listing is None or listing.isHidden()
    walk.facts["screen_width"] = screen.availableGeometry().width()
    say(parts, "hello! 🙂")
    yield lambda: bool(view.transcript.bubbles) and all(b.ended for b in view.transcript.bubbles.values())
    walk.facts["turns"] = len(view.transcript.bubbles)
    walk.shot("walk-2x")


def _texts(widget: QWidget) -> str:
    from visible_text import visible_texts

    return "\n".join(visible_texts([widget]))


def _memory_text(panel: Any, item_id: str) -> str:
    row = panel.item_ids().index(item_id)
    model = panel.table.model()
    return " ".join(str(model.index(row, c).data() or "") for c in range(model.columnCount()))


def _action(window: QWidget, text: str) -> Any:
    from PySide6.QtGui import QAction

    for action in window.findChildren(QAction):
        if action.text().replace("&", "").startswith(text) and action.isEnabled():
            return action
    raise LookupError(f"no enabled action {text!r} in the window")


SCRIPTS: dict[str, Callable[[AppParts, Walk, Path], Iterator[Wait]]] = {
    "first": first,
    "again": again,
    "scaled": scaled,
}
