"""The trust centre's Audit tab: what Aether did, in words, and a verification that follows the log.

The table shows the newest rows, newest first: when, what happened and the result,
in words for every kind of row (:mod:`~aether_qt.widgets.trust.audit_words`); the
result column always fits the panel (the action column stretches and elides).
Enter or a double-click opens a row in the detail pane below (why, when, who asked,
the permission used, whether the newest check covers it, the gate's steps).
"Expert details" (:meth:`AuditTab.set_expert`) adds the raw columns and fields.

Verification reads the whole chain, so it runs in a
:class:`~aether_qt.core.qt_threads.WorkerThread`; its report comes back on the GUI
thread, and is dropped if the tab is gone by then. Once a verification ran, new rows
start another (one at a time: rows arriving meanwhile start one more when it ends), so
the result and its count follow the log. :meth:`AuditTab.shutdown` stops the thread.
"""

from __future__ import annotations

import html
import logging
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from aether_qt.core.qt_threads import WorkerThread
from aether_qt.widgets.trust.audit_detail import DetailFacts, detail_html, permission_words
from aether_qt.widgets.trust.audit_words import row_words
from aether_qt.widgets.trust.tables import fit_columns, make_table
from aether_qt.widgets.trust.verify_words import VerifyWords, explain, failed_words

if TYPE_CHECKING:
    from aether_qt.policy.audit_verify import VerifyReport
    from aether_qt.policy.contracts import AuditRow
    from aether_qt.policy.runtime import PolicyRuntime

_log = logging.getLogger(__name__)

AUDIT_ROWS = 200
TONE_COLOURS = {"good": "#2e7d32", "bad": "#c62828", "warn": "#b26a00", "info": "#1565c0", "plain": "#555555"}
VERIFY_STOP_MS = 10_000  # a long chain takes a while; shutdown waits for it this long
PLAIN_COLUMNS = 3  # When, What happened, Result; the rest are expert columns
NO_ROW_TEXT = "Choose an entry and press Enter (or double-click it) to see its details."


def short_time(wall_ms: int, now_ms: int) -> str:
    """ "14:02:10" today, "7 Dec 14:02" on another day."""
    moment, now = time.localtime(wall_ms / 1000), time.localtime(now_ms / 1000)
    if moment[:3] == now[:3]:
        return time.strftime("%H:%M:%S", moment)
    return f"{moment.tm_mday} {time.strftime('%b %H:%M', moment)}"


