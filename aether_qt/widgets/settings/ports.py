"""What the Settings dialog needs from the services, one small protocol per page.

The real implementations live in :mod:`aether_qt.services.settings` (the cost
caps reuse :class:`~aether_qt.widgets.ports.Costs`); the composition root
builds them and hands them over as :class:`SettingsPorts`. Every change method
applies the change (live where the running app can follow, else it says
"takes effect after restart"), persists it and returns a sentence for the
user; a refused change raises :class:`~aether_qt.core.errors.ExplainedError`
with the sentence, and nothing is changed. Policy changes go through the gate
and are audited by the service, never decided here.
"""

from __future__ import annotations

from typing import Protocol

from aether_qt.core.settings_views import (
    GeneralView,
    MemoryView,
    ModelView,
    PermissionsView,
    PresetSummary,
    ProvidersView,
    VoiceView,
)
from aether_qt.widgets.ports import Costs


class GeneralPort(Protocol):
    """The persona and spoken replies."""

    def view(self) -> GeneralView:
        """What is in force now."""
        ...

    def choose_persona(self, persona_id: str) -> str:
        """Switch persona (at the next turn boundary; audited)."""
        ...

    def set_speech(self, *, speak: bool, speak_typed: bool) -> str:
        """Speak replies, and replies to typed messages too."""
        ...


class VoicePort(Protocol):
    """Push-to-talk and the speech model."""

    def view(self) -> VoiceView:
        """What is stored and in use."""
        ...

    def set_ptt_key(self, key: str) -> str:
        """The push-to-talk key, as the capture field gives it ("Ctrl+Alt+Space", "F9")."""
        ...

    def set_backend(self, backend: str) -> str:
        """How the key is listened for."""
        ...

    def set_stt_model(self, folder: str) -> str:
        """The speech model folder (``""``: the default)."""
        ...


class ModelPort(Protocol):
    """The local model that answers."""

    def view(self) -> ModelView:
        """The registered models and the active one."""
        ...

    def use(self, model_id: str) -> str:
        """Answer with a registered model."""
        ...

    def add(self, path: str) -> str:
        """Register a GGUF file and answer with it."""
        ...


class ProvidersPort(Protocol):
    """Remote providers (keys in the keyring only) and the privacy posture."""

    def view(self) -> ProvidersView:
        """The providers, the active one, the posture."""
        ...

    def add(self, name: str, url: str, model: str, key: str) -> str:
        """Add a provider (its key goes to the keyring; ``""``: no key); the gate is asked."""
        ...

    def use(self, name: str) -> str:
        """Make ``name`` active (``""``: none)."""
        ...

    def remove(self, name: str) -> str:
        """Remove a provider, its key and its permissions."""
        ...

    def test(self, name: str) -> str:
        """Send one short request; what came back (blocks for the request)."""
        ...

    def set_posture(self, posture: str) -> str:
        """Where turns may go."""
        ...


class PermissionsPort(Protocol):
    """The preset, approved folders and pause (all audited through the gate)."""

    def view(self) -> PermissionsView:
        """What is in force."""
        ...

    def summary(self, preset: str) -> PresetSummary:
        """What a preset allows, asks and never does."""
        ...

    def set_preset(self, preset: str) -> str:
        """Switch preset."""
        ...

    def add_root(self, text: str) -> str:
        """Approve a folder."""
        ...

    def remove_root(self, text: str) -> str:
        """Withdraw a folder."""
        ...

    def pause(self, paused: bool) -> str:
        """Pause or resume every action."""
        ...


class MemoryPort(Protocol):
    """How long memories are kept."""

    def view(self) -> MemoryView:
        """The choice in force and the choices offered."""
        ...

    def set_retention(self, value: str) -> str:
        """Keep memories this long from now on."""
        ...


class SettingsPorts(Protocol):
    """Everything the dialog changes, one port per page (the services' bundle satisfies it)."""

    @property
    def general(self) -> GeneralPort:
        """The General page."""
        ...

    @property
    def voice(self) -> VoicePort:
        """The Voice page."""
        ...

    @property
    def model(self) -> ModelPort:
        """The Model page."""
        ...

    @property
    def providers(self) -> ProvidersPort:
        """The Providers page."""
        ...

    @property
    def permissions(self) -> PermissionsPort:
        """The Permissions page."""
        ...

    @property
    def memory(self) -> MemoryPort:
        """The Memory page."""
        ...

    @property
    def costs(self) -> Costs:
        """The Costs page."""
        ...
