"""The Permissions and Costs pages: preset, approved folders, pause; the remote spending caps.

Both only collect what the user typed and show the outcome: the services ask
the gate and audit each change, exactly like ``aether policy`` and ``aether costs``.
"""

from __future__ import annotations

import html

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QWidget,
)

from aether_qt.core.errors import ExplainedError
from aether_qt.widgets.ports import Costs
from aether_qt.widgets.settings.page import SettingsPage, fill_combo
from aether_qt.widgets.settings.pages_model import _row
from aether_qt.widgets.settings.ports import PermissionsPort


def _list_html(title: str, lines: tuple[str, ...]) -> str:
    items = "; ".join(html.escape(line[:1].lower() + line[1:]) for line in lines) or "nothing"
    return f"<p><b>{title}</b> {items}.</p>"


class PermissionsPage(SettingsPage):
    """The preset (with what it allows, asks and never does), approved folders and pause."""

    title = "Permissions"

    def __init__(self, *, port: PermissionsPort, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._port = port
        self.preset = QComboBox()
        self.preset.setAccessibleName("Permission preset")
        self.apply_preset = QPushButton("&Use this preset")
        self.preset_message = self.add_field("Pre&set:", _row(self.preset, self.apply_preset), "preset")
        self.summary = QLabel("")
        self.summary.setObjectName("preset_summary")
        self.summary.setWordWrap(True)
        self.form.addRow("", self.summary)
        self.roots = QListWidget()
        self.roots.setAccessibleName("Approved folders")
        self.roots.setMaximumHeight(90)
        self.roots_message = self.add_field("Approved &folders:", self.roots, "roots")
        self.folder = QLineEdit()
        self.folder.setAccessibleName("Folder to approve")
        self.folder.setPlaceholderText("/home/you/Documents")
        self.browse = QPushButton("&Browse…")
        self.add_root = QPushButton("&Add")
        self.remove_root = QPushButton("Re&move selected")
        self.form.addRow("", _row(self.folder, self.browse, self.add_root, self.remove_root))
        self.pause = QCheckBox("&Pause: Aether only talks, it does nothing else")
        self.form.addRow("", self.pause)
        self.pause_message = self.add_message("pause_message")
        self.preset.currentIndexChanged.connect(self._on_preset_index_changed)
        self.apply_preset.clicked.connect(self._on_apply_preset_clicked)
        self.add_root.clicked.connect(self._on_add_root_clicked)
        self.folder.returnPressed.connect(self._on_add_root_clicked)
        self.remove_root.clicked.connect(self._on_remove_root_clicked)
        self.browse.clicked.connect(self._on_browse_clicked)
        self.pause.toggled.connect(self._on_pause_toggled)
        self.refresh()

    def refresh(self) -> None:
        """Show the preset, the folders and the pause switch in force."""
        view = self._port.view()
        fill_combo(self.preset, view.presets, view.preset)
        self._show_summary()
        self.roots.clear()
        self.roots.addItems(list(view.roots))
        self.pause.blockSignals(True)
        self.pause.setChecked(view.paused)
        self.pause.blockSignals(False)

    def _show_summary(self) -> None:
        summary = self._port.summary(str(self.preset.currentData()))
        self.summary.setText(
            _list_html("Does on its own:", summary.allows)
            + _list_html("Asks you first:", summary.asks)
            + _list_html("Never does:", summary.never)
        )

    def _on_preset_index_changed(self, _index: int) -> None:
        self._show_summary()  # what the preset would do; nothing changes until "Use this preset"

    def _on_apply_preset_clicked(self) -> None:
        value = str(self.preset.currentData())
        self.attempt(lambda: self._port.set_preset(value), self.preset_message)

    def _on_add_root_clicked(self) -> None:
        text = self.folder.text()
        if self.attempt(lambda: self._port.add_root(text), self.roots_message):
            self.folder.clear()

    def _on_remove_root_clicked(self) -> None:
        item = self.roots.currentItem()
        if item is None:
            self.show_error(self.roots_message, "Select a folder in the list first.")
            return
        text = item.text()
        self.attempt(lambda: self._port.remove_root(text), self.roots_message)

    def _on_browse_clicked(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Choose a folder Aether may work in")
        if chosen:
            self.folder.setText(chosen)

    def _on_pause_toggled(self, checked: bool) -> None:
        self.attempt(lambda: self._port.pause(checked), self.pause_message)


def parse_dollars(text: str, what: str) -> float:
    """An amount in US dollars typed by the user (``$`` and spaces allowed).

    Raises:
        ExplainedError: not a number.
    """
    try:
        return float(text.strip().lstrip("$").strip())
    except ValueError:
        raise ExplainedError(f"Type {what} in dollars, such as 5 or 2.50.") from None


class CostsPage(SettingsPage):
    """The daily and monthly caps on remote spending; re-arming a reached cap (the user's act only)."""

    title = "Costs"

    def __init__(self, *, port: Costs, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._port = port
        self.status = QLabel("")
        self.status.setObjectName("costs_status")
        self.status.setWordWrap(True)
        self.form.addRow("", self.status)
        self.daily = QLineEdit()
        self.daily.setAccessibleName("Daily cap in dollars")
        self.monthly = QLineEdit()
        self.monthly.setAccessibleName("Monthly cap in dollars")
        self.form.addRow("&Daily cap ($):", self.daily)
        self.daily.setObjectName("daily_cap")
        self.form.addRow("&Monthly cap ($):", self.monthly)
        self.monthly.setObjectName("monthly_cap")
        self.set_caps = QPushButton("&Set caps")
        self.rearm = QPushButton("&Re-arm")
        self.rearm.setToolTip("Let remote models spend again after a cap was reached")
        self.form.addRow("", _row(self.set_caps, self.rearm))
        self.caps_message = self.add_message("caps_message")
        self.set_caps.clicked.connect(self._on_set_caps_clicked)
        for edit in (self.daily, self.monthly):
            edit.returnPressed.connect(self._on_set_caps_clicked)
        self.rearm.clicked.connect(self._on_rearm_clicked)
        self.refresh()

    def refresh(self) -> None:
        """Show spend against the caps (a ledger that cannot be read is said, never shown as zero)."""
        try:
            view = self._port.view(1)  # the caps and spend; the entries are the trust centre's
        except ExplainedError as exc:
            self.status.setText(f"Spending cannot be read: {exc}")
            self.rearm.setEnabled(False)
            return
        self.status.setText(
            f"Spent today ${view.today_usd:.2f} of ${view.daily_cap_usd:.2f}; "
            f"this month ${view.month_usd:.2f} of ${view.monthly_cap_usd:.2f}."
            + (f" {view.tripped} Remote models stop until you re-arm." if view.tripped else "")
        )
        self.daily.setText(f"{view.daily_cap_usd:g}")
        self.monthly.setText(f"{view.monthly_cap_usd:g}")
        self.rearm.setEnabled(bool(view.tripped))

    def _on_set_caps_clicked(self) -> None:
        daily_text, monthly_text = self.daily.text(), self.monthly.text()

        def change() -> str:
            daily = parse_dollars(daily_text, "the daily cap")
            monthly = parse_dollars(monthly_text, "the monthly cap")
            return self._port.set_caps(daily, monthly)

        self.attempt(change, self.caps_message)

    def _on_rearm_clicked(self) -> None:
        self.attempt(self._port.rearm, self.caps_message)
