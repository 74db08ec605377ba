"""The conversation list beside the companion: new conversation, open, rename, delete, search.

It drives a :class:`~aether_qt.widgets.ports.Conversations` and tells the window
what to show through ``sig_conversation_opened`` (the messages and, for a search
result, the message to scroll to). The list is refreshed after each change made
here and at the end of each turn (``turn.did_end``: a new conversation gets its
row with its first message, and the one written to moves to the top).

Keys: Ctrl+N and Ctrl+Shift+F work in the whole window (the menu bar lists
them); F2, Del and Enter act on the selected conversation while the list has
the focus, and Ctrl+F in the list goes to the search field.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Final, TypeVar

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from aether_qt.core.errors import ExplainedError
from aether_qt.core.events import Envelope, TurnEnded

if TYPE_CHECKING:
    from aether_qt.core.bus import QtBusBridge
    from aether_qt.storage.conversations import ConversationSummary, SearchHit
    from aether_qt.widgets.ports import Conversations
    from aether_qt.widgets.trust.confirm import Confirm

LIST_WIDTH: Final = 240
SEARCH_DELAY_MS: Final = 150
REFRESH_DELAY_MS: Final = 50
ROLE_ID: Final = Qt.ItemDataRole.UserRole
ROLE_MESSAGE: Final = Qt.ItemDataRole.UserRole + 1
MUTED: Final = "#6b7280"
AskTitle = Callable[[QWidget, str], "str | None"]
"""Asks for a conversation's new title, showing the current one; None when cancelled (tests pass a lambda)."""
Clock = Callable[[], int]
_T = TypeVar("_T")


class _Failed:
    """What :meth:`ConversationList._run` returns when the call failed (the user was told why)."""


def ask_title(parent: QWidget, current: str) -> str | None:
    """The default rename dialog: one line of text."""
    text, ok = QInputDialog.getText(
        parent, "Rename conversation", "New title:", QLineEdit.EchoMode.Normal, current
    )
    return text if ok else None


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def when_text(at_ms: int, now_ms: int) -> str:
    """When a message was said, as a person says it: "14:05", "Yesterday", "3 Dec", "3 Dec 2025"."""
    at, now = datetime.fromtimestamp(at_ms / 1000), datetime.fromtimestamp(now_ms / 1000)
    days = (now.date() - at.date()).days
    if days == 0:
        return at.strftime("%H:%M")
    if days == 1:
        return "Yesterday"
    if at.year == now.year:
        return f"{at.day} {at.strftime('%b')}"
    return f"{at.day} {at.strftime('%b %Y')}"


