"""The trust centre's Permissions tab: the preset selector and, in words, what it lets Aether do.

Each capability is said in words (:mod:`~aether_qt.widgets.trust.plain_words`) with how the
preset handles it ("Without asking", "Asks you first"...); its id is an expert column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from aether_qt.policy.capabilities import CAPABILITIES, Mode, Preset, preset_matrix
from aether_qt.widgets.trust.approval_card import RISK_COLOURS
from aether_qt.widgets.trust.confirm import Confirm
from aether_qt.widgets.trust.plain_words import capability_words
from aether_qt.widgets.trust.tables import fill_table, fit_columns, make_table

if TYPE_CHECKING:
    from aether_qt.policy.runtime import PolicyRuntime
    from aether_qt.widgets.ports import PolicyControls

MODE_WORDS = {
    "auto": "Without asking",
    "task": "Asks once per task",
    "ask": "Asks you first",
    "draft": "Drafts only",
    "deny": "Not allowed",
    "block": "Never",
}
MODE_COLOURS = {
    "auto": "#2e7d32",
    "task": "#00796b",
    "ask": "#b26a00",
    "draft": "#1565c0",
    "deny": "#c62828",
    "block": "#c62828",
}


class PermissionsTab(QWidget):
    """The preset selector and the capability matrix it implies.

    The preset is read from the runtime and changed through ``controls`` (audited and published).

    Signals:
        sig_preset_changed(str): the preset now in force.
    """

    sig_preset_changed = Signal(str)
    HEADERS = ("What Aether may do", "Risk", "How", "Capability")

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
        self._shown: tuple[Preset, tuple[tuple[str, Mode], ...]] | None = None
        self._expert = False
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Permission preset:"))
        self.preset_box = QComboBox()
        self.preset_box.setToolTip("How much Aether may do without asking you first")
        for preset in Preset:
            self.preset_box.addItem(preset.value, preset.value)
        self.preset_box.currentIndexChanged.connect(self._on_preset_box_changed)
        row.addWidget(self.preset_box)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        row.addWidget(self.note, 1)
        layout.addLayout(row)
        self.table = make_table(list(self.HEADERS))
        fit_columns(self.table, stretch=0)
        self.table.horizontalHeader().setSectionHidden(len(self.HEADERS) - 1, True)
        layout.addWidget(self.table, 1)

    def set_expert(self, expert: bool) -> None:
        """Show (True) or hide the capability ids ("Expert details")."""
        self._expert = expert
        self.table.horizontalHeader().setSectionHidden(len(self.HEADERS) - 1, not expert)

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
        rows, modes = [], []
        for cap_id, mode in preset_matrix(preset).items():
            chosen: Mode = overrides.get(cap_id, mode)
            label = MODE_WORDS[chosen.value] + (" (your choice)" if cap_id in overrides else "")
            words = capability_words(cap_id).lets
            risk = CAPABILITIES[cap_id].risk.name.lower()
            rows.append([words[:1].upper() + words[1:], risk, label, cap_id])
            modes.append(chosen)
        fill_table(self.table, rows, {1: RISK_COLOURS})
        for r, chosen in enumerate(modes):  # coloured by mode, whatever the words
            item = self.table.item(r, 2)
            if item is not None:
                item.setForeground(QColor(MODE_COLOURS[chosen.value]))

    def _on_preset_box_changed(self, index: int) -> None:
        preset = Preset(str(self.preset_box.itemData(index)))
        current = self._runtime.preset()
        if preset is current:
            return
        text = (
            f"Switch from {current.value} to {preset.value}? Permissions given for this session "
            "and those of the old preset end; the change is recorded in the log."
        )
        if not self._confirm(self, "Change permission preset", text):
            self.refresh()
            return
        revoked = self._controls.set_preset(preset)
        ended = len(revoked)
        self.note.setText(f"{preset.value} in force; {ended} permission{'s' if ended != 1 else ''} ended.")
        self.refresh()
        self.sig_preset_changed.emit(preset.value)
