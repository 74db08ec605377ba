"""The trust centre: pending approvals, grants, the audit log and the permission preset.

Every control here calls the policy runtime it was given; nothing is decided in the
widget. Panels rebuild their views only when the data changed, so a periodic
:meth:`TrustCentre.refresh` keeps a user's selection and scroll position.
Audit verification runs on a worker of a private :class:`QThreadPool`; its result
comes back to the GUI thread through a queued signal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from aether_qt.policy.approvals import TicketError
from aether_qt.policy.capabilities import CAPABILITIES, Mode, Preset, preset_matrix
from aether_qt.policy.decisions import ApprovalChoice, Decision
from aether_qt.widgets.trust.approval_card import RISK_COLOURS, ApprovalCard, clock, describe_decision

if TYPE_CHECKING:
    from aether_qt.policy.audit_verify import VerifyReport
    from aether_qt.policy.runtime import PolicyRuntime

_log = logging.getLogger(__name__)

Confirm = Callable[[QWidget, str, str], bool]
Answer = Callable[[str, ApprovalChoice], Decision]
"""Answers a ticket: the conversation's ``answer`` (so a waiting turn resumes) or the gate's."""
AUDIT_ROWS = 200
MODE_COLOURS = {
    "auto": "#2e7d32",
    "task": "#00796b",
    "ask": "#b26a00",
    "draft": "#1565c0",
    "deny": "#c62828",
    "block": "#c62828",
}
MAX_COLUMN_WIDTH = 340
STATUS_COLOURS = {"intact": "#2e7d32", "tampered": "#c62828", "undecidable": "#b26a00"}


def ask_user(parent: QWidget, title: str, text: str) -> bool:
    """The default confirmation: a Yes/No question box."""
    buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    answer = QMessageBox.question(parent, title, text, buttons, QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setAlternatingRowColors(True)
    table.verticalHeader().setVisible(False)
    table.horizontalHeader().setStretchLastSection(True)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return table


def _fill(
    table: QTableWidget, rows: list[list[str]], colours: dict[int, dict[str, str]] | None = None
) -> None:
    table.setRowCount(len(rows))
    for r, values in enumerate(rows):
        for c, value in enumerate(values):
            item = QTableWidgetItem(value)
            item.setToolTip(value)
            colour = (colours or {}).get(c, {}).get(value)
            if colour:
                item.setForeground(QColor(colour))
            table.setItem(r, c, item)
    table.resizeColumnsToContents()
    for column in range(table.columnCount() - 1):
        table.setColumnWidth(column, min(table.columnWidth(column), MAX_COLUMN_WIDTH))


class ApprovalsPanel(QWidget):
    """Pending tickets as cards; answers go to ``answer`` (default ``runtime.gate.answer``).

    Signals:
        sig_ticket_answered(str, str): ticket id and a sentence about the decision.
    """

    sig_ticket_answered = Signal(str, str)

    def __init__(
        self, *, runtime: PolicyRuntime, answer: Answer | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._runtime = runtime
        self._answer: Answer = answer or runtime.gate.answer
        self._ids: tuple[str, ...] | None = None
        self.cards: dict[str, ApprovalCard] = {}
        layout = QVBoxLayout(self)
        self.status = QLabel("")
        self.status.setObjectName("approvals_status")
        self.status.setWordWrap(True)
        self.status.setStyleSheet("padding: 4px 2px;")
        self.status.hide()
        layout.addWidget(self.status)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        holder = QWidget()
        self._cards_layout = QVBoxLayout(holder)
        self._cards_layout.setContentsMargins(0, 0, 0, 0)
        self._cards_layout.setSpacing(10)
        self.empty = QLabel("No pending approvals. Requests that need your answer appear here.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: palette(placeholder-text); padding: 24px;")
        self._cards_layout.addWidget(self.empty)
        self._cards_layout.addStretch(1)
        scroll.setWidget(holder)
        layout.addWidget(scroll, 1)

    def pending_ids(self) -> tuple[str, ...]:
        """Ticket ids shown, oldest first."""
        return self._ids or ()

    def refresh(self) -> None:
        """Show the pending tickets; rebuild the cards only when the set changed."""
        pending = self._runtime.tickets.pending()
        ids = tuple(t.ticket_id for t in pending)
        if ids == self._ids:
            return
        self._ids = ids
        for card in self.cards.values():
            self._cards_layout.removeWidget(card)
            card.hide()
            card.deleteLater()
        self.cards = {}
        for index, ticket in enumerate(pending):
            card = ApprovalCard.from_ticket(ticket)
            card.sig_choice_made.connect(self._on_card_choice_made)
            self._cards_layout.insertWidget(index, card)
            self.cards[ticket.ticket_id] = card
        self.empty.setVisible(not pending)

    def _on_card_choice_made(self, ticket_id: str, choice: str) -> None:
        try:
            decision = self._answer(ticket_id, ApprovalChoice(choice))
        except TicketError as exc:  # answered elsewhere (the CLI) or a scope that does not fit
            text = f"Could not answer: {exc}"
        else:
            text = describe_decision(decision)
        self.status.setText(text)
        self.status.show()
        self.refresh()
        self.sig_ticket_answered.emit(ticket_id, text)


class GrantsPanel(QWidget):
    """Active grants, with Revoke (selected) and Revoke all (after a confirmation).

    Signals:
        sig_grants_revoked(int): how many grants were just revoked.
    """

    sig_grants_revoked = Signal(int)
    HEADERS = ("Capability", "Scope", "Duration", "Persona", "Issued", "Issued by", "Grant")

    def __init__(self, *, runtime: PolicyRuntime, confirm: Confirm, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runtime = runtime
        self._confirm = confirm
        self._ids: list[str] | None = None
        layout = QVBoxLayout(self)
        self.table = _table(list(self.HEADERS))
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.summary = QLabel("")
        self.revoke_button = QPushButton("Revoke selected")
        self.revoke_all_button = QPushButton("Revoke all…")
        self.revoke_button.clicked.connect(self._on_revoke_clicked)
        self.revoke_all_button.clicked.connect(self._on_revoke_all_clicked)
        row.addWidget(self.summary, 1)
        row.addWidget(self.revoke_button)
        row.addWidget(self.revoke_all_button)
        layout.addLayout(row)

    def grant_ids(self) -> list[str]:
        """Grant ids in table order."""
        return list(self._ids or [])

    def refresh(self) -> None:
        """Reload the table when the active grants changed."""
        grants = self._runtime.ledger.active()
        ids = [g.grant_id for g in grants]
        if ids == self._ids:
            return
        self._ids = ids
        rows = [
            [
                g.capability,
                g.resource_pattern,
                g.duration.value,
                g.persona,
                clock(g.issued_wall_ms),
                g.issued_by.split(":", 1)[0],  # "approval:<ticket>": the ticket is in the audit log
                g.grant_id,
            ]
            for g in grants
        ]
        _fill(self.table, rows)
        self.summary.setText(f"{len(rows)} active grant{'s' if len(rows) != 1 else ''}")
        self.revoke_all_button.setEnabled(bool(rows))

    def _on_revoke_clicked(self) -> None:
        chosen = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        ids = [self.grant_ids()[r] for r in chosen if r < len(self.grant_ids())]
        revoked = sum(1 for grant_id in ids if self._runtime.gate.revoke(grant_id))
        self.refresh()
        self.sig_grants_revoked.emit(revoked)

    def _on_revoke_all_clicked(self) -> None:
        text = "Revoke every grant and void every outstanding permit? This is recorded in the audit log."
        if not self._confirm(self, "Revoke all grants", text):
            return
        revoked = self._runtime.gate.revoke_all()
        self.refresh()
        self.sig_grants_revoked.emit(len(revoked))


class _VerifySignals(QObject):
    """Carries a verification result from the pool thread to the GUI thread."""

    sig_verify_finished = Signal(object)
    sig_verify_failed = Signal(str)


class _VerifyJob(QRunnable):
    def __init__(self, verify: Callable[[], VerifyReport], signals: _VerifySignals) -> None:
        super().__init__()
        self._verify = verify
        self.signals = signals

    def run(self) -> None:
        try:
            report = self._verify()
        except Exception as exc:  # a bug or an unreadable file: report it, the log keeps the traceback
            _log.exception("audit verification failed")
            self.signals.sig_verify_failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.signals.sig_verify_finished.emit(report)


class AuditPanel(QWidget):
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
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._signals = _VerifySignals(self)
        self._signals.sig_verify_finished.connect(self._on_job_finished)
        self._signals.sig_verify_failed.connect(self._on_job_failed)
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.verify_button = QPushButton("Verify chain")
        self.verify_button.clicked.connect(self._on_verify_clicked)
        self.verify_status = QLabel("Not verified in this session.")
        self.verify_status.setObjectName("verify_status")
        self.verify_status.setWordWrap(True)
        top.addWidget(self.verify_button)
        top.addWidget(self.verify_status, 1)
        layout.addLayout(top)
        self.table = _table(list(self.HEADERS))
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
        decision_colours = {"allow": "#2e7d32", "deny": "#c62828", "ask": "#b26a00", "draft": "#1565c0"}
        _fill(self.table, values, {5: decision_colours})

    def _on_verify_clicked(self) -> None:
        self.verify_button.setEnabled(False)
        self.verify_status.setText("Verifying…")
        self._pool.start(_VerifyJob(self._runtime.verify, self._signals))

    def _on_job_finished(self, report: VerifyReport) -> None:
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

    def _on_job_failed(self, message: str) -> None:
        self.verify_status.setText(f"<b>ERROR</b> verification could not run: {message}")
        self.verify_button.setEnabled(True)
        self.sig_verify_done.emit("ERROR")

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Wait for a running verification; True when none is left."""
        return bool(self._pool.waitForDone(timeout_ms))


