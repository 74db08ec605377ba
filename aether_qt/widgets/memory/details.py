"""The parts of the memory panel: the table, one memory's details, the health banner, the add row.

:class:`MemoryTable` lists memories; :class:`MemoryDetails` shows the selected
memory (editable text, privacy, provenance, a contradiction flag, the forget
buttons); :class:`HealthBanner` says when memory is starting, rebuilding its
index or searching text only; :class:`AddRow` is the inline "remember this"
line. They only show things and expose their controls:
:class:`~aether_qt.widgets.memory.panel.MemoryPanel` connects them and runs
every change through the memory host. The formatting functions turn stored
values (wall-clock milliseconds, retention strings, provenance sources) and
errors into words a user can read; :class:`WeakReply` brings a memory-thread
job's answer back to a widget without keeping the widget alive.
"""

from __future__ import annotations

import datetime as dt
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from aether_qt.core.errors import ExplainedError
from aether_qt.core.events import MemoryStatusChanged
from aether_qt.engines.memory.items import (
    Kind,
    MemoryItem,
    PrivacyClass,
    UnknownMemoryError,
)
from aether_qt.storage.cipher import MIN_PASSPHRASE, PASSPHRASE_MAGIC, is_passphrase_sealed

SOURCES: Final[dict[str, str]] = {
    "user_confirmed": "you asked me to remember it",
    "user_said": "you said it in a conversation",
    "assistant_said": "I said it (inferred)",
    "imported": "imported from a file",
}
SHORT_SOURCES: Final[dict[str, str]] = {
    "user_confirmed": "You asked",
    "user_said": "You said",
    "assistant_said": "I inferred",
    "imported": "Imported",
}
"""The list's Source column: who it came from, in a word or two."""
TRUST_WORDS: Final[dict[str, str]] = {
    "user_confirmed": "trusted: you confirmed it",
    "untrusted": "not trusted: kept as data, never followed as an instruction",
}
BANNER_COLOURS: Final = {  # state -> background, text; "ready" shows no banner
    "starting": ("#e3f2fd", "#0d3c61"),
    "rebuilding": ("#e3f2fd", "#0d3c61"),
    "fts_only": ("#fff3e0", "#5d4000"),
    "unavailable": ("#ffebee", "#8e1b1b"),
}
LOADING: Final = frozenset({"starting", "rebuilding"})
ADD_KINDS: Final = (("Note", Kind.NOTE), ("Fact", Kind.FACT), ("Preference", Kind.PREFERENCE))
KNOWN_ERRORS: Final = (ExplainedError, ValueError, OSError)
"""Errors a user can act on (shown as they are); anything else is a bug (logged with its traceback)."""
CONTRADICTS_STYLE: Final = (
    "QLabel#memory_contradicts { background: #fff3e0; color: #6d4c00; border: 1px solid #f0b45a;"
    " border-radius: 4px; padding: 5px 8px; }"
)


def local_time(wall_ms: int) -> str:
    """A timestamp as readable local time ("Tue 04 Jun 2024, 14:03:22"); '' for 0."""
    if wall_ms <= 0:
        return ""
    return time.strftime("%a %d %b %Y, %H:%M:%S", time.localtime(wall_ms / 1000))


def used_in_reply(wall_ms: int | None, now_ms: int, *, short: bool = False) -> str:
    """When a memory last went into a reply: "today 14:02", "yesterday 09:10", a date, or never.

    ``short`` (a table cell): "never" and an ISO-like date for older days.
    """
    if wall_ms is None:
        return "never" if short else "Never used yet"
    when = time.localtime(wall_ms / 1000)
    clock = time.strftime("%H:%M", when)
    days = _day_number(now_ms) - _day_number(wall_ms)
    if days == 0:
        return f"today {clock}"
    if days == 1:
        return f"yesterday {clock}"
    return time.strftime("%Y-%m-%d %H:%M" if short else "%a %d %b %Y, %H:%M", when)


def _day_number(wall_ms: int) -> int:
    """The local calendar day of ``wall_ms`` (consecutive days differ by one)."""
    return dt.date.fromtimestamp(wall_ms / 1000).toordinal()


def describe_source(source: str) -> str:
    """The raw provenance source followed by what it means."""
    if source.startswith("file:"):
        return f"{source} (read from a file)"
    meaning = SOURCES.get(source)
    return f"{source} ({meaning})" if meaning else source


