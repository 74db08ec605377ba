"""The memory panel: search, read the provenance of, correct and forget what Aether remembers.

DESIGN.md §6 ("users see and fix memory"). Every read and every change runs in
the memory thread through :meth:`~aether_qt.widgets.ports.MemoryJobs.call`; results come back to the GUI
thread, so a search over many items or an import never freezes the window.
Changes go through the service's gated, audited user actions; the panel shows
the outcome's sentence or the error in its status line and reloads. It also
reloads (debounced) on ``memory.did_change`` events from the bus bridge, and
shows memory's health (starting, rebuilding with progress, text search only) in
a banner of its own.

The details always show the selected row's memory, or the hint when no row is
selected: every reload ends by reading the selection back (:meth:`MemoryPanel._show_selected`),
so Forget acts on what the details show. A forget can be undone from the undo bar
(:mod:`.undo`) or with Ctrl+Z until its words are purged. "All memories" lists
facts, preferences and notes; the conversation's episodes (questions and small
talk included) have their own filter.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Final

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from aether_qt.core.bus import QtBusBridge
from aether_qt.core.events import Envelope, MemoryChanged, MemoryRecalled, MemoryStatusChanged
from aether_qt.engines.memory.items import Kind, MemoryItem, MemoryOutcome, PrivacyClass, UnknownMemoryError
from aether_qt.policy.user_words import explain_error
from aether_qt.widgets.memory.details import (
    LOADING,
    AddRow,
    HealthBanner,
    MemoryDetails,
    MemoryTable,
    WeakReply,
    ask_passphrase,
    choose_json_file,
    error_text,
    is_sealed_file,
)
from aether_qt.widgets.memory.undo import UndoBar
from aether_qt.widgets.ports import Memory, MemoryJobs
from aether_qt.widgets.trust.confirm import ask_user

_log = logging.getLogger(__name__)

Confirm = Callable[[str, str], bool]
ChooseFile = Callable[[str, bool], Path | None]
"""``choose_file(title, save)``: a path to write (``save``) or to read, or None when cancelled."""
AskPassphrase = Callable[[str, bool], str | None]
"""``ask_passphrase(title, confirm)``: the passphrase (twice with ``confirm``), or None when cancelled."""
SEARCH_DELAY_MS: Final = 250
RELOAD_DELAY_MS: Final = 150
LIST_LIMIT: Final = 500
SEARCH_K: Final = 50
WIDE_PX: Final = 900  # narrower than this (the side panel), the details go under the list
FILTERS: Final = (
    ("All memories", ""),
    ("Facts", Kind.FACT.value),
    ("Preferences", Kind.PREFERENCE.value),
    ("Notes", Kind.NOTE.value),
    ("Conversation episodes", Kind.EPISODE.value),
)
KEPT_KINDS: Final = (Kind.FACT, Kind.PREFERENCE, Kind.NOTE)
"""What "All memories" lists: what Aether keeps knowing. Episodes (this session's chat, questions
and small talk included) are under their own filter: they are not things Aether knows."""
STATUS_COLOURS: Final = {"ok": "", "refused": "#b26a00", "error": "#c62828"}
ADDING: Final = "add the memory"
SAVING: Final = "save the memory"
FORGETTING: Final = "forget the memory"
RESTORING: Final = "bring the memory back"


@dataclass(frozen=True, slots=True)
class Listing:
    """What the table shows: the items (newest or best first) and the texts they contradict."""

    query: str
    items: tuple[MemoryItem, ...]
    contradicted: Mapping[str, str] = field(default_factory=dict)
    restorable: tuple[MemoryItem, ...] = ()


def load_listing(service: Memory, query: str, kind: Kind | None, forgotten: tuple[str, ...] = ()) -> Listing:
    """Runs in the memory thread: the newest memories, or the best matches of ``query``.

    Also which of ``forgotten`` (ids forgotten from the panel) can still be brought back.
    """
    kinds = KEPT_KINDS if kind is None else (kind,)
    if query:
        found = (service.get(hit.item_id) for hit in service.search(query, k=SEARCH_K).hits)
        items = [item for item in found if item is not None and item.kind in kinds]
    else:
        listed = (item for k in kinds for item in service.list_items(k, limit=LIST_LIMIT))
        items = sorted(listed, key=lambda item: item.seq, reverse=True)[:LIST_LIMIT]  # newest first
    contradicted = {}
    for item in items:
        if item.contradicts and (other := service.get(item.contradicts)) is not None:
            contradicted[other.id] = other.text
    return Listing(query, tuple(items), contradicted, tuple(service.forgotten(forgotten)))


class MemoryPanel(QWidget):
    """Search, provenance, correction and forgetting of memories (see the module docstring).

    Signals:
        sig_items_shown(int): the table was reloaded with this many memories.
        sig_action_finished(str): a change finished; the status line's sentence.
    """

    sig_items_shown = Signal(int)
    sig_action_finished = Signal(str)

    def __init__(
        self,
        *,
        host: MemoryJobs,
        bus_bridge: QtBusBridge | None = None,
        confirm: Confirm | None = None,
        clock_ms: Callable[[], int] | None = None,
        choose_file: ChooseFile | None = None,
        ask_passphrase: AskPassphrase | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("memory_panel")
        self._host = host
        # the defaults are looked up when used: a bound method kept on self would make a
        # reference cycle, and a cycle may be collected in the memory thread (see WeakReply)
        self._confirm_with = confirm
        self._clock_ms = clock_ms  # the wall clock for "today 14:02" (None: the system's)
        self._choose_file_with = choose_file
        self._ask_passphrase_with = ask_passphrase
        self._listing = Listing("", ())
        self._generation = 0  # only the newest reload's answer is shown
        self._running = 0  # changes in flight
        self._forgotten_row = -1  # row of a memory just forgotten here: select its neighbour
        self._wanted_id = ""  # select this item after the next reload (a new or restored memory)
        self._forgotten: list[str] = []  # ids forgotten here, oldest first: what Undo can bring back
        self._reveal_undo = False  # show the undo bar after the next reload (a forget just finished)
        self._state = ""
        layout = QVBoxLayout(self)
        self.banner = HealthBanner()
        layout.addWidget(self.banner)
        layout.addLayout(self._make_toolbar())
        self.add_row = AddRow()
        layout.addWidget(self.add_row)
        splitter = self.splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        self.table = MemoryTable()
        splitter.addWidget(self.table)
        self.details = MemoryDetails()
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout.addWidget(splitter, 1)
        self.undo_bar = UndoBar()
        layout.addWidget(self.undo_bar)
        layout.addLayout(self._make_footer())
        self._connect_actions()
        self.shortcuts = self._make_shortcuts()
        self._search_timer = self._timer(SEARCH_DELAY_MS)
        self._reload_timer = self._timer(RELOAD_DELAY_MS)
        if bus_bridge is not None:
            bus_bridge.sig_event_published.connect(self._on_bridge_event_published)
        self._show_health(host.service.status)
        self.refresh()

    # ------------------------------------------------------------ building

    def _make_toolbar(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.search_field = QLineEdit()
        self.search_field.setPlaceholderText("Search memories (Ctrl+F)")
        self.search_field.setAccessibleName("Search memories")
        self.search_field.setClearButtonEnabled(True)
        self.kind_filter = QComboBox()
        self.kind_filter.setAccessibleName("Kind filter")
        for label, kind in FILTERS:
            self.kind_filter.addItem(label, kind)
        self.add_button = QPushButton("Add…")
        self.import_button = QPushButton("Import…")
        self.export_button = QPushButton("Export…")
        self.add_button.setToolTip("Write down something for Aether to remember (Ctrl+N here)")
        self.import_button.setToolTip("Add the memories of an exported file")
        self.export_button.setToolTip("Save every memory to a file sealed with a passphrase")
        row.addWidget(self.search_field, 1)
        row.addWidget(self.kind_filter)
        for button in (self.add_button, self.import_button, self.export_button):
            row.addWidget(button)
        return row

    def _make_footer(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.count_label = QLabel("")
        self.count_label.setStyleSheet("color: palette(placeholder-text);")
        self.status_line = QLabel("")
        self.status_line.setObjectName("memory_status_line")
        self.status_line.setAccessibleName("Memory status")
        self.status_line.setTextFormat(Qt.TextFormat.PlainText)
        self.status_line.setWordWrap(True)
        self.status_line.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row.addWidget(self.count_label)
        row.addWidget(self.status_line, 1)
        return row

    def _connect_actions(self) -> None:
        self.search_field.textEdited.connect(self._on_search_field_edited)
        self.search_field.returnPressed.connect(self._on_search_field_return_pressed)
        self.kind_filter.currentIndexChanged.connect(self._on_kind_filter_changed)
        self.table.itemSelectionChanged.connect(self._on_table_selection_changed)
        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.add_row.field.returnPressed.connect(self._on_add_confirm_clicked)
        self.add_row.confirm.clicked.connect(self._on_add_confirm_clicked)
        self.add_row.cancel.clicked.connect(self._on_add_cancel_clicked)
        self.import_button.clicked.connect(self._on_import_button_clicked)
        self.export_button.clicked.connect(self._on_export_button_clicked)
        self.details.editor.returnPressed.connect(self._on_save_button_clicked)
        self.details.save_button.clicked.connect(self._on_save_button_clicked)
        self.details.privacy_box.activated.connect(self._on_privacy_box_activated)
        self.details.forget_button.clicked.connect(self._on_forget_button_clicked)
        self.details.forget_now_button.clicked.connect(self._on_forget_now_button_clicked)
        self.undo_bar.undo_button.clicked.connect(self._on_undo_button_clicked)

    def _make_shortcuts(self) -> dict[str, QShortcut]:
        scoped = Qt.ShortcutContext.WidgetWithChildrenShortcut
        plan: list[tuple[str, QWidget, Callable[[], None], Qt.ShortcutContext]] = [
            ("Ctrl+F", self, self._on_find_shortcut_activated, scoped),
            ("Ctrl+S", self, self._on_save_button_clicked, scoped),
            ("Ctrl+N", self, self._on_add_button_clicked, scoped),
            ("Ctrl+Z", self, self._on_undo_button_clicked, scoped),  # a text field keeps its own Ctrl+Z
            ("Esc", self.add_row, self._on_add_cancel_clicked, scoped),
            # on the table only: Delete in a text field deletes characters
            ("Del", self.table, self._on_forget_button_clicked, Qt.ShortcutContext.WidgetShortcut),
            ("Shift+Del", self.table, self._on_forget_now_button_clicked, Qt.ShortcutContext.WidgetShortcut),
        ]
        shortcuts = {}
        for keys, owner, slot, context in plan:
            shortcut = QShortcut(QKeySequence(keys), owner)
            shortcut.setContext(context)
            shortcut.activated.connect(slot)
            shortcuts[keys] = shortcut
        return shortcuts

    def _timer(self, delay_ms: int) -> QTimer:
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.setInterval(delay_ms)
        timer.timeout.connect(self.refresh)
        return timer

    # ------------------------------------------------------------ public

    def _now_ms(self) -> int:
        return self._clock_ms() if self._clock_ms is not None else int(time.time() * 1000)

    @property
    def busy(self) -> bool:
        """Whether a change is running (the actions are disabled meanwhile)."""
        return self._running > 0

    def item_ids(self) -> list[str]:
        """The ids shown, in table order."""
        return [item.id for item in self._listing.items]

    def selected_id(self) -> str:
        """The selected memory's id ('' when none)."""
        return self.details.item.id if self.details.item is not None else ""

    def select(self, item_id: str) -> bool:
        """Select the memory with ``item_id`` if it is shown (the details follow)."""
        ids = self.item_ids()
        if item_id not in ids:
            return False
        self.table.select_row(ids.index(item_id))
        self._show_selected()
        return True

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Side by side when wide; the details under the list when narrow (the side panel)."""
        wide = event.size().width() >= WIDE_PX
        orientation = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if self.splitter.orientation() != orientation:
            self.splitter.setOrientation(orientation)
        super().resizeEvent(event)

    def refresh(self) -> None:
        """Reload the table (the search field's query and the kind filter) in the memory thread."""
        self._search_timer.stop()
        self._reload_timer.stop()
        self._generation += 1
        query = self.search_field.text().strip()
        kind_value = str(self.kind_filter.currentData() or "")
        self._host.call(
            partial(
                load_listing,
                query=query,
                kind=Kind(kind_value) if kind_value else None,
                forgotten=tuple(self._forgotten),
            ),
            WeakReply(self, "_on_host_listing_loaded", self._generation),
            WeakReply(self, "_on_host_listing_failed", self._generation),
        )

    # ------------------------------------------------------------ listing

    def _on_host_listing_loaded(self, generation: int, listing: Listing) -> None:
        if generation != self._generation:
            return
        selected = self.selected_id()
        self._listing = listing
        self.table.fill(listing.items, now_ms=self._now_ms())
        wanted, self._wanted_id = self._wanted_id or selected, ""
        forgotten_row, self._forgotten_row = self._forgotten_row, -1
        if not self.select(wanted) and forgotten_row >= 0 and listing.items:
            self.table.select_row(min(forgotten_row, len(listing.items) - 1))  # keep going down with Del
        self._show_selected()  # whatever happened above, the details show the selected row or nothing
        self._show_count(listing)
        self._forgotten = [item.id for item in listing.restorable]  # the purged ones are gone for good
        reveal, self._reveal_undo = self._reveal_undo, False
        self.undo_bar.show_restorable(listing.restorable, reveal=reveal)
        self._show_health(self._host.service.status)
        self.sig_items_shown.emit(len(listing.items))

    def _show_count(self, listing: Listing) -> None:
        count = len(listing.items)
        noun = "memory" if count == 1 else "memories"
        if listing.query:
            text = (
                f"{count} {noun} match “{listing.query}”" if count else f"Nothing matches “{listing.query}”"
            )
        else:
            text = f"{count} {noun}" + (" (the newest)" if count >= LIST_LIMIT else "")
        self.count_label.setText(text)

    def _on_host_listing_failed(self, generation: int, exc: Exception) -> None:
        if generation == self._generation:
            self._show_message(f"Could not load memories: {self._describe(exc)}", "error")

    def _on_table_selection_changed(self) -> None:
        self._show_selected()

    def _show_selected(self) -> None:
        """Show the selected row's memory in the details, or the hint when no row is selected."""
        rows = self.table.selectionModel().selectedRows()
        item = self._listing.items[rows[0].row()] if rows else None
        other = self._listing.contradicted.get(item.contradicts) if item and item.contradicts else None
        self.details.show_item(item, other, now_ms=self._now_ms())

    def _on_search_field_edited(self, _text: str) -> None:
        self._search_timer.start()

    def _on_search_field_return_pressed(self) -> None:
        self.refresh()
        self.table.setFocus()

    def _on_kind_filter_changed(self, _index: int) -> None:
        self.refresh()

    def _on_find_shortcut_activated(self) -> None:
        self.search_field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_field.selectAll()

    # ------------------------------------------------------------ bus

    def _on_bridge_event_published(self, env: Envelope) -> None:
        if env.kind in (MemoryChanged.KIND, MemoryRecalled.KIND):  # a recall marks memories used
            payload = env.payload
            if isinstance(payload, MemoryChanged) and payload.change == "forgotten":  # here or in a chat
                self._forgotten = list(dict.fromkeys((*self._forgotten, *payload.item_ids)))
                self._reveal_undo = True
            self._reload_timer.start()  # a burst of changes reloads once
        elif env.kind == MemoryStatusChanged.KIND and isinstance(env.payload, MemoryStatusChanged):
            self._show_health(env.payload)

    def _show_health(self, status: MemoryStatusChanged) -> None:
        was, self._state = self._state, status.state
        self.banner.show_status(status)
        if was in LOADING and status.state not in LOADING:
            self._reload_timer.start()  # memory just became usable (or failed): reload either way

    # ------------------------------------------------------------ changes

    def _run(self, action: str, job: Callable[[Memory], MemoryOutcome]) -> None:
        """Run one change in the memory thread; ``action`` completes "Could not …"."""
        self._running += 1
        self._set_busy()
        self._show_message("Working…", "ok")
        done = WeakReply(self, "_on_host_action_done", action)
        self._host.call(job, done, WeakReply(self, "_on_host_action_failed", action))

    def _on_host_action_done(self, action: str, outcome: MemoryOutcome) -> None:
        self._finished()
        if outcome.ok and action == ADDING and outcome.items:
            self._wanted_id = outcome.items[0].id  # a memory just added: select it
            self.add_row.close_row()
        elif outcome.ok and action == FORGETTING and outcome.items:  # also without a bus bridge
            self._forgotten = list(dict.fromkeys((*self._forgotten, outcome.items[0].id)))
            self._reveal_undo = True
        elif outcome.ok and action == RESTORING and outcome.items:
            self._wanted_id = outcome.items[0].id  # a memory brought back: select it
        elif outcome.ok and action == SAVING:
            self.details.editor.setModified(False)  # saved: later reloads may show newer text
        # after a forget the undo bar says it (with the words); the status line would repeat it
        shown = "" if self._reveal_undo else outcome.summary
        self._show_message(shown, "ok" if outcome.ok else "refused")
        self.sig_action_finished.emit(outcome.summary)
        self._reload_timer.start()

    def _on_host_action_failed(self, action: str, exc: Exception) -> None:
        self._finished()
        self._forgotten_row = -1
        gone = action == RESTORING and isinstance(exc, UnknownMemoryError)
        reason = "its words were already erased for good" if gone else self._describe(exc)
        text = f"Could not {action}: {reason.rstrip('.')}."  # one sentence, one full stop
        self._show_message(text, "error")
        self.sig_action_finished.emit(text)
        self._reload_timer.start()

    @staticmethod
    def _describe(exc: Exception) -> str:
        text = error_text(exc)
        if text is None:  # a bug: the traceback goes to the log
            _log.error("a memory panel job failed", exc_info=exc)
            text = explain_error(exc, where="your memories")
        return text

    def _finished(self) -> None:
        self._running = max(0, self._running - 1)
        self._set_busy()

    def _set_busy(self) -> None:
        busy = self.busy
        for widget in (self.add_button, self.import_button, self.export_button, self.add_row.confirm):
            widget.setEnabled(not busy)
        self.details.set_busy(busy)

    def _show_message(self, text: str, tone: str) -> None:
        colour = STATUS_COLOURS[tone]
        self.status_line.setStyleSheet(f"color: {colour};" if colour else "")
        self.status_line.setText(text)

    def _on_save_button_clicked(self) -> None:
        item = self.details.item
        if item is None or self.busy:
            return
        text = self.details.editor.text().strip()
        if not text:
            self._show_message("The memory text is empty; use Forget to remove a memory.", "refused")
        elif text == item.text:
            self._show_message("Nothing to save: the text is unchanged.", "ok")
        else:
            self._run(SAVING, lambda s: s.edits.edit(item.id, text))

    def _on_privacy_box_activated(self, index: int) -> None:
        item = self.details.item
        privacy = PrivacyClass(str(self.details.privacy_box.itemData(index)))
        if item is not None and not self.busy and privacy is not item.privacy:
            self._run("change its privacy", lambda s: s.edits.set_privacy(item.id, privacy))

    def _on_forget_button_clicked(self) -> None:
        item = self.details.item
        if item is not None and not self.busy:
            self._forgotten_row = self.table.currentRow()
            self._run(FORGETTING, lambda s: s.edits.forget(item.id))

    def _on_undo_button_clicked(self) -> None:
        item = self.undo_bar.item
        if item is not None and not self.busy:
            self._run(RESTORING, lambda s: s.edits.restore(item.id))

    def _on_forget_now_button_clicked(self) -> None:
        item = self.details.item
        if item is None or self.busy:
            return
        text = f"Forget “{item.text}” now? This erases the text for good; it cannot be undone."
        if (self._confirm_with or self._ask)("Forget now", text):
            self._forgotten_row = self.table.currentRow()
            self._run("erase the memory", lambda s: s.edits.forget(item.id, now=True))

    def _on_add_button_clicked(self) -> None:
        if self.busy:
            return
        self.add_row.show()
        self.add_row.field.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _on_add_confirm_clicked(self) -> None:
        text, kind, privacy = self.add_row.draft()
        if text and not self.busy:
            self._run(ADDING, lambda s: s.edits.add(text, kind=kind, privacy=privacy))

    def _on_add_cancel_clicked(self) -> None:
        self.add_row.close_row()

    def _on_import_button_clicked(self) -> None:
        path = None if self.busy else (self._choose_file_with or self._file_dialog)("Import memories", False)
        if path is None:
            return
        passphrase = None
        if is_sealed_file(path):
            passphrase = (self._ask_passphrase_with or self._passphrase_dialog)(
                "Passphrase of the export", False
            )
            if passphrase is None:
                return
        self._run("import", lambda s: s.edits.import_file(path, passphrase=passphrase))

    def _on_export_button_clicked(self) -> None:
        path = None if self.busy else (self._choose_file_with or self._file_dialog)("Export memories", True)
        if path is None:
            return
        passphrase = (self._ask_passphrase_with or self._passphrase_dialog)("Seal the export", True)
        if passphrase is not None:
            self._run("export", lambda s: s.edits.export_file(path, passphrase=passphrase))

    # ------------------------------------------------------------ default dialogs

    def _ask(self, title: str, text: str) -> bool:
        return ask_user(self, title, text)

    def _file_dialog(self, title: str, save: bool) -> Path | None:
        return choose_json_file(self, title, save)

    def _passphrase_dialog(self, title: str, confirm: bool) -> str | None:
        return ask_passphrase(self, title, confirm)
