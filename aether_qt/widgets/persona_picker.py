"""The persona picker: a combo box of the personas on disk, "Name — tagline" each.

The persona service lists the personas (``PersonaChoice`` rows, given as a
callable so the list is always current) and does the switching; this widget only
shows the list and says which one the user picked. A file that does not load is
listed disabled with its error as tooltip; a persona imported from a character
card is marked "(imported, untrusted)" (DESIGN.md §10). The switch itself
happens at the next turn boundary, so the window shows a note until the
``persona.did_activate`` event arrives.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Sequence
from typing import Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QComboBox, QWidget

from aether_qt.engines.persona.registry import PersonaChoice
from aether_qt.policy.user_words import explain_error

log = logging.getLogger(__name__)

UNTRUSTED_MARK: Final = "(imported, untrusted)"
BROKEN_MARK: Final = "(does not load)"
UNTRUSTED_TIP: Final = (
    "Imported from a character card: its text is untrusted content, and its policy defaults can "
    "only narrow what Aether may do."
)
ID_ROLE: Final = Qt.ItemDataRole.UserRole + 1


ListPersonas = Callable[[], Sequence[PersonaChoice]]
"""Returns the personas on disk, at once (it is called on the GUI thread)."""


def choice_text(choice: PersonaChoice) -> str:
    """The combo-box line for ``choice``: "Name — tagline", marked when untrusted or broken."""
    text = choice.name or choice.persona_id
    if choice.tagline:
        text = f"{text} — {choice.tagline}"
    if not choice.ok:
        text = f"{text} {BROKEN_MARK}"
    elif not choice.trusted:
        text = f"{text} {UNTRUSTED_MARK}"
    return text


def rich_tooltip(text: str) -> str:
    """``text`` as a tooltip that Qt never reads as markup (persona files are user content)."""
    return f"<p>{html.escape(text)}</p>"


class PersonaPicker(QComboBox):
    """A combo box over ``personas()``; picking an enabled entry emits its id.

    Signals:
        sig_persona_chosen(str): the user picked this persona id (not the active one).
    """

    sig_persona_chosen = Signal(str)

    def __init__(self, *, personas: ListPersonas, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("persona_picker")
        self.setAccessibleName("Persona")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(22)
        self._personas = personas
        self._model = QStandardItemModel(self)
        self.setModel(self._model)
        self.active_id: str | None = None
        self.pending_id: str | None = None  # chosen, waiting for the turn boundary
        self.choices: list[PersonaChoice] = []
        self.activated.connect(self._on_self_activated)
        self.refresh()

    def set_active(self, persona_id: str) -> None:
        """``persona_id`` became active: forget any pending choice, re-read the list."""
        self.active_id = persona_id
        self.pending_id = None
        self.refresh()

    def cancel_pending(self) -> None:
        """The pending choice did not go through: show the active persona again."""
        self.pending_id = None
        self.select(self.active_id)

    def refresh(self) -> None:
        """Re-read ``personas()``; select the pending choice, else the active persona."""
        try:
            self.choices = list(self._personas())
        except OSError as exc:  # the personas folder is unreadable: say so, keep the window working
            log.warning("cannot list personas: %s", exc)
            self.choices = []
            self.setToolTip(
                rich_tooltip(f"Cannot list personas. {explain_error(exc, where='the personas folder')}")
            )
        else:
            self.setToolTip("Persona: the switch happens at the next turn boundary")
        if self.active_id is None:
            self.active_id = next((c.persona_id for c in self.choices if c.active), None)
        self.blockSignals(True)
        try:
            self._model.clear()
            for choice in self.choices:
                self._model.appendRow(self._item(choice))
            self.select(self.pending_id or self.active_id)
        finally:
            self.blockSignals(False)
        self.view().setMinimumWidth(self.view().sizeHintForColumn(0) + 24)

    def select(self, persona_id: str | None) -> None:
        """Show ``persona_id`` as the current entry (no signal); nothing when it is not listed."""
        index = self.index_of(persona_id) if persona_id is not None else -1
        if index >= 0:
            self.setCurrentIndex(index)

    def index_of(self, persona_id: str) -> int:
        """The row of ``persona_id``, or -1."""
        return next((i for i, c in enumerate(self.choices) if c.persona_id == persona_id), -1)

    def is_enabled_at(self, row: int) -> bool:
        """Whether the entry at ``row`` can be picked."""
        item = self._model.item(row)
        return item is not None and item.isEnabled()

    def _item(self, choice: PersonaChoice) -> QStandardItem:
        item = QStandardItem(choice_text(choice))
        item.setData(choice.persona_id, ID_ROLE)
        item.setEditable(False)
        if not choice.ok:
            item.setEnabled(False)
            item.setToolTip(rich_tooltip(choice.error or "This persona file does not load."))
        elif not choice.trusted:
            item.setToolTip(rich_tooltip(UNTRUSTED_TIP))
        elif choice.tagline:
            item.setToolTip(rich_tooltip(choice.tagline))
        return item

    def _on_self_activated(self, row: int) -> None:
        if not (0 <= row < len(self.choices)) or not self.is_enabled_at(row):
            return
        persona_id = self.choices[row].persona_id
        if persona_id == (self.pending_id or self.active_id):
            return
        self.pending_id = None if persona_id == self.active_id else persona_id
        self.sig_persona_chosen.emit(persona_id)