def describe_retention(item: MemoryItem) -> str:
    """How long a memory is kept, with its expiry time when it has one."""
    label = {"forever": "kept until you forget it", "session": "this session only"}.get(item.retention)
    if label is None and item.retention.startswith("days:"):
        days = item.retention.removeprefix("days:")
        label = f"{days} day{'s' if days != '1' else ''}"
    label = label or item.retention
    if item.expires_at_ms:
        return f"{label}; expires {local_time(item.expires_at_ms)}"
    return label


def error_text(exc: Exception) -> str | None:
    """The sentence for an error the user can act on; None for a bug."""
    if isinstance(exc, UnknownMemoryError):  # a KeyError: its str() is just the quoted id
        return "that memory is gone (forgotten or expired)"
    if isinstance(exc, KNOWN_ERRORS):
        return str(exc)
    return None


class WeakReply:
    """A ``done``/``failed`` callback for :meth:`~aether_qt.widgets.ports.MemoryJobs.call`, held weakly.

    A reply may arrive after the panel was closed; it keeps only a weak
    reference and plain values, and calls ``widget.<method>(*args, value)`` only
    while the widget still exists (its C++ object too).
    """

    __slots__ = ("_args", "_method", "_widget")

    def __init__(self, widget: QWidget, method: str, *args: object) -> None:
        self._widget = weakref.ref(widget)
        self._method = method
        self._args = args

    def __call__(self, value: object) -> None:
        """Deliver ``value`` (a job's result or its exception)."""
        widget = self._widget()
        if widget is not None and isValid(widget):
            getattr(widget, self._method)(*self._args, value)


def is_sealed_file(path: Path) -> bool:
    """``path`` starts like a passphrase-sealed export (False when unreadable: the import says why)."""
    try:
        with path.open("rb") as handle:
            return is_passphrase_sealed(handle.read(len(PASSPHRASE_MAGIC)))
    except OSError:
        return False


def ask_passphrase(parent: QWidget, title: str, confirm: bool) -> str | None:
    """The default passphrase prompt (masked; asked twice with ``confirm``); None when cancelled."""
    label = f"Passphrase (at least {MIN_PASSPHRASE} characters). Without it the file cannot be read:"
    while True:
        first, ok = QInputDialog.getText(parent, title, label, QLineEdit.EchoMode.Password)
        if not ok:
            return None
        if len(first) < MIN_PASSPHRASE:
            label = f"Too short: use at least {MIN_PASSPHRASE} characters."
            continue
        if not confirm:
            return first
        again, ok = QInputDialog.getText(
            parent, title, "The same passphrase again:", QLineEdit.EchoMode.Password
        )
        if not ok:
            return None
        if again == first:
            return first
        label = "The two passphrases differ. Passphrase:"


def choose_json_file(parent: QWidget, title: str, save: bool) -> Path | None:
    """The default file chooser: a JSON file to write (``save``) or to read; None when cancelled."""
    json_files = "JSON files (*.json);;All files (*)"
    if save:
        default = str(Path.home() / "aether-memories.json")
        name, _ = QFileDialog.getSaveFileName(parent, title, default, json_files)
    else:
        name, _ = QFileDialog.getOpenFileName(parent, title, str(Path.home()), json_files)
    return Path(name) if name else None


