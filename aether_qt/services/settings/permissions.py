"""The Permissions and Memory pages: the preset, approved folders, pause, and how long memories stay.

Every policy change goes through the gate adapter exactly as ``aether policy
preset`` and ``aether policy roots`` do (:class:`GateOnBus`): persisted,
applied to the running gate, audited under its own change id and published on
the bus, so the trust centre and the banners follow without polling.
"""

from __future__ import annotations

from pathlib import Path

from aether_qt.core.settings_views import MemoryView, Option, PermissionsView, PresetSummary, SettingRefused
from aether_qt.engines.memory.retention import (
    FOREVER,
    RETENTION_CHOICES,
    SETTING_RETENTION,
    describe_retention,
    parse_retention,
)
from aether_qt.policy.capabilities import CAPABILITIES, Mode, Preset, preset_matrix
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.gate.gate_on_bus import GateOnBus

PRESET_WORDS = {
    Preset.OBSERVER: "Observer: looks and talks, asks before nearly everything",
    Preset.ASSISTANT: "Assistant: reads your folders, asks before changing anything",
    Preset.OPERATOR: "Operator: may run commands, each one asked",
    Preset.POWER_USER: "Power user: does more on its own within a task",
}
_ALLOWS = frozenset({Mode.AUTO, Mode.TASK})
_ASKS = frozenset({Mode.ASK, Mode.DRAFT})


def preset_summary(preset: Preset) -> PresetSummary:
    """What ``preset`` does on its own, asks first, and never does, in the capabilities' words."""
    allows, asks, never = [], [], []
    for cap_id, mode in preset_matrix(preset).items():
        words = CAPABILITIES[cap_id].description
        if mode in _ALLOWS:
            allows.append(words)
        elif mode in _ASKS:
            asks.append(f"{words} (a draft only)" if mode is Mode.DRAFT else words)
        else:
            never.append(words)
    return PresetSummary(tuple(allows), tuple(asks), tuple(never))


def folder_from_text(text: str) -> Path:
    """The absolute folder a user typed (``~`` expanded).

    Raises:
        SettingRefused: empty, or not an existing folder.
    """
    if not text.strip():
        raise SettingRefused("Type or choose a folder first.")
    path = Path(text.strip()).expanduser().absolute()
    if not path.is_dir():
        raise SettingRefused(f"{path} is not a folder on this computer.")
    return path


class PermissionsSettings:
    """The preset, the approved folders and the pause switch, through the gate adapter.

    Args:
        runtime: the app's policy runtime (reads the persisted values).
        controls: the gate adapter every change goes through (audited, published).
    """

    def __init__(self, *, runtime: PolicyRuntime, controls: GateOnBus) -> None:
        self._rt = runtime
        self._controls = controls

    def view(self) -> PermissionsView:
        """The preset in force, the presets to choose from, the folders and whether Aether is paused."""
        presets = tuple(Option(p.value, PRESET_WORDS[p]) for p in Preset)
        roots = tuple(str(root) for root in self._rt.approved_roots())
        return PermissionsView(self._rt.preset().value, presets, roots, self._controls.gate.paused)

    def summary(self, preset: str) -> PresetSummary:
        """What ``preset`` allows, asks and never does (shown before the user switches)."""
        return preset_summary(Preset.parse(preset))

    def set_preset(self, preset: str) -> str:
        """Switch preset (``aether policy preset NAME``): audited; its cascade withdraws grants.

        Raises:
            SettingRefused: not a preset.
        """
        try:
            chosen = Preset.parse(preset)
        except ValueError as exc:
            raise SettingRefused(str(exc).capitalize() + ".") from None
        if chosen is self._rt.preset():
            return f"{chosen.value} is already in force."
        revoked = self._controls.set_preset(chosen)
        return f"{chosen.value} is in force; {len(revoked)} earlier permission(s) withdrawn."

    def add_root(self, text: str) -> str:
        """Approve one more folder (``aether policy roots add PATH``), audited.

        Raises:
            SettingRefused: empty, not a folder, or already approved.
        """
        path = folder_from_text(text)
        current = list(self._rt.approved_roots())
        if path in current:
            raise SettingRefused(f"{path} is already approved.")
        self._controls.set_roots((*current, path))
        return f"Aether may now work in {path}."

    def remove_root(self, text: str) -> str:
        """Withdraw one folder (``aether policy roots remove PATH``), audited.

        Raises:
            SettingRefused: not an approved folder.
        """
        path = Path(text).expanduser().absolute()
        current = list(self._rt.approved_roots())
        if path not in current:
            raise SettingRefused(f"{path} is not an approved folder.")
        current.remove(path)
        revoked = self._controls.set_roots(tuple(current))
        note = "" if current else " With none left, Aether uses your home folder's usual places."
        return f"{path} removed; {len(revoked)} permission(s) withdrawn.{note}"

    def pause(self, paused: bool) -> str:
        """Pause or resume every action (the trust centre's switch), audited."""
        self._controls.pause(paused)
        return "Paused: Aether does nothing but talk." if paused else "Resumed."


class RetentionSettings:
    """How long memories are kept (``memory.retention``; a persona may only shorten it).

    Args:
        runtime: the app's policy runtime (its settings store).
    """

    def __init__(self, *, runtime: PolicyRuntime) -> None:
        self._rt = runtime

    def view(self) -> MemoryView:
        """The user's choice and the choices offered, in words."""
        current = self._rt.settings.get_as(SETTING_RETENTION, str, FOREVER)
        try:
            parse_retention(current)
        except ValueError:
            current = FOREVER  # what memory does with an unreadable value
        values = tuple(dict.fromkeys((*RETENTION_CHOICES, current)))
        return MemoryView(current, tuple(Option(v, describe_retention(v)) for v in values))

    def set_retention(self, value: str) -> str:
        """Keep memories ``value`` long from now on.

        Raises:
            SettingRefused: not a retention value.
        """
        try:
            words = describe_retention(value)
        except ValueError:
            raise SettingRefused(f"{value!r} is not a way of keeping memories.") from None
        self._rt.settings.set(SETTING_RETENTION, value)
        return f"Memories: {words.lower()}."
