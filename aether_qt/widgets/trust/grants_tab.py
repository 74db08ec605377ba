"""The trust centre's Grants tab: the grants in force, Revoke selected and Revoke all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from aether_qt.widgets.trust.approval_card import clock
from aether_qt.widgets.trust.confirm import Confirm
from aether_qt.widgets.trust.tables import fill_table, make_table

if TYPE_CHECKING:
    from aether_qt.policy.runtime import PolicyRuntime
    from aether_qt.widgets.ports import PolicyControls


class GrantsTab(QWidget):
    """Active grants (read from the runtime), with Revoke (selected) and Revoke all (after a confirmation).

    Revocations go through ``controls``, which audits and publishes them.

    Signals:
        sig_grants_revoked(int): how many grants were just revoked.
    """

    sig_grants_revoked = Signal(int)
    HEADERS = ("Capability", "Scope", "Duration", "Persona", "Issued", "Issued by", "Grant")

    def __init__(
        self,
        *,
        runtime: PolicyRuntime,
        controls: PolicyControls,
        confirm: Confirm,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._runtime = runtime
        self._controls = controls
        self._confirm = confirm
        self._ids: list[str] | None = None
        layout = QVBoxLayout(self)
        self.table = make_table(list(self.HEADERS))
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.summary = QLabel("")
        self.revoke_button = QPushButton("Revoke selected")
        self.revoke_all_button = QPushButton("Revoke all…")
        self.revoke_button.setToolTip("Take back the permission selected in the list")
        self.revoke_all_button.setToolTip("Take back every permission at once (you are asked first)")
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
        fill_table(self.table, rows)
        self.summary.setText(f"{len(rows)} active grant{'s' if len(rows) != 1 else ''}")
        self.revoke_all_button.setEnabled(bool(rows))

    def _on_revoke_clicked(self) -> None:
        chosen = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        ids = [self.grant_ids()[r] for r in chosen if r < len(self.grant_ids())]
        revoked = sum(1 for grant_id in ids if self._controls.revoke(grant_id))
        self.refresh()
        self.sig_grants_revoked.emit(revoked)

    def _on_revoke_all_clicked(self) -> None:
        text = "Revoke every grant and void every outstanding permit? This is recorded in the audit log."
        if not self._confirm(self, "Revoke all grants", text):
            return
        revoked = self._controls.revoke_all()
        self.refresh()
        self.sig_grants_revoked.emit(len(revoked))
