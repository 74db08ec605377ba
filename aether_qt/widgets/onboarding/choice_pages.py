"""The wizard's later pages: persona, permission preset, memory retention, and the summary."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from aether_qt.engines.memory.retention import RETENTION_CHOICES, describe_retention
from aether_qt.engines.persona.registry import PersonaChoice
from aether_qt.policy.capabilities import DEFAULT_PRESET, Preset
from aether_qt.widgets.onboarding.choices import OnboardingChoices, OnboardingPage
from aether_qt.widgets.onboarding.first_pages import PRIVACY_OPTIONS, checked_value, radio_group, text
from aether_qt.widgets.onboarding.preset_words import PRESET_WORDS, preset_lists

PERSONA_ROLE = Qt.ItemDataRole.UserRole


class PersonaPage(OnboardingPage):
    """Pick who Aether is: the shipped personas and the user's own, with their descriptions."""

    def __init__(
        self,
        choices: OnboardingChoices,
        personas: Sequence[PersonaChoice],
        current: str | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(choices, parent)
        self.setObjectName("page_persona")
        self.setTitle("Who should Aether be?")
        self.setSubTitle(
            "A persona is Aether's character: how it talks and looks. You can switch at any time."
        )
        layout = QVBoxLayout(self)
        label = QLabel("&Personas:", self)
        self.list = QListWidget(self)
        self.list.setObjectName("persona_list")
        label.setBuddy(self.list)
        layout.addWidget(label)
        layout.addWidget(self.list, 1)
        for persona in personas:
            words = persona.name + (f": {persona.tagline}" if persona.tagline else "")
            if not persona.trusted:
                words += " (imported from a character card)"
            if not persona.ok:
                words = f"{persona.name}: cannot be used ({persona.error})"
            item = QListWidgetItem(words, self.list)
            item.setData(PERSONA_ROLE, persona.persona_id)
            if not persona.ok:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled & ~Qt.ItemFlag.ItemIsSelectable)
            elif persona.persona_id == current or (self.list.currentRow() < 0 and persona.active):
                self.list.setCurrentItem(item)
        if self.list.currentRow() < 0:
            for row in range(self.list.count()):
                if self.list.item(row).flags() & Qt.ItemFlag.ItemIsEnabled:
                    self.list.setCurrentRow(row)
                    break

    def record(self) -> None:
        """Copy the persona id."""
        item = self.list.currentItem()
        self.choices.persona_id = str(item.data(PERSONA_ROLE)) if item is not None else None


class PresetPage(OnboardingPage):
    """The permission preset, with what it lets Aether do, ask about, and never do."""

    def __init__(
        self, choices: OnboardingChoices, current: str | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(choices, parent)
        self.setObjectName("page_preset")
        self.setTitle("What may Aether do?")
        self.setSubTitle("Pick how much Aether may do on its own. Anything risky always needs your yes.")
        layout = QVBoxLayout(self)
        options = [(p.value, *PRESET_WORDS[p]) for p in Preset]
        self.group, self.buttons = radio_group(self, layout, options)
        columns = QHBoxLayout()
        self.lists: dict[str, QListWidget] = {}
        for key, title in (
            ("can", "Can do without asking"),
            ("asks", "Asks you first"),
            ("never", "Never does"),
        ):
            column = QVBoxLayout()
            column.addWidget(QLabel(f"<b>{title}</b>", self))
            box = QListWidget(self)
            box.setObjectName(f"preset_{key}")
            box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            box.setSelectionMode(QListWidget.SelectionMode.NoSelection)
            box.setWordWrap(True)
            column.addWidget(box)
            columns.addLayout(column, 1)
            self.lists[key] = box
        layout.addLayout(columns, 1)
        try:
            start = Preset.parse(current or DEFAULT_PRESET.value)
        except ValueError:
            start = DEFAULT_PRESET
        self.buttons[start.value].setChecked(True)
        self.group.buttonToggled.connect(lambda *_: self._show())
        self._show()

    def preset(self) -> Preset:
        """The preset picked now."""
        return Preset(checked_value(self.buttons) or DEFAULT_PRESET.value)

    def _show(self) -> None:
        lists = preset_lists(self.preset())
        for key, words in (("can", lists.can), ("asks", lists.asks), ("never", lists.never)):
            box = self.lists[key]
            box.clear()
            box.addItems(list(words) or ["(nothing)"])

    def record(self) -> None:
        """Copy the preset."""
        self.choices.preset = self.preset().value


class RetentionPage(OnboardingPage):
    """How long Aether keeps what it remembers (the persona may only make it shorter)."""

    def __init__(
        self, choices: OnboardingChoices, current: str | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(choices, parent)
        self.setObjectName("page_retention")
        self.setTitle("How long should Aether remember?")
        self.setSubTitle(
            "This applies to what Aether keeps from now on. You can forget any memory at any time."
        )
        layout = QVBoxLayout(self)
        options = [(value, describe_retention(value), "") for value in RETENTION_CHOICES]
        self.group, self.buttons = radio_group(self, layout, options)
        self.buttons.get(current or "forever", self.buttons[RETENTION_CHOICES[0]]).setChecked(True)
        layout.addWidget(
            text("A persona may keep things for a shorter time than you choose here, never for longer.", self)
        )
        layout.addStretch(1)

    def record(self) -> None:
        """Copy the retention."""
        self.choices.retention = checked_value(self.buttons)


KEY_WORDS = {
    "keyring": "in your computer's keyring",
    "key_file": "in a file on this computer (shown as 'Keys on disk')",
    "read_only": "nowhere: read-only, Aether only chats",
}


def lower_first(words: str) -> str:
    """``words`` to go after a colon: only the first letter lowered ("until I ask Aether ...")."""
    return words[:1].lower() + words[1:]


def summary_lines(choices: OnboardingChoices, persona_names: dict[str, str]) -> list[str]:
    """The ready page's lines, one per choice made (in the pages' order)."""
    lines = []
    if choices.key_storage is not None:
        lines.append(f"Keys: {KEY_WORDS[choices.key_storage.value]}.")
    if choices.privacy is not None:
        words = next(
            (label for value, label, _ in PRIVACY_OPTIONS if value == choices.privacy), choices.privacy
        )
        lines.append(f"What may leave this computer: {lower_first(words.replace('&', ''))}.")
    if choices.persona_id is not None:
        lines.append(f"Persona: {persona_names.get(choices.persona_id, choices.persona_id)}.")
    if choices.preset is not None:
        label, words = PRESET_WORDS[Preset(choices.preset)]
        lines.append(f"Permissions: {label.replace('&', '')}. {words}")
    if choices.retention is not None:
        lines.append(f"Memories kept: {lower_first(describe_retention(choices.retention))}.")
    return [*lines, *choices.notes]


class ReadyPage(OnboardingPage):
    """A summary of what was chosen; Finish applies it."""

    def __init__(
        self, choices: OnboardingChoices, persona_names: dict[str, str], parent: QWidget | None = None
    ) -> None:
        super().__init__(choices, parent)
        self.setObjectName("page_ready")
        self._names = persona_names
        self.setTitle("Ready")
        self.setSubTitle("Press Finish to use these choices. Cancel keeps Aether's safe defaults.")
        layout = QVBoxLayout(self)
        self.summary = text("", self, name="summary")
        layout.addWidget(self.summary)
        layout.addStretch(1)
        self.setFinalPage(True)

    def initializePage(self) -> None:
        """Show the choices as they stand now."""
        self.summary.setText("\n".join(f"• {line}" for line in summary_lines(self.choices, self._names)))
