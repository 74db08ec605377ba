"""What the Settings dialog shows: plain values, filled by the settings services.

They live in ``core`` because both ends use them: the dialog's pages (through
the ports of :mod:`aether_qt.widgets.settings.ports`) and the services of
:mod:`aether_qt.services.settings` that read the settings, which may not import
the widgets. A change that the service refuses raises :class:`SettingRefused`
with a sentence for the user; nothing is changed then.
"""

from __future__ import annotations

from dataclasses import dataclass

from aether_qt.core.errors import ExplainedError

RESTART_NOTE = "takes effect after restart"


class SettingRefused(ExplainedError):
    """A setting was not changed: bad input, or the policy refused it (the sentence says which)."""


@dataclass(frozen=True, slots=True)
class Option:
    """One entry of a list of choices: the stored value, the words shown, and whether it can be picked."""

    value: str
    label: str
    enabled: bool = True
    tooltip: str = ""


@dataclass(frozen=True, slots=True)
class GeneralView:
    """The persona in use and the spoken replies."""

    personas: tuple[Option, ...]
    active_persona: str
    speak: bool
    speak_typed: bool


@dataclass(frozen=True, slots=True)
class VoiceView:
    """Push-to-talk and speech recognition."""

    ptt_key: str  # as stored: Qt portable text, "Ctrl+Alt+Space", "F9" (engines/media/hotkey_spec.py)
    backend: str  # the stored choice: auto, x11, pynput, in-window
    backends: tuple[Option, ...]
    backend_in_use: str  # "" before voice has started
    stt_model: str  # the folder voice input uses ("" the default)
    stt_models: tuple[Option, ...]


@dataclass(frozen=True, slots=True)
class ModelView:
    """The local models and the one that answers."""

    models: tuple[Option, ...]
    active: str


@dataclass(frozen=True, slots=True)
class ProviderRow:
    """One remote provider as the Providers page lists it (never its key)."""

    name: str
    url: str
    model: str
    has_key: bool
    active: bool


@dataclass(frozen=True, slots=True)
class ProvidersView:
    """The remote providers, the active one and where turns may go."""

    providers: tuple[ProviderRow, ...]
    posture: str
    postures: tuple[Option, ...]


@dataclass(frozen=True, slots=True)
class PresetSummary:
    """What a permission preset lets Aether do, in the capabilities' own words."""

    allows: tuple[str, ...]
    asks: tuple[str, ...]
    never: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PermissionsView:
    """The preset, the approved folders and the pause switch."""

    preset: str
    presets: tuple[Option, ...]
    roots: tuple[str, ...]
    paused: bool


@dataclass(frozen=True, slots=True)
class MemoryView:
    """How long memories are kept."""

    retention: str
    choices: tuple[Option, ...]
