"""The trust centre: a plain summary first, then approvals, grants, the audit log, presets, backups, costs.

The summary (:class:`~aether_qt.widgets.trust.summary_bar.SummaryBar`) says what
Aether did today and whether the log holds; below it, each tab is its own module
(``approvals_tab``, ``grants_tab``, ``audit_tab``, ``permissions_tab``, ``backup_tab``,
``costs_tab``); this one assembles them. The tabs read the policy runtime; every
change (answer, revoke, revoke all, preset) goes through the
:class:`~aether_qt.widgets.ports.PolicyControls` they were given, which audits
it and publishes it on the bus; nothing is decided in a widget. Tabs rebuild
their views only when the data changed, so a :meth:`TrustCentre.refresh` (after
the user's own change at once, after a bus event in the main window) keeps a
user's selection and scroll position. Opening the trust centre checks the log
(in the Audit tab's worker thread); from then on the check follows new rows.

"Expert details" (off by default) adds capability ids, codes and raw fields to the
Audit and Grants tabs; without it nothing technical is shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from aether_qt.widgets.trust.approvals_tab import Answer, ApprovalsTab
from aether_qt.widgets.trust.audit_tab import AuditTab
from aether_qt.widgets.trust.backup_tab import BackupTab, ChooseFile, choose_file
from aether_qt.widgets.trust.confirm import Confirm, ask_user
from aether_qt.widgets.trust.costs_tab import CostsTab
from aether_qt.widgets.trust.grants_tab import GrantsTab
from aether_qt.widgets.trust.passphrase_dialog import AskPassphrase, ask_passphrase
from aether_qt.widgets.trust.permissions_tab import PermissionsTab
from aether_qt.widgets.trust.summary_bar import SummaryBar

if TYPE_CHECKING:
    from aether_qt.policy.runtime import PolicyRuntime
    from aether_qt.widgets.ports import Costs, DataSafety, PolicyControls


class TrustCentre(QWidget):
    """The summary line over the tabs: Approvals, Grants, Audit, Permissions, Backup and Costs.

    Tickets are answered by ``answer`` when given (the conversation's, so a
    waiting turn resumes), else by ``controls.answer``. Backups go through
    ``data_safety`` (None: the tab's buttons are disabled); ``ask_passphrase`` and
    ``choose_file`` are its dialogs (tests pass lambdas). The tab methods the window
    uses (``indexOf``, ``insertTab``, ``setCurrentIndex``...) act on :attr:`tabs`.

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
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        # seven tabs in a side panel: narrow tabs, and on a narrower panel shortened titles
        # rather than tabs hidden behind scroll arrows
        bar = self.tabs.tabBar()
        bar.setStyleSheet("QTabBar::tab { padding: 4px 6px; }")
        bar.setUsesScrollButtons(False)
        bar.setElideMode(Qt.TextElideMode.ElideRight)
        bar.setExpanding(False)
        self.approvals = ApprovalsTab(runtime=runtime, answer=answer or controls.answer)
        self.grants = GrantsTab(runtime=runtime, controls=controls, confirm=confirm)
        self.audit = AuditTab(runtime=runtime)
        self.permissions = PermissionsTab(runtime=runtime, controls=controls, confirm=confirm)
        self.backup = BackupTab(data_safety=data_safety, ask=ask_passphrase, choose=choose_file)
        self.costs = CostsTab(costs=costs)
        for tab, title in (
            (self.approvals, "Approvals"),
            (self.grants, "Grants"),
            (self.audit, "Audit"),
            (self.permissions, "Permissions"),
            (self.backup, "Backup"),
            (self.costs, "Costs"),
        ):
            self.tabs.addTab(tab, title)
        self.summary = SummaryBar(runtime=runtime, audit=self.audit)
        self.summary_label = self.summary.label
        self.expert_box = self.summary.expert_box
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addWidget(self.summary)
        layout.addWidget(self.tabs, 1)
        self.approvals.sig_ticket_answered.connect(self._on_tab_changed)
        self.grants.sig_grants_revoked.connect(self._on_tab_changed)
        self.permissions.sig_preset_changed.connect(self._on_tab_changed)
        self.costs.sig_costs_changed.connect(self._on_tab_changed)
        self.audit.sig_verify_done.connect(self._on_audit_verify_done)
        self.expert_box.toggled.connect(self._on_expert_box_toggled)
        self.refresh()

    def refresh(self) -> None:
        """Refresh every tab (cheap when nothing changed), the summary and the Approvals and Costs titles."""
        self.approvals.refresh()
        self.grants.refresh()
        self.audit.refresh(verify_new=self.isVisible())  # closed: checked again when it opens
        self.permissions.refresh()
        self.costs.refresh()
        self.summary.refresh()
        count = len(self.approvals.pending_ids())
        self.tabs.setTabText(0, f"Approvals ({count})" if count else "Approvals")
        tripped = self.costs.view is not None and bool(self.costs.view.tripped)
        self.tabs.setTabText(self.tabs.indexOf(self.costs), "Costs (cap reached)" if tripped else "Costs")

    def showEvent(self, event: QShowEvent) -> None:
        """Opening the trust centre shows the newest rows and checks the log when it has new ones."""
        super().showEvent(event)
        self.refresh()
        if self.audit.behind() and not self.audit.verifying:
            self.audit.verify()
            self.summary.refresh()

    def _on_tab_changed(self, *_: object) -> None:
        self.refresh()
        self.sig_policy_changed.emit()

    def _on_audit_verify_done(self, _status: str) -> None:
        self.summary.refresh()

    def _on_expert_box_toggled(self, expert: bool) -> None:
        self.audit.set_expert(expert)
        self.grants.set_expert(expert)
        self.permissions.set_expert(expert)

    def shutdown(self) -> bool:
        """Stop background work (verification, a backup); True when none is left."""
        audit = self.audit.shutdown()
        return self.backup.shutdown() and audit

    # ------------------------------------------------------------------ the tab widget's methods

    def count(self) -> int:
        """How many tabs there are."""
        return self.tabs.count()

    def indexOf(self, page: QWidget) -> int:
        """The index of the tab ``page`` (-1 when it is not one)."""
        return self.tabs.indexOf(page)

    def insertTab(self, index: int, page: QWidget, title: str) -> int:
        """Insert ``page`` as a tab at ``index``; its index."""
        return self.tabs.insertTab(index, page, title)

    def currentIndex(self) -> int:
        """The index of the tab shown."""
        return self.tabs.currentIndex()

    def setCurrentIndex(self, index: int) -> None:
        """Show the tab at ``index``."""
        self.tabs.setCurrentIndex(index)

    def currentWidget(self) -> QWidget:
        """The tab shown."""
        return self.tabs.currentWidget()

    def tabText(self, index: int) -> str:
        """The title of the tab at ``index``."""
        return self.tabs.tabText(index)
