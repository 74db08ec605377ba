"""The trust centre's Costs tab: what remote models spent against the caps, re-arm, the caps, the ledger.

Everything goes through the :class:`~aether_qt.widgets.ports.Costs` port: the
tab reads a :class:`~aether_qt.widgets.ports.CostsView` and asks for the user's
two acts, "Re-arm" and "Apply" (new caps), which the port turns into audited gate
decisions for the user, exactly like ``aether costs rearm`` and ``aether costs
cap``. The tab refreshes when asked (the main window does so after each turn
and on F5) and on its own "Refresh" button; a ledger that cannot be read (the
data is locked, another program holds it) is said in red above a greyed view,
never shown as zero spend.

The cap spin boxes keep what the user typed across refreshes; they follow the
ledger only when its caps change.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from aether_qt.core.errors import ExplainedError
from aether_qt.widgets.trust.tables import fill_table, make_table

if TYPE_CHECKING:
    from aether_qt.core.cost_views import CostsView
    from aether_qt.widgets.ports import Costs

ENTRIES: Final = 50
MAX_CAP_USD: Final = 100_000.0
_SCALE: Final = 1000  # the progress bars count in thousandths of the cap
INTRO: Final = (
    "What remote models cost, against the daily and monthly caps you set. A call that would pass "
    "a cap is answered locally, and the cap stays reached until you re-arm it or the period ends."
)
UNAVAILABLE: Final = "Costs are not available in this session."
_ERROR_STYLE: Final = "color: #b71c1c; font-weight: bold;"
_TRIPPED_STYLE: Final = "QLabel { color: #ffffff; background: #ad1457; border-radius: 4px; padding: 4px; }"


def money(amount: float) -> str:
    """``$0.0123`` below a dollar (four decimals: token prices are tiny), ``$12.34`` above, ``$0.00``."""
    return f"${amount:,.4f}" if 0 < abs(amount) < 1 else f"${amount:,.2f}"


def _when(wall_ms: int) -> str:
    return dt.datetime.fromtimestamp(wall_ms / 1000).astimezone().strftime("%d %b %H:%M")


def _tokens(count: int | None) -> str:
    return "—" if count is None else f"{count:,}"


def _cap_box(name: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setObjectName(name)
    box.setPrefix("$ ")
    box.setDecimals(2)
    box.setRange(0.0, MAX_CAP_USD)
    box.setSingleStep(1.0)
    box.setKeyboardTracking(False)
    return box


class CostsTab(QWidget):
    """Spend today and this month against the caps, "Re-arm", the caps to edit, and the ledger table.

    Signals:
        sig_costs_changed(): the user's re-arm or new caps were applied (the audit log grew).
    """

    sig_costs_changed = Signal()
    HEADERS = ("Time", "Provider", "Model", "Tokens in", "Tokens out", "Charged", "State")

    def __init__(self, *, costs: Costs | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._costs = costs
        self._caps: tuple[float, float] | None = None  # the ledger's caps last shown in the spin boxes
        self._view: CostsView | None = None
        layout = QVBoxLayout(self)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.error = QLabel("")
        self.error.setObjectName("costs_error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(_ERROR_STYLE)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setVisible(False)
        layout.addWidget(self.error)
        self.body = QWidget()
        body = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.body, 1)
        self._build_meters(body)
        self._build_tripped(body)
        self._build_caps(body)
        self.status = QLabel("")
        self.status.setObjectName("costs_status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setVisible(False)  # no empty gap above the table until there is something to say
        body.addWidget(self.status)
        self.table = make_table(list(self.HEADERS))
        # the model name takes the room left (and is elided first): with seven columns in a side
        # panel, a stretched last column pushed "State" past the edge behind a scroll bar
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        body.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Read the spending again (F5)")
        self.refresh_button.clicked.connect(self.refresh)
        row.addWidget(self.refresh_button)
        layout.addLayout(row)
        if costs is None:
            self._show_error(UNAVAILABLE)
            self.refresh_button.setEnabled(False)

    def _build_meters(self, body: QVBoxLayout) -> None:
        grid = QGridLayout()
        self.today_label = QLabel("Today")
        self.month_label = QLabel("This month")
        self.today_bar = QProgressBar()
        self.month_bar = QProgressBar()
        for row, (label, bar, name) in enumerate(
            ((self.today_label, self.today_bar, "today"), (self.month_label, self.month_bar, "month"))
        ):
            bar.setObjectName(f"costs_{name}_bar")
            bar.setRange(0, _SCALE)
            bar.setTextVisible(True)
            grid.addWidget(label, row, 0)
            grid.addWidget(bar, row, 1)
        grid.setColumnStretch(1, 1)
        body.addLayout(grid)

    def _build_tripped(self, body: QVBoxLayout) -> None:
        self.tripped = QWidget()
        self.tripped.setObjectName("costs_tripped")
        row = QHBoxLayout(self.tripped)
        row.setContentsMargins(0, 0, 0, 0)
        self.tripped_label = QLabel("")
        self.tripped_label.setWordWrap(True)
        self.tripped_label.setStyleSheet(_TRIPPED_STYLE)
        self.rearm_button = QPushButton("Re-arm")
        self.rearm_button.setToolTip("Let remote models spend again up to the caps (audited).")
        self.rearm_button.clicked.connect(self._on_rearm_clicked)
        row.addWidget(self.tripped_label, 1)
        row.addWidget(self.rearm_button)
        self.tripped.setVisible(False)
        body.addWidget(self.tripped)

    def _build_caps(self, body: QVBoxLayout) -> None:
        row = QHBoxLayout()
        self.daily_cap = _cap_box("costs_daily_cap")
        self.monthly_cap = _cap_box("costs_monthly_cap")
        self.daily_cap.setToolTip("The most remote models may cost in one day, in US dollars")
        self.monthly_cap.setToolTip("The most remote models may cost in one month, in US dollars")
        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip("Set both caps (audited).")
        self.apply_button.clicked.connect(self._on_apply_clicked)
        row.addWidget(QLabel("Daily cap"))
        row.addWidget(self.daily_cap)
        row.addSpacing(12)
        row.addWidget(QLabel("Monthly cap"))
        row.addWidget(self.monthly_cap)
        row.addWidget(self.apply_button)
        row.addStretch(1)
        body.addLayout(row)

    @property
    def view(self) -> CostsView | None:
        """What the tab shows (None while the ledger cannot be read)."""
        return self._view

    def refresh(self) -> None:
        """Read the ledger again (cheap when nothing changed); a failure is shown in red, the view greyed."""
        if self._costs is None:
            return
        try:
            view = self._costs.view(ENTRIES)
        except ExplainedError as exc:
            self._view = None
            self._show_error(f"The cost ledger cannot be read: {exc}")
            return
        if view == self._view:  # nothing changed: keep the selection and the scroll position
            return
        self._view = view
        self.error.setVisible(False)
        self.body.setEnabled(True)
        self._meter(self.today_label, self.today_bar, f"Today ({view.day} UTC)", view.today_usd,
                    view.daily_cap_usd)  # fmt: skip
        self._meter(self.month_label, self.month_bar, f"This month ({view.month})", view.month_usd,
                    view.monthly_cap_usd)  # fmt: skip
        self.tripped.setVisible(bool(view.tripped))
        self.tripped_label.setText(view.tripped)
        caps = (view.daily_cap_usd, view.monthly_cap_usd)
        if caps != self._caps:  # the ledger's caps changed: show them; else keep what the user typed
            self._caps = caps
            self.daily_cap.setValue(caps[0])
            self.monthly_cap.setValue(caps[1])
        rows = [
            [_when(r.when_ms), r.provider, r.model, _tokens(r.input_tokens), _tokens(r.output_tokens),
             money(r.charged_usd), r.state]
            for r in view.rows
        ]  # fmt: skip
        fill_table(self.table, rows, {6: {"reserved": "#1565c0", "abandoned": "#b71c1c"}})

    @staticmethod
    def _meter(label: QLabel, bar: QProgressBar, title: str, spent: float, cap: float) -> None:
        label.setText(title)
        share = 1.0 if cap <= 0 else min(1.0, spent / cap)
        bar.setValue(round(share * _SCALE))
        bar.setFormat(f"{money(spent)} of {money(cap)}")
        over = spent >= cap
        bar.setStyleSheet("QProgressBar::chunk { background: #ad1457; }" if over and cap > 0 else "")

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(True)
        self.body.setEnabled(False)

    def _act(self, act: str) -> None:
        costs = self._costs
        assert costs is not None  # the buttons are disabled without it
        try:
            if act == "rearm":
                sentence = costs.rearm()
            else:
                sentence = costs.set_caps(self.daily_cap.value(), self.monthly_cap.value())
        except ExplainedError as exc:
            self._say(str(exc))
            self.refresh()
            return
        self._say(sentence)
        self.refresh()
        self.sig_costs_changed.emit()

    def _say(self, sentence: str) -> None:
        self.status.setText(sentence)
        self.status.setVisible(True)

    def _on_rearm_clicked(self) -> None:
        self._act("rearm")

    def _on_apply_clicked(self) -> None:
        self.daily_cap.interpretText()  # a value still being typed counts
        self.monthly_cap.interpretText()
        self._act("caps")


__all__ = ["CostsTab", "money"]