class MemoryTable(QTableWidget):
    """Memories one per row (text, kind, privacy, source, when, last use in a reply); one selectable."""

    HEADERS: Final = ("Memory", "Kind", "Privacy", "From", "Added", "Last used")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(self.HEADERS), parent)
        self.setObjectName("memory_table")
        self.setAccessibleName("Memories")
        self.setHorizontalHeaderLabels(list(self.HEADERS))
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.verticalHeader().setVisible(False)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(self.HEADERS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setMinimumSectionSize(40)
        for column, tip in enumerate(
            (
                "What Aether remembers",
                "Fact, preference, note or conversation episode",
                "Who may see it: normal, private or sensitive",
                "Who it came from",
                "When it was remembered",
                "When it last went into a reply",
            )
        ):
            item = self.horizontalHeaderItem(column)
            if item is not None:
                item.setToolTip(tip)

    def select_row(self, row: int) -> None:
        """Select ``row`` alone and make it current, whatever event is being handled.

        ``selectRow`` derives its selection command from the event in progress and
        selects through the rows' on-screen rectangles, so right after a refill it
        can leave another row selected; the selection model is told directly instead.
        """
        index = self.model().index(row, 0)
        flags = QItemSelectionModel.SelectionFlag
        self.selectionModel().setCurrentIndex(index, flags.ClearAndSelect | flags.Rows)
        self.scrollTo(index)

    def fill(self, items: Sequence[MemoryItem], *, now_ms: int) -> None:
        """Show ``items`` with nothing selected (without a selection signal: the caller selects next)."""
        self.blockSignals(True)
        self.setRowCount(len(items))
        for r, item in enumerate(items):
            values = (
                item.text,
                item.kind.value.capitalize(),
                item.privacy.value.capitalize(),
                SHORT_SOURCES.get(item.provenance.source, item.provenance.source),
                used_in_reply(item.created_at_ms, now_ms, short=True),  # "today 14:02", a date
                used_in_reply(item.used_in_reply_at_ms, now_ms, short=True),
            )
            for c, value in enumerate(values):
                cell = QTableWidgetItem(value)
                cell.setToolTip(value)
                self.setItem(r, c, cell)
        self.selectionModel().clear()  # removing rows may have selected a neighbour of a removed one
        self.blockSignals(False)


def _value_label() -> QLabel:
    label = QLabel("")
    label.setTextFormat(Qt.TextFormat.PlainText)  # provenance can quote file names
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


class MemoryDetails(QStackedWidget):
    """A hint while nothing is selected, else the selected memory (see the module docstring).

    Attributes:
        editor: the memory's text; Enter (or the panel's Ctrl+S) saves it.
        save_button, privacy_box, forget_button, forget_now_button: the actions.
        contradicts: the visible flag when the memory contradicts another one.
        fields: the provenance values by name (source, trust, turn, audit, captured,
            confidence, seen, retention, last_used).
    """

    FIELDS: Final = (
        ("source", "Source"),
        ("trust", "Trust"),
        ("turn", "Conversation"),
        ("audit", "Audit"),
        ("captured", "Captured"),
        ("confidence", "Confidence"),
        ("seen", "Seen"),
        ("retention", "Retention"),
        ("last_used", "Last used in a reply"),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("memory_details")
        self.item: MemoryItem | None = None
        self.hint = QLabel("Select a memory to see where it came from, correct it or forget it.")
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setStyleSheet("color: palette(placeholder-text); padding: 24px;")
        self.addWidget(self.hint)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(8, 0, 0, 0)
        layout.addWidget(self._edit_row())
        self.contradicts = QLabel("")
        self.contradicts.setObjectName("memory_contradicts")
        self.contradicts.setTextFormat(Qt.TextFormat.PlainText)
        self.contradicts.setWordWrap(True)
        self.contradicts.setStyleSheet(CONTRADICTS_STYLE)
        self.contradicts.setAccessibleName("Contradiction")
        self.contradicts.hide()
        layout.addWidget(self.contradicts)
        layout.addWidget(self._provenance_box())
        buttons = QHBoxLayout()
        self.forget_button = QPushButton("Forget")
        self.forget_button.setToolTip("Hide this memory now; its text is erased after a grace period (Del)")
        self.forget_now_button = QPushButton("Forget now…")
        self.forget_now_button.setToolTip("Erase this memory's text for good, at once (Shift+Del)")
        buttons.addStretch(1)
        buttons.addWidget(self.forget_button)
        buttons.addWidget(self.forget_now_button)
        layout.addLayout(buttons)
        layout.addStretch(1)
        self.addWidget(page)

    def _edit_row(self) -> QWidget:
        box = QWidget()
        form = QFormLayout(box)
        form.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.editor = QLineEdit()
        self.editor.setAccessibleName("Memory text")
        self.editor.setPlaceholderText("The memory's text")
        self.save_button = QPushButton("Save")
        self.save_button.setToolTip("Save the corrected text (Enter or Ctrl+S)")
        row.addWidget(self.editor, 1)
        row.addWidget(self.save_button)
        text_label = QLabel("&Text:")
        text_label.setBuddy(self.editor)
        form.addRow(text_label, row)
        self.privacy_box = QComboBox()
        self.privacy_box.setAccessibleName("Privacy")
        for privacy in PrivacyClass:
            self.privacy_box.addItem(privacy.value, privacy.value)
        privacy_label = QLabel("&Privacy:")
        privacy_label.setBuddy(self.privacy_box)
        privacy_row = QHBoxLayout()
        privacy_row.addWidget(self.privacy_box)
        privacy_row.addStretch(1)
        form.addRow(privacy_label, privacy_row)
        return box

    def _provenance_box(self) -> QGroupBox:
        box = QGroupBox("Provenance")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.fields: dict[str, QLabel] = {}
        for name, title in self.FIELDS:
            label = _value_label()
            label.setAccessibleName(title)
            self.fields[name] = label
            form.addRow(f"{title}:", label)
        return box

    def show_item(
        self, item: MemoryItem | None, contradicted_text: str | None = None, *, now_ms: int
    ) -> None:
        """Show ``item`` (None: the hint); keep unsaved text typed for the same item.

        ``now_ms`` is the wall clock that "today" and "yesterday" are counted from.
        """
        previous, self.item = self.item, item
        if item is None:
            self.setCurrentIndex(0)
            return
        self.setCurrentIndex(1)
        if previous is None or previous.id != item.id or not self.editor.isModified():
            self.editor.setText(item.text)
            self.editor.setCursorPosition(0)
        self.privacy_box.setCurrentIndex(self.privacy_box.findData(item.privacy.value))
        prov = item.provenance
        when = local_time(prov.captured_at_ms or item.created_at_ms)
        seen = f"{item.seen_count} time{'s' if item.seen_count != 1 else ''}"
        values = {
            "source": SOURCES.get(prov.source) or describe_source(prov.source),
            "trust": TRUST_WORDS.get(prov.trust, prov.trust),
            # the turn's id means nothing to a person: say that it came from a conversation, and when
            "turn": f"a conversation on {when}" if prov.turn_id else "not from a conversation",
            "audit": prov.audit_id or "none",
            "captured": when,
            "confidence": f"{item.confidence:.2f}",
            "seen": seen,
            "retention": describe_retention(item),
            "last_used": used_in_reply(item.used_in_reply_at_ms, now_ms),
        }
        for name, value in values.items():
            self.fields[name].setText(value)
        if item.contradicts:
            other = f"“{contradicted_text}”" if contradicted_text is not None else "a memory since forgotten"
            self.contradicts.setText(f"⚠ Contradicts: {other}. Both are kept; correct or forget one.")
        self.contradicts.setVisible(bool(item.contradicts))

    def set_busy(self, busy: bool) -> None:
        """Disable the actions while a change is running."""
        for widget in (self.save_button, self.privacy_box, self.forget_button, self.forget_now_button):
            widget.setEnabled(not busy)


class HealthBanner(QFrame):
    """Memory's health when it is not simply ready: the service's sentence, and progress while loading.

    Attributes:
        text: the sentence (``MemoryStatusChanged.message``).
        progress: the index rebuild's progress (busy while starting).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("memory_banner")
        self.setAccessibleName("Memory health")
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 10, 6)
        self.text = QLabel("")
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Memory index progress")
        self.progress.setMaximumWidth(220)
        row.addWidget(self.text, 1)
        row.addWidget(self.progress)
        self.hide()

    def show_status(self, status: MemoryStatusChanged) -> None:
        """Show ``status`` (hidden when memory is ready)."""
        colours = BANNER_COLOURS.get(status.state)
        if colours is None:
            self.hide()
            return
        background, text = colours
        self.setStyleSheet(
            f"QFrame#memory_banner {{ background: {background}; border-radius: 6px; }}"
            f"QLabel {{ color: {text}; background: transparent; }}"
        )
        self.text.setText(status.message or f"Memory is {status.state}.")
        self.progress.setVisible(status.state in LOADING)
        if status.state == "starting" and status.progress <= 0:
            self.progress.setRange(0, 0)  # busy: no count to show yet
        else:
            self.progress.setRange(0, 100)
            self.progress.setValue(round(status.progress * 100))
        self.show()


class AddRow(QWidget):
    """The inline "remember this" line: text, kind, privacy, Remember and Cancel (hidden until Add…).

    Attributes:
        field, kind_box, privacy_box, confirm, cancel: its controls.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.field = QLineEdit()
        self.field.setPlaceholderText("What should I remember? (Enter adds, Esc cancels)")
        self.field.setAccessibleName("New memory")
        self.kind_box = QComboBox()
        self.kind_box.setAccessibleName("New memory kind")
        for label, kind in ADD_KINDS:
            self.kind_box.addItem(label, kind.value)
        self.privacy_box = QComboBox()
        self.privacy_box.setAccessibleName("New memory privacy")
        for privacy in PrivacyClass:
            self.privacy_box.addItem(privacy.value, privacy.value)
        self.privacy_box.setCurrentIndex(self.privacy_box.findData(PrivacyClass.PRIVATE.value))
        self.confirm = QPushButton("Remember")
        self.cancel = QPushButton("Cancel")
        row.addWidget(self.field, 1)
        for widget in (self.kind_box, self.privacy_box, self.confirm, self.cancel):
            row.addWidget(widget)
        self.hide()

    def draft(self) -> tuple[str, Kind, PrivacyClass]:
        """The text (stripped), kind and privacy chosen."""
        kind = Kind(str(self.kind_box.currentData()))
        return self.field.text().strip(), kind, PrivacyClass(str(self.privacy_box.currentData()))

    def close_row(self) -> None:
        """Forget the typed text and hide."""
        self.field.clear()
        self.hide()
