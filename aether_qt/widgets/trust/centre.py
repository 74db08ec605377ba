"""The trust centre: pending approvals, grants, the audit log, the permission preset, backups and costs.

Each tab is its own module (``approvals_tab``, ``grants_tab``, ``audit_tab``,
``permissions_tab``, ``backup_tab``, ``costs_tab``); this one assembles them. The tabs read the policy
runtime; every change (answer, revoke, revoke all, preset) goes through the
:class:`~aether_qt.widgets.ports.PolicyControls` they were given, which audits
it and publishes it on the bus; nothing is decided in a widget. Tabs rebuild
their views only when the data changed, so a :meth:`TrustCentre.refresh` (after
the user's own change at once, after a bus event in the main window) keeps a
user's selection and scroll position.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QWidget

from aether_qt.widgets.trust.approvals_tab import Answer, ApprovalsTab
from aether_qt.widgets.trust.audit_tab import AuditTab
from aether_qt.widgets.trust.backup_tab import BackupTab, ChooseFile, choose_file
from aether_qt.widgets.trust.confirm import Confirm, ask_user
from aether_qt.widgets.trust.costs_tab import CostsTab
from aether_qt.widgets.trust.grants_tab import GrantsTab
from aether_qt.widgets.trust.passphrase_dialog import AskPassphrase, ask_passphrase
from aether_qt.widgets.trust.permissions_tab import PermissionsTab

if TYPE_CHECKING:
    from aether_qt.policy.runtime import PolicyRuntime
    from aether_qt.widgets.ports import Costs, DataSafety, PolicyControls


class TrustCentre(QTabWidget):
    """Approvals, Grants, Audit, Permissions, Backup and Costs: tabs over the policy runtime and its controls.

    Tickets are answered by ``answer`` when given (the conversation's, so a
    waiting turn resumes), else by ``controls.answer``. Backups go through
    ``data_safety`` (None: the tab's buttons are disabled); ``ask_passphrase`` and
    ``choose_file`` are its dialogs (tests pass lambdas).

    Signals:
        sig_policy_changed(): something the user did changed grants, tickets or the preset.
    """

    sig_policy_changed = Signal()

    def __init__(
        self,
        *,
        runtime: PolicyRuntime,
        controls: PolicyControls,
        confirm: Confirm = ask_user,
        answer: Answer | None = None,
        data_safety: DataSafety | None = None,
        ask_passphrase: AskPassphrase = ask_passphrase,
        choose_file: ChooseFile = choose_file,
        costs: Costs | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("trust_centre")
        self.setDocumentMode(True)
        self.approvals = ApprovalsTab(runtime=runtime, answer=answer or controls.answer)
        self.grants = GrantsTab(runtime=runtime, controls=controls, confirm=confirm)
        self.audit = AuditTab(runtime=runtime)
        self.permissions = PermissionsTab(runtime=runtime, controls=controls, confirm=confirm)
        self.backup = BackupTab(data_safety=data_safety, ask=ask_passphrase, choose=choose_file)
        self.addTab(self.approvals, "Approvals")
        self.addTab(self.grants, "Grants")
        self.addTab(self.audit, "Audit")
        self.addTab(self.permissions, "Permissions")
        self.costs = CostsTab(costs=costs)
        self.addTab(self.backup, "Backup")
        self.addTab(self.costs, "Costs")
        self.approvals.sig_ticket_answered.connect(self._on_tab_changed)
        self.grants.sig_grants_revoked.connect(self._on_tab_changed)
        self.permissions.sig_preset_changed.connect(self._on_tab_changed)
        self.costs.sig_costs_changed.connect(self._on_tab_changed)
        self.refresh()

    def refresh(self) -> None:
        """Refresh every tab (cheap when nothing changed) and the Approvals and Costs tab titles."""
        self.approvals.refresh()
        self.grants.refresh()
        self.audit.refresh()
        self.permissions.refresh()
        self.costs.refresh()
        count = len(self.approvals.pending_ids())
        self.setTabText(0, f"Approvals ({count})" if count else "Approvals")
        tripped = self.costs.view is not None and bool(self.costs.view.tripped)
        self.setTabText(self.indexOf(self.costs), "Costs (cap reached)" if tripped else "Costs")

    def _on_tab_changed(self, *_: object) -> None:
        self.refresh()
        self.sig_policy_changed.emit()

    def shutdown(self) -> bool:
        """Stop background work (verification, a backup); True when none is left."""
        audit = self.audit.shutdown()
        return self.backup.shutdown() and audit
