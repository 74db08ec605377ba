"""What a message offers, as in every chat app: its time, Copy, a context menu, the last one's actions.

:class:`MessageBubble` is the base of the user's and Aether's bubbles. Its footer
shows when the message was written (the time today, the date and time on
another day; the full date in the tooltip) and small buttons: Copy on every
message; on the last exchange, Edit (the user's message) and Regenerate
(Aether's reply). A right click opens the same actions plus "Copy selected
text". Copy is done here (the clipboard); the others are asked of the owner
through :attr:`MessageBubble.sig_action_requested`, so the transcript never
talks to the conversation itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QContextMenuEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMenu, QToolButton, QWidget

COPY, REGENERATE, EDIT, CONTINUE = "copy", "regenerate", "edit", "continue"
ACTION_WORDS: Final = {
    REGENERATE: ("Regenerate", "Write this reply again (Ctrl+R); the new one replaces it"),
    EDIT: (
        "Edit and resend",
        "Put this message back in the box to change it (Ctrl+E, or Up in an empty box)",
    ),
    CONTINUE: ("Continue", "Ask Aether to go on with this reply where it stopped"),
}
ACTION_KEYS: Final = {REGENERATE: "Ctrl+R", EDIT: "Ctrl+E"}
MUTED: Final = "#6b7280"
FOOTER_STYLE: Final = (
    "QToolButton { color: #57606a; background: transparent; border: none; padding: 0 4px; font-size: 8pt; }"
    "QToolButton:hover { color: #0b57d0; text-decoration: underline; }"
)


def message_time(at: datetime, now: datetime) -> str:
    """``14:05`` for a message of today, ``3 Dec 14:05`` another day, ``3 Dec 2025 14:05`` another year."""
    if at.date() == now.date():
        return f"{at:%H:%M}"
    if at.year == now.year:
        return f"{at.day} {at:%b} {at:%H:%M}"
    return f"{at.day} {at:%b %Y %H:%M}"


def full_time(at: datetime) -> str:
    """The tooltip of a message's time: ``Monday 7 December 2026, 14:05``."""
    return f"Sent {at:%A} {at.day} {at:%B %Y, %H:%M}"


def footer_button(text: str, tip: str) -> QToolButton:
    """A small text button for a message's footer."""
    button = QToolButton()
    button.setText(text)
    button.setToolTip(tip)
    button.setAutoRaise(True)
    button.setCursor(Qt.CursorShape.PointingHandCursor)
    button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
    return button


class MessageBubble(QFrame):
    """A message with its time, a Copy button, a context menu and, when last, its own action.

    Subclasses put their labels in the layout, list them in :attr:`labels` (their
    selected text is what "Copy selected text" copies) and name their
    :attr:`action` (``edit`` or ``regenerate``).

    Signals:
        sig_action_requested(str, str): the action (``regenerate``, ``edit``, ``continue``), the turn id.
    """

    sig_action_requested = Signal(str, str)
    action = ""

    def __init__(self, *, turn_id: str, at: datetime | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.turn_id = turn_id
        self.labels: list[QLabel] = []
        self.last = False  # the newest exchange, with no turn running: its action is offered
        self.time_label = QLabel()
        self.time_label.setObjectName("message_time")
        self.time_label.setStyleSheet(f"color: {MUTED}; font-size: 8pt;")
        self.copy_button = footer_button("Copy", "Copy the whole message to the clipboard")
        self.copy_button.clicked.connect(self._on_copy_button_clicked)
        words, tip = ACTION_WORDS.get(self.action, ("", ""))
        self.action_button = footer_button(words.split(" ")[0], tip)
        self.action_button.setObjectName(f"{self.action}_button")
        self.action_button.clicked.connect(self._on_action_button_clicked)
        self.action_button.hide()
        self.footer = QHBoxLayout()
        self.footer.setContentsMargins(0, 2, 0, 0)
        self.footer.setSpacing(2)
        self.footer.addWidget(self.time_label)
        self.footer.addStretch(1)
        self.footer.addWidget(self.action_button)
        self.footer.addWidget(self.copy_button)
        for button in (self.copy_button, self.action_button):
            button.setStyleSheet(FOOTER_STYLE)
        self.set_time(at or datetime.now())

    def set_time(self, at: datetime, now: datetime | None = None) -> None:
        """Show when the message was written."""
        self.time_label.setText(message_time(at, now or datetime.now()))
        self.time_label.setToolTip(full_time(at))

    def message_text(self) -> str:
        """The whole message, as Copy puts it on the clipboard."""
        raise NotImplementedError

    def selected_text(self) -> str:
        """The text selected with the mouse in this message, "" when none."""
        return next((label.selectedText() for label in self.labels if label.hasSelectedText()), "")

    def copy(self) -> bool:
        """Put the whole message on the clipboard; False when it is empty."""
        text = self.message_text()
        if text:
            QGuiApplication.clipboard().setText(text)
        return bool(text)

    def offers(self, action: str) -> bool:
        """Whether ``action`` can be asked of this message now."""
        return action == self.action and self.last

    def set_last(self, last: bool) -> None:
        """Offer (or stop offering) the action of the newest exchange."""
        self.last = last
        self.action_button.setVisible(self.offers(self.action))

    def context_menu(self) -> QMenu:
        """Copy, Copy selected text, and what this message offers now (hidden otherwise)."""
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        menu.addAction("Copy", self.copy).setToolTip("Copy the whole message to the clipboard")
        selected = self.selected_text()
        copy_selected = menu.addAction(
            "Copy selected text", lambda: QGuiApplication.clipboard().setText(selected)
        )
        copy_selected.setEnabled(bool(selected))
        copy_selected.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        for action in (EDIT, REGENERATE, CONTINUE):
            words, tip = ACTION_WORDS[action]
            item = QAction(words, menu)
            item.setToolTip(tip)
            if action in ACTION_KEYS:
                item.setShortcut(QKeySequence(ACTION_KEYS[action]))
            item.triggered.connect(self._requester(action))
            item.setVisible(self.offers(action))
            menu.addAction(item)
        return menu

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        """Right click (or the menu key): the message's context menu."""
        menu = self.context_menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(event.globalPos())
        event.accept()

    def _requester(self, action: str) -> Callable[[bool], None]:
        def request(_checked: bool = False) -> None:
            self.sig_action_requested.emit(action, self.turn_id)

        return request

    def _on_copy_button_clicked(self) -> None:
        self.copy()

    def _on_action_button_clicked(self) -> None:
        self.sig_action_requested.emit(self.action, self.turn_id)


def deferred_context_menu(label: QLabel) -> QLabel:
    """A label whose right click opens its message's menu, not the label's own (Copy / Select All)."""
    label.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)
    return label