class PermissionsPanel(QWidget):
    """The preset selector and the capability matrix it implies.

    Signals:
        sig_preset_changed(str): the preset now in force.
    """

    sig_preset_changed = Signal(str)
    HEADERS = ("Capability", "Risk", "Mode", "What it does")

    def __init__(self, *, runtime: PolicyRuntime, confirm: Confirm, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runtime = runtime
        self._confirm = confirm
        self._shown: tuple[Preset, tuple[tuple[str, Mode], ...]] | None = None
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Permission preset:"))
        self.preset_box = QComboBox()
        for preset in Preset:
            self.preset_box.addItem(preset.value, preset.value)
        self.preset_box.currentIndexChanged.connect(self._on_preset_box_changed)
        row.addWidget(self.preset_box)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        row.addWidget(self.note, 1)
        layout.addLayout(row)
        self.table = _table(list(self.HEADERS))
        layout.addWidget(self.table, 1)

    def refresh(self) -> None:
        """Show the persisted preset and its matrix (user overrides marked) when they changed."""
        preset = self._runtime.preset()
        self.preset_box.blockSignals(True)
        self.preset_box.setCurrentIndex(self.preset_box.findData(preset.value))
        self.preset_box.blockSignals(False)
        overrides = self._runtime.user_overrides()
        key = (preset, tuple(sorted(overrides.items())))
        if key == self._shown:
            return
        self._shown = key
        rows = []
        for cap_id, mode in preset_matrix(preset).items():
            chosen: Mode = overrides.get(cap_id, mode)
            label = chosen.value + (" (your override)" if cap_id in overrides else "")
            cap = CAPABILITIES[cap_id]
            rows.append([cap_id, cap.risk.name.lower(), label, cap.description])
        _fill(self.table, rows, {1: RISK_COLOURS, 2: MODE_COLOURS})

    def _on_preset_box_changed(self, index: int) -> None:
        preset = Preset(str(self.preset_box.itemData(index)))
        current = self._runtime.preset()
        if preset is current:
            return
        text = (
            f"Switch from {current.value} to {preset.value}? Session grants and grants the "
            "preset issued are revoked; the change is recorded in the audit log."
        )
        if not self._confirm(self, "Change permission preset", text):
            self.refresh()
            return
        revoked = self._runtime.set_preset(preset)
        self.note.setText(f"{preset.value} in force; {len(revoked)} grant(s) revoked.")
        self.refresh()
        self.sig_preset_changed.emit(preset.value)


class TrustCentre(QTabWidget):
    """Approvals, Grants, Audit and Permissions, each a tab over the policy runtime.

    Signals:
        sig_policy_changed(): something the user did changed grants, tickets or the preset.
    """

    sig_policy_changed = Signal()

    def __init__(
        self,
        *,
        runtime: PolicyRuntime,
        confirm: Confirm = ask_user,
        answer: Answer | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("trust_centre")
        self.setDocumentMode(True)
        self.approvals = ApprovalsPanel(runtime=runtime, answer=answer)
        self.grants = GrantsPanel(runtime=runtime, confirm=confirm)
        self.audit = AuditPanel(runtime=runtime)
        self.permissions = PermissionsPanel(runtime=runtime, confirm=confirm)
        self.addTab(self.approvals, "Approvals")
        self.addTab(self.grants, "Grants")
        self.addTab(self.audit, "Audit")
        self.addTab(self.permissions, "Permissions")
        self.approvals.sig_ticket_answered.connect(self._on_panel_changed)
        self.grants.sig_grants_revoked.connect(self._on_panel_changed)
        self.permissions.sig_preset_changed.connect(self._on_panel_changed)
        self.refresh()

    def refresh(self) -> None:
        """Refresh every tab (cheap when nothing changed) and the Approvals tab title."""
        self.approvals.refresh()
        self.grants.refresh()
        self.audit.refresh()
        self.permissions.refresh()
        count = len(self.approvals.pending_ids())
        self.setTabText(0, f"Approvals ({count})" if count else "Approvals")

    def _on_panel_changed(self, *_: object) -> None:
        self.refresh()
        self.sig_policy_changed.emit()

    def shutdown(self) -> bool:
        """Wait for background work (verification); True when none is left."""
        return self.audit.shutdown()
