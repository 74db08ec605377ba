"""The trust centre's Audit tab: the newest audit rows and a Verify button that never blocks.

Verification reads the whole chain, so it runs in a
:class:`~aether_qt.core.qt_threads.WorkerThread` (started at the first Verify);
its report comes back on the GUI thread, and is dropped if the tab is gone by
then. :meth:`AuditTab.shutdown` stops the thread.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from aether_qt.core.qt_threads import WorkerThread
from aether_qt.widgets.trust.approval_card import clock
from aether_qt.widgets.trust.tables import fill_table, make_table

if TYPE_CHECKING:
    from aether_qt.policy.audit_verify import VerifyReport
    from aether_qt.policy.runtime import PolicyRuntime

_log = logging.getLogger(__name__)

AUDIT_ROWS = 200
DECISION_COLOURS = {"allow": "#2e7d32", "deny": "#c62828", "ask": "#b26a00", "draft": "#1565c0"}
STATUS_COLOURS = {"intact": "#2e7d32", "tampered": "#c62828", "undecidable": "#b26a00"}
VERIFY_STOP_MS = 10_000  # a long chain takes a while; shutdown waits for it this long


class AuditTab(QWidget):
    """The newest audit rows and a Verify button that never blocks the GUI thread.

    Signals:
        sig_verify_done(str): the status shown (``INTACT``, ``TAMPERED``, ``UNDECIDABLE``, ``ERROR``).
    """

    sig_verify_done = Signal(str)
    HEADERS = ("Seq", "Time", "Actor", "Capability", "Resource", "Decision", "Reason")

    def __init__(self, *, runtime: PolicyRuntime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runtime = runtime
        self._head = -1
        self._verifier = WorkerThread("aether-audit-verify", stop_timeout_ms=VERIFY_STOP_MS, parent=self)
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.verify_button = QPushButton("Verify chain")
        self.verify_button.setToolTip("Check that no entry of the log was changed, removed or reordered")
        self.verify_button.clicked.connect(self._on_verify_clicked)
        self.verify_status = QLabel("Not verified in this session.")
        self.verify_status.setObjectName("verify_status")
        self.verify_status.setWordWrap(True)
        top.addWidget(self.verify_button)
        top.addWidget(self.verify_status, 1)
        layout.addLayout(top)
        self.table = make_table(list(self.HEADERS))
        layout.addWidget(self.table, 1)

    def refresh(self) -> None:
        """Show the newest :data:`AUDIT_ROWS` rows, newest first, when new rows arrived."""
        audit = self._runtime.audit
        if audit is None:
            self.table.setRowCount(0)
            self.verify_status.setText("The audit log is unavailable.")
            return
        head = audit.head().seq
        if head == self._head:
            return
        self._head = head
        rows = audit.rows(after_seq=max(0, head - AUDIT_ROWS))
        values = [
            [str(r.seq), clock(r.ts_wall_ms), r.actor, r.capability, r.resource, r.decision, r.reason]
            for r in reversed(rows)
        ]
        fill_table(self.table, values, {5: DECISION_COLOURS})

    def shutdown(self) -> bool:
        """Stop the verification thread, waiting for a running verification; True when it ended."""
        return self._verifier.stop()

    def _on_verify_clicked(self) -> None:
        self.verify_button.setEnabled(False)
        self.verify_status.setText("Verifying…")
        if not self._verifier.running:
            self._verifier.start()
        self._verifier.call(self._runtime.verify, self._on_verify_job_done, self._on_verify_job_failed)

    def _on_verify_job_done(self, report: VerifyReport) -> None:
        status = report.status.upper()
        colour = STATUS_COLOURS.get(report.status, "#555555")
        anchored = "anchored" if report.anchored else "not anchored"
        reason = f" ({report.reason})" if report.reason else ""
        self.verify_status.setText(
            f"<b style='color:{colour}'>{status}</b>{reason} · {anchored} · "
            f"{report.rows_checked} rows checked. {report.message}"
        )
        self.verify_button.setEnabled(True)
        self.sig_verify_done.emit(status)

    def _on_verify_job_failed(self, exc: Exception) -> None:
        # a bug or an unreadable file: say so here, the log keeps the traceback
        _log.error("audit verification failed", exc_info=exc)
        self.verify_status.setText(f"<b>ERROR</b> verification could not run: {type(exc).__name__}: {exc}")
        self.verify_button.setEnabled(True)
        self.sig_verify_done.emit("ERROR")