class ConversationList(QFrame):
    """The list of conversations with "New conversation" and a search field (see the module docstring).

    Signals:
        sig_conversation_opened(str, object, str): the conversation's id, the messages to show (a list
            of stored messages) and the id of the message to scroll to ("" for the newest).
    """

    sig_conversation_opened = Signal(str, object, str)

    def __init__(
        self,
        *,
        conversations: Conversations,
        confirm: Confirm,
        bus_bridge: QtBusBridge | None = None,
        ask_title: AskTitle = ask_title,
        clock_ms: Clock = _wall_ms,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("conversation_list")
        self.setFixedWidth(LIST_WIDTH)
        self._conversations = conversations
        self._confirm = confirm
        self.ask_title = ask_title
        self._clock_ms = clock_ms
        self._build_widgets()
        self.new_action = self._action("&New conversation", "Ctrl+N", self.start_new, window_wide=True)
        self.new_action.setToolTip(self.new_button.toolTip())
        self.search_action = self._action(
            "&Search conversations", "Ctrl+Shift+F", self.focus_search, window_wide=True
        )
        self.search_action.setToolTip("Find words in every conversation")
        self.rename_action = self._action("&Rename conversation…", "F2", self.rename_selected)
        self.rename_action.setToolTip("Give the selected conversation a title of your own")
        self.delete_action = self._action("&Delete conversation…", "Del", self.delete_selected)
        self.delete_action.setToolTip("Delete the selected conversation and its messages (asks first)")
        find = QAction("Search conversations", self)
        find.setShortcut(QKeySequence("Ctrl+F"))
        find.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        find.triggered.connect(self._on_find_triggered)
        self.addAction(find)
        self._build_layout()
        self._search_timer = QTimer(self, singleShot=True, interval=SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._on_search_timer_timeout)
        self._refresh_timer = QTimer(self, singleShot=True, interval=REFRESH_DELAY_MS)
        self._refresh_timer.timeout.connect(self._on_refresh_timer_timeout)
        self.new_button.clicked.connect(self._on_new_button_clicked)
        self.search.textChanged.connect(self._on_search_text_changed)
        self.search.returnPressed.connect(self._on_search_return_pressed)
        self.list.itemClicked.connect(self._on_list_item_activated)
        self.list.itemActivated.connect(self._on_list_item_activated)
        self.list.customContextMenuRequested.connect(self._on_list_context_menu_requested)
        self.results.itemClicked.connect(self._on_result_activated)
        self.results.itemActivated.connect(self._on_result_activated)
        if bus_bridge is not None:
            bus_bridge.sig_event_published.connect(self._on_bridge_event_published)

    def _build_widgets(self) -> None:
        """The button, the search field, the list and the results, each with its tooltip."""
        self.new_button = QPushButton("New conversation")
        self.new_button.setObjectName("new_conversation")
        self.new_button.setToolTip("Start a new conversation; this one stays in the list (Ctrl+N)")
        self.search = QLineEdit()
        self.search.setObjectName("conversation_search")
        self.search.setPlaceholderText("Search conversations")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip(
            "Find words in every conversation (Ctrl+Shift+F); Enter goes to the first result"
        )
        self.list = QListWidget()
        self.list.setObjectName("conversations")
        self.list.setToolTip(
            "Your conversations, newest first. Click one to continue it; right-click for more"
        )
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.setWordWrap(True)
        self.list.setSpacing(2)
        self.results = QListWidget()
        self.results.setObjectName("conversation_results")
        self.results.setToolTip("Messages that contain the words searched for. Click one to open it there")
        self.results.setWordWrap(True)
        self.results.setSpacing(3)
        self.results.setAlternatingRowColors(True)
        self.no_results = QLabel("No message contains these words.")
        self.no_results.setObjectName("conversation_no_results")
        self.no_results.setWordWrap(True)
        self.no_results.setStyleSheet(f"color: {MUTED}; padding: 8px;")
        self.no_results.hide()
        self.error = QLabel("")
        self.error.setObjectName("conversation_error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b42318; padding: 4px;")
        self.error.hide()
        self.pages = QStackedWidget()
        self.pages.addWidget(self.list)
        self.pages.addWidget(self.results)

    def _build_layout(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.setSpacing(6)
        title = QLabel("Conversations")
        title.setStyleSheet("font-weight: 600;")
        top = QHBoxLayout()
        top.addWidget(title, 1)
        layout.addLayout(top)
        layout.addWidget(self.new_button)
        layout.addWidget(self.search)
        layout.addWidget(self.error)
        layout.addWidget(self.no_results)
        layout.addWidget(self.pages, 1)

    def _action(
        self, text: str, keys: str, slot: Callable[[], object], *, window_wide: bool = False
    ) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(keys))
        if not window_wide:  # F2 and Del belong to the list only (Del edits text in the message box)
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.list.addAction(action)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    # ------------------------------------------------------------------ what it shows

    def resume(self) -> None:
        """At start: show the conversation opened last, with its messages."""
        messages = self._run(self._conversations.resume, failed="Could not open the last conversation")
        if not isinstance(messages, _Failed):
            self.sig_conversation_opened.emit(self._conversations.current(), messages, "")
        self.refresh()

    def refresh(self) -> None:
        """Read the list again, keeping the open conversation marked and selected."""
        summaries = self._run(self._conversations.conversations)
        if isinstance(summaries, _Failed):
            return
        current = self._conversations.current()
        now = self._clock_ms()
        self.list.clear()
        for summary in summaries:
            self.list.addItem(self._item(summary, now, current=summary.conversation_id == current))
        self._select(current)

    def _item(self, summary: ConversationSummary, now_ms: int, *, current: bool) -> QListWidgetItem:
        when = when_text(summary.updated_at_ms, now_ms)
        item = QListWidgetItem(f"{summary.title}\n{when}")
        item.setData(ROLE_ID, summary.conversation_id)
        count = f"{summary.messages} message{'s' if summary.messages != 1 else ''}"
        item.setToolTip(f"{summary.title}\n{count}, the last one {when}.\nF2 renames it, Del deletes it.")
        if current:
            font = QFont(item.font())
            font.setBold(True)
            item.setFont(font)
        return item

    def _select(self, conversation_id: str) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            if item.data(ROLE_ID) == conversation_id:
                self.list.setCurrentItem(item)
                return
        self.list.clearSelection()
        self.list.setCurrentRow(-1)

    def titles(self) -> list[str]:
        """The titles shown, top to bottom (tests and the window read them)."""
        return [self.list.item(row).text().split("\n", 1)[0] for row in range(self.list.count())]

    # ------------------------------------------------------------------ acts

    def start_new(self) -> None:
        """Ctrl+N: a new, empty conversation (the open one stays in the list)."""
        if isinstance(
            self._run(self._conversations.new, failed="Could not start a new conversation"), _Failed
        ):
            return
        self.sig_conversation_opened.emit(self._conversations.current(), [], "")
        self.refresh()

    def open_conversation(self, conversation_id: str, *, at_message: str = "") -> None:
        """Continue a stored conversation (at one of its messages, for a search result)."""
        messages = self._run(lambda: self._conversations.open(conversation_id), failed="Could not open it")
        if isinstance(messages, _Failed):
            return
        self.sig_conversation_opened.emit(conversation_id, messages, at_message)
        self.refresh()

    def rename_selected(self) -> None:
        """F2: ask for a new title of the selected conversation."""
        item = self.list.currentItem()
        if item is None:
            return
        title = self.ask_title(self, item.text().split("\n", 1)[0])
        if title is None:
            return
        if not title.strip():
            self._show_error("A conversation needs a title; it keeps the one it had.")
            return
        conversation_id = str(item.data(ROLE_ID))
        renamed = self._run(
            lambda: self._conversations.rename(conversation_id, title), failed="Could not rename it"
        )
        if renamed is True:
            self.refresh()

    def delete_selected(self) -> None:
        """Del: delete the selected conversation and its messages, after asking."""
        item = self.list.currentItem()
        if item is None:
            return
        conversation_id = str(item.data(ROLE_ID))
        title = item.text().split("\n", 1)[0]
        question = f"Delete “{title}” and all its messages? This cannot be undone."
        if not self._confirm(self, "Delete conversation", question):
            return
        was_open = conversation_id == self._conversations.current()
        if isinstance(
            self._run(lambda: self._conversations.delete(conversation_id), failed="Could not delete it"),
            _Failed,
        ):
            return
        if was_open:
            self.sig_conversation_opened.emit(self._conversations.current(), [], "")
        self.refresh()
        if self.search.text().strip():
            self._search_now()

    def focus_search(self) -> None:
        """Ctrl+Shift+F (Ctrl+F in the list): put the cursor in the search field."""
        self.search.setFocus()
        self.search.selectAll()

    # ------------------------------------------------------------------ search

    def _search_now(self) -> None:
        query = self.search.text().strip()
        self.results.clear()
        if not query:
            self.pages.setCurrentWidget(self.list)
            self.no_results.hide()
            return
        hits = self._run(lambda: self._conversations.search(query), failed="Could not search")
        if isinstance(hits, _Failed):
            return
        now = self._clock_ms()
        for hit in hits:
            self.results.addItem(self._result(hit, now))
        self.no_results.setVisible(not hits)
        self.pages.setCurrentWidget(self.results)

    def _result(self, hit: SearchHit, now_ms: int) -> QListWidgetItem:
        who = "You" if hit.role == "user" else "Reply"
        item = QListWidgetItem(f"{hit.title} · {when_text(hit.created_at_ms, now_ms)}\n{who}: {hit.snippet}")
        item.setData(ROLE_ID, hit.conversation_id)
        item.setData(ROLE_MESSAGE, hit.message_id)
        item.setToolTip(f"Open “{hit.title}” at this message")
        return item

    # ------------------------------------------------------------------ errors

    def _run(
        self, job: Callable[[], _T], *, failed: str = "Could not read the conversations"
    ) -> _T | _Failed:
        """Run one call of the port; an expected failure is shown in one sentence (and returned as such)."""
        try:
            value = job()
        except ExplainedError as exc:
            self._show_error(f"{failed}: {exc}")
            return _Failed()
        self.error.hide()
        return value

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    # ------------------------------------------------------------------ slots

    def _on_new_button_clicked(self) -> None:
        self.start_new()

    def _on_find_triggered(self) -> None:
        self.focus_search()

    def _on_search_text_changed(self, _text: str) -> None:
        self._search_timer.start()

    def _on_search_return_pressed(self) -> None:
        self._search_timer.stop()
        self._search_now()
        if self.results.count():
            self.results.setFocus()
            self.results.setCurrentRow(0)

    def _on_search_timer_timeout(self) -> None:
        self._search_now()

    def _on_refresh_timer_timeout(self) -> None:
        self.refresh()

    def _on_list_item_activated(self, item: QListWidgetItem) -> None:
        conversation_id = str(item.data(ROLE_ID))
        if conversation_id != self._conversations.current():
            self.open_conversation(conversation_id)

    def _on_result_activated(self, item: QListWidgetItem) -> None:
        self.open_conversation(str(item.data(ROLE_ID)), at_message=str(item.data(ROLE_MESSAGE)))

    def _on_list_context_menu_requested(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        self.list.setCurrentItem(item)
        menu = QMenu(self)
        menu.setToolTipsVisible(True)
        menu.addAction(self.rename_action)
        menu.addAction(self.delete_action)
        menu.exec(self.list.viewport().mapToGlobal(pos))

    def _on_bridge_event_published(self, env: Envelope) -> None:
        if isinstance(env.payload, TurnEnded) and not self._refresh_timer.isActive():
            self._refresh_timer.start()
