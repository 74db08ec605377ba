"""The trust centre's Grants tab: each permission in force once, who or what gave it and why; revoke.

Grants with the same meaning (the preset's "remember what you tell it", held by the
conversation's persona and by you in the Memory panel) are one line
(:func:`~aether_qt.widgets.trust.grant_list.grant_entries`); revoking the line revokes
every grant behind it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from aether_qt.widgets.trust.confirm import Confirm
from aether_qt.widgets.trust.grant_list import GrantEntry, grant_entries
from aether_qt.widgets.trust.tables import fit_columns, make_table

if TYPE_CHECKING:
    from aether_qt.policy.runtime import PolicyRuntime
    from aether_qt.widgets.ports import PolicyControls

REVOKE_TIP = (
    "Take back the selected permission now. Aether asks again next time; a permission that is part "
    "of your preset comes back when it is needed (change the preset in Permissions to stop that)."
)
REVOKE_ALL_TIP = (
    "Emergency stop: take back every permission and cancel every action that was allowed but not done yet."
)


class GrantsTab(QWidget):
    """Active permissions in words (read from the runtime), with Revoke and Revoke all (after a confirmation).

    Revocations go through ``controls``, which audits and publishes them.

    Signals:
        sig_grants_revoked(int): how many grants were just revoked.
    """

    sig_grants_revoked = Signal(int)
    HEADERS = ("Permission", "On", "How long", "Given by", "Details")

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
        self._shown: tuple[tuple[str, ...], str] | None = None
        self._entries: list[GrantEntry] = []
        self._expert = False
        layout = QVBoxLayout(self)
        self.table = make_table(list(self.HEADERS))
        self.table.setObjectName("grants_table")
        fit_columns(self.table, stretch=0)
        # the permission wraps onto a second line rather than being cut: rows follow the column's width
        self.table.horizontalHeader().sectionResized.connect(self._on_header_section_resized)
        self.table.horizontalHeader().setSectionHidden(len(self.HEADERS) - 1, True)
        layout.addWidget(self.table, 1)
        self.why = QLabel("Choose a permission to see who gave it and why.")
        self.why.setObjectName("grant_why")
        self.why.setWordWrap(True)
        layout.addWidget(self.why)
        self.table.itemSelectionChanged.connect(self._on_table_selection_changed)
        row = QHBoxLayout()
        self.summary = QLabel("")
        self.revoke_button = QPushButton("&Revoke")
        self.revoke_button.setToolTip(REVOKE_TIP)
        self.revoke_all_button = QPushButton("Revoke &all…")
        self.revoke_all_button.setToolTip(REVOKE_ALL_TIP)
        self.revoke_button.clicked.connect(self._on_revoke_clicked)
        self.revoke_all_button.clicked.connect(self._on_revoke_all_clicked)
        row.addWidget(self.summary, 1)
        row.addWidget(self.revoke_button)
        row.addWidget(self.revoke_all_button)
        layout.addLayout(row)

    def entries(self) -> list[GrantEntry]:
        """The lines shown, in table order."""
        return list(self._entries)

    def grant_ids(self) -> list[str]:
        """Every grant id behind the table, in table order."""
        return [grant_id for entry in self._entries for grant_id in entry.grant_ids]

    def set_expert(self, expert: bool) -> None:
        """Show (True) or hide the raw facts of each grant ("Expert details")."""
        self._expert = expert
        self.table.horizontalHeader().setSectionHidden(len(self.HEADERS) - 1, not expert)

    def refresh(self) -> None:
        """Reload the table when the active grants (or the preset naming them) changed."""
        grants = self._runtime.ledger.active()
        preset = self._runtime.preset().value
        key = (tuple(g.grant_id for g in grants), preset)
        if key == self._shown:
            return
        self._shown = key
        self._entries = grant_entries(grants, preset=preset)
        self.table.setRowCount(len(self._entries))
        for r, entry in enumerate(self._entries):
            values = (entry.permission, entry.scope, entry.how_long, entry.given_by, entry.expert)
            for c, value in enumerate(values):
                item = QTableWidgetItem(value)
                item.setToolTip(entry.expert if c == len(values) - 1 else entry.why)
                self.table.setItem(r, c, item)
        self.table.resizeRowsToContents()
        count = len(self._entries)
        self.summary.setText(f"{count} permission{'s' if count != 1 else ''} in force")
        self.revoke_all_button.setEnabled(bool(self._entries))
        self._on_table_selection_changed()

    def _on_header_section_resized(self, *_: object) -> None:
        self.table.resizeRowsToContents()

    def _chosen(self) -> list[GrantEntry]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self._entries[r] for r in rows if r < len(self._entries)]

    def _on_table_selection_changed(self) -> None:
        chosen = self._chosen()
        self.revoke_button.setEnabled(bool(chosen))
        self.why.setText(chosen[0].why if chosen else "Choose a permission to see who gave it and why.")

    def _on_revoke_clicked(self) -> None:
        ids = [grant_id for entry in self._chosen() for grant_id in entry.grant_ids]
        revoked = sum(1 for grant_id in ids if self._controls.revoke(grant_id))
        self.refresh()
        self.sig_grants_revoked.emit(revoked)

    def _on_revoke_all_clicked(self) -> None:
        text = (
            "Take back every permission and cancel every action allowed but not done yet? "
            "This is recorded in the log."
        )
        if not self._confirm(self, "Revoke all permissions", text):
            return
        revoked = self._controls.revoke_all()
        self.refresh()
        self.sig_grants_revoked.emit(len(revoked))
