"""The line at the top of the trust centre: what Aether did today and whether the log holds.

Counts are added up from the rows that arrived since the last refresh (a day's first
row is found by a binary search on the log, :meth:`AuditLog.first_seq_since`), so a
refresh reads only the new rows; the log's state comes from the Audit tab's newest
verification, which runs in its worker thread.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QCheckBox, QFrame, QHBoxLayout, QLabel, QWidget

from aether_qt.widgets.trust.audit_summary import DayTally, summary_line

if TYPE_CHECKING:
    from aether_qt.policy.runtime import PolicyRuntime
    from aether_qt.widgets.trust.audit_tab import AuditTab

NOT_CHECKED = "the log has not been checked yet"
CHECKING = "checking the log…"
EXPERT_TIP = (
    "Show the technical details too: capability names, decision codes and raw log fields. "
    "Off, everything is said in plain words."
)


def start_of_day(wall_ms: int) -> int:
    """Local midnight before ``wall_ms``, in milliseconds."""
    moment = time.localtime(wall_ms / 1000)
    midnight = time.mktime((moment.tm_year, moment.tm_mon, moment.tm_mday, 0, 0, 0, 0, 0, -1))
    return int(midnight * 1000)


class SummaryBar(QFrame):
    """The summary sentence ("Today Aether did 24 things; 3 needed your OK; ...") and the expert switch."""

    def __init__(self, *, runtime: PolicyRuntime, audit: AuditTab, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runtime = runtime
        self._audit = audit
        self._day = -1
        self._seq = 0
        self._tally = DayTally()
        self.setObjectName("trust_summary")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        self.label = QLabel("")
        self.label.setObjectName("trust_summary_text")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.label.font()
        font.setWeight(QFont.Weight.DemiBold)
        self.label.setFont(font)
        self.expert_box = QCheckBox("E&xpert details")
        self.expert_box.setToolTip(EXPERT_TIP)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.expert_box, 0, Qt.AlignmentFlag.AlignTop)

    def refresh(self) -> None:
        """Add the rows that arrived since the last refresh and say how the log is."""
        audit = self._runtime.audit
        if audit is None:
            self.label.setText("The decision log is not available in this session: nothing is recorded.")
            return
        day = start_of_day(self._runtime.clock.wall_ms())
        if day != self._day:  # a new day (or the first refresh): count from its first row
            self._day, self._tally = day, DayTally()
            self._seq = audit.first_seq_since(day) - 1
        head = audit.head().seq
        if head > self._seq:
            self._tally = self._tally.plus(audit.rows(after_seq=self._seq))
            self._seq = head
        words = self._audit.verify_words()
        state = words.short if words is not None else (CHECKING if self._audit.verifying else NOT_CHECKED)
        self.label.setText(summary_line(self._tally, state))
        self.label.setToolTip("Counted from today's entries in the decision log (Audit tab).")

    @property
    def tally(self) -> DayTally:
        """Today's counts as shown."""
        return self._tally
