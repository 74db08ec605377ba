"""A permission preset as three plain lists: what Aether can do, asks first, never does.

Computed from the policy tables (:func:`~aether_qt.policy.capabilities.preset_mode`)
so the wizard never promises what the gate would not do. Pure: no Qt.
"""

from __future__ import annotations

from dataclasses import dataclass

from aether_qt.policy.capabilities import CAPABILITIES, Mode, Preset, preset_mode

_CAN = (Mode.AUTO,)
_ASKS = (Mode.TASK, Mode.ASK, Mode.DRAFT)

PRESET_WORDS: dict[Preset, tuple[str, str]] = {  # (label with its mnemonic, one line)
    Preset.OBSERVER: ("&Observer", "Looks and suggests; asks before almost anything."),
    Preset.ASSISTANT: ("&Assistant (recommended)", "Everyday help; asks before changing your files."),
    Preset.OPERATOR: ("O&perator", "Can also run commands on this computer, always after asking."),
    Preset.POWER_USER: ("Po&wer user", "Fewer questions about changing files and downloading."),
}


PLAIN: dict[str, str] = {  # plainer words where the policy table's description is technical
    "shell.exec": "Run a command on this computer",
    "model.download": "Download a model (checked against its known fingerprint)",
    "router.remote_private": "Send your private things to a remote model",
    "audit.export": "Save a copy of the decision log",
    "persona.import": "Import a character card as a persona (kept untrusted)",
}


@dataclass(frozen=True, slots=True)
class PresetLists:
    """The descriptions of the capabilities a preset allows, asks about, and refuses."""

    can: tuple[str, ...]
    asks: tuple[str, ...]
    never: tuple[str, ...]


def preset_lists(preset: Preset) -> PresetLists:
    """Sort every capability of the policy tables into can / asks / never for ``preset``.

    A command in a consumer preset (Observer, Assistant) is never run, whatever the
    table says: the gate blocks it before the table is read.
    """
    can: list[str] = []
    asks: list[str] = []
    never: list[str] = []
    for cap_id, cap in CAPABILITIES.items():
        mode = preset_mode(preset, cap_id)
        if cap_id == "shell.exec" and preset.consumer:
            mode = Mode.BLOCK
        words = PLAIN.get(cap_id, cap.description)
        if mode in _CAN:
            can.append(words)
        elif mode in _ASKS:
            asks.append(words)
        else:
            never.append(words)
    return PresetLists(tuple(can), tuple(asks), tuple(never))