class AuditTab(QWidget):
    """The newest audit rows in words, a detail pane, and a Verify button that never blocks.

    Signals:
        sig_verify_done(str): the status verified (``intact``, ``tampered``, ``undecidable``, ``error``).
        sig_row_opened(int): the seq of the row opened in the detail pane (Enter or double-click).
    """

    sig_verify_done = Signal(str)
    sig_row_opened = Signal(int)
    HEADERS = ("When", "What happened", "Result", "Who", "Seq", "Capability", "Resource", "Code")

    def __init__(self, *, runtime: PolicyRuntime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runtime = runtime
        self._head = -1
        self._rows: list[AuditRow] = []
        self._opened: AuditRow | None = None
        self._expert = False
        self._again = False
        self.verifying = False
        self.report: VerifyReport | None = None
        self._verifier = WorkerThread("aether-audit-verify", stop_timeout_ms=VERIFY_STOP_MS, parent=self)
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.verify_button = QPushButton("&Verify log")
        self.verify_button.setToolTip(
            "Check that no entry of the decision log was changed, removed or added."
        )
        self.verify_button.clicked.connect(self._on_verify_clicked)
        self.verify_status = QLabel("Not checked yet.")
        self.verify_status.setObjectName("verify_status")
        self.verify_status.setWordWrap(True)
        self.verify_status.setTextFormat(Qt.TextFormat.RichText)
        top.addWidget(self.verify_button, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.verify_status, 1)
        layout.addLayout(top)
        self.table = make_table(list(self.HEADERS))
        self.table.setObjectName("audit_table")
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setToolTip("What Aether did, newest first. Press Enter or double-click for details.")
        self.table.activated.connect(self._on_table_activated)
        self._size_columns()
        self.detail = QTextBrowser()
        self.detail.setObjectName("audit_detail")
        self.detail.setPlaceholderText(NO_ROW_TEXT)
        self.detail.setToolTip("The chosen entry in full: why, when, who asked and how it was checked")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)
        layout.addWidget(splitter, 1)

    # ------------------------------------------------------------------ rows

    def refresh(self, *, verify_new: bool = True) -> None:
        """Show the newest :data:`AUDIT_ROWS` rows, newest first, when new rows arrived.

        After a first verification, new rows start another one (unless ``verify_new`` is
        False: the trust centre is closed, and checks again when it opens).
        """
        audit = self._runtime.audit
        if audit is None:
            self.table.setRowCount(0)
            self.verify_status.setText("The decision log is not available in this session.")
            return
        head = audit.head().seq
        if head == self._head:
            return
        self._head = head
        self._rows = list(reversed(audit.rows(after_seq=max(0, head - AUDIT_ROWS))))
        self._fill()
        if verify_new and (self.report is not None or self.verifying):
            self.verify()

    def rows(self) -> list[AuditRow]:
        """The rows shown, in table order (newest first)."""
        return list(self._rows)

    def set_expert(self, expert: bool) -> None:
        """Show (True) or hide the raw columns and fields ("Expert details")."""
        self._expert = expert
        self._size_columns()
        self._show_report()
        if self._opened is not None:
            self._open(self._opened)

    def _size_columns(self) -> None:
        fit_columns(self.table, stretch=1)
        for column in range(PLAIN_COLUMNS, len(self.HEADERS)):
            self.table.horizontalHeader().setSectionHidden(column, not self._expert)

    def _fill(self) -> None:
        now = self._runtime.clock.wall_ms()
        self.table.setRowCount(len(self._rows))
        for r, row in enumerate(self._rows):
            words = row_words(row)
            values = [
                short_time(row.ts_wall_ms, now),
                words.action,
                words.result,
                words.who,
                str(row.seq),
                row.capability,
                row.resource,
                row.reason or row.decision,
            ]
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                if c < PLAIN_COLUMNS:
                    item.setToolTip(value)
                if c == 2:
                    item.setForeground(QColor(TONE_COLOURS.get(words.tone, TONE_COLOURS["plain"])))
                self.table.setItem(r, c, item)

    def _on_table_activated(self, index: QModelIndex) -> None:
        if 0 <= index.row() < len(self._rows):
            row = self._rows[index.row()]
            self._open(row)
            self.sig_row_opened.emit(row.seq)

    def _open(self, row: AuditRow) -> None:
        self._opened = row
        grant_id = row.detail.get("grant_id") if isinstance(row.detail, dict) else None
        grant = self._runtime.ledger.get(grant_id) if isinstance(grant_id, str) else None
        facts = DetailFacts(
            words=row_words(row),
            permission=permission_words(row, grant, preset=self._runtime.preset().value),
            report=self.report,
            expert=self._expert,
        )
        self.detail.setHtml(detail_html(row, facts))

    # ------------------------------------------------------------------ verification

    def verify(self) -> None:
        """Start a verification in the worker thread; while one runs, start one more when it ends."""
        if self.verifying:
            self._again = True
            return
        self.verifying = True
        self._again = False
        self.verify_button.setEnabled(False)
        if self.report is None:
            self.verify_status.setText("Checking the decision log…")
        if not self._verifier.running:
            self._verifier.start()
        self._verifier.call(self._runtime.verify, self._on_verify_job_done, self._on_verify_job_failed)

    def behind(self) -> bool:
        """Whether the log has rows the newest verification did not check (or none ran yet)."""
        return self.report is None or self.report.rows_checked < self._head

    def shutdown(self) -> bool:
        """Stop the verification thread, waiting for a running verification; True when it ended."""
        self._again = False
        return self._verifier.stop()

    def verify_words(self) -> VerifyWords | None:
        """The newest verification in words (None before the first)."""
        return explain(self.report) if self.report is not None else None

    def _on_verify_clicked(self) -> None:
        self.verify()

    def _finished(self, status: str) -> None:
        self.verifying = False
        self.verify_button.setEnabled(True)
        self.sig_verify_done.emit(status)
        if self._again:
            self.verify()

    def _on_verify_job_done(self, report: VerifyReport) -> None:
        self.report = report
        self._show_report()
        if self._opened is not None:
            self._open(self._opened)
        self._finished(report.status)

    def _show_report(self) -> None:
        if self.report is None:
            return
        self._show_words(explain(self.report), self.report)

    def _show_words(self, words: VerifyWords, report: VerifyReport | None) -> None:
        colour = TONE_COLOURS[words.tone]
        count = f" ({report.rows_checked} entries checked)" if report is not None else ""
        headline = f"<b style='color:{colour}'>{html.escape(words.headline, quote=False)}</b>"
        text = f"{headline}{count}. {html.escape(words.meaning, quote=False)}"
        if words.next_step:
            text += f"<br><b>What to do:</b> {html.escape(words.next_step, quote=False)}"
        if self._expert and report is not None:
            expert = f"{report.status} · reason {report.reason or 'none'} · {report.message}"
            text += f"<br><small>{html.escape(expert, quote=False)}</small>"
        self.verify_status.setText(text)

    def _on_verify_job_failed(self, exc: Exception) -> None:
        # a bug or an unreadable file: the log file keeps the traceback, the tab says it in words
        _log.error("audit verification failed", exc_info=exc)
        self._show_words(failed_words(), None)
        self._finished("error")
