"""The settings services assembled over one runtime: what the Settings dialog is given.

The composition root (:func:`aether_qt.app.build_settings_dialog`) calls
:func:`build_settings` with the running app's parts; the result satisfies the
dialog's :class:`~aether_qt.widgets.settings.ports.SettingsPorts`. Parts that
are not running yet (voice starts after the model has loaded) are passed as
getters, so the dialog applies a change live once they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aether_qt.core.bus import EventBus
from aether_qt.engines.media.stt import default_model_path
from aether_qt.engines.router.router import Router
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.gate.costs import CostsService
from aether_qt.services.gate.gate_on_bus import GateOnBus
from aether_qt.services.settings.models import ModelSettings
from aether_qt.services.settings.permissions import PermissionsSettings, RetentionSettings
from aether_qt.services.settings.providers import ProvidersSettings
from aether_qt.services.settings.voice import GeneralSettings, PersonaChooser, VoiceControl, VoiceSettings


@dataclass(frozen=True, slots=True)
class SettingsServices:
    """One service per page of the Settings dialog."""

    general: GeneralSettings
    voice: VoiceSettings
    model: ModelSettings
    providers: ProvidersSettings
    permissions: PermissionsSettings
    memory: RetentionSettings
    costs: CostsService


def build_settings(
    *,
    runtime: PolicyRuntime,
    models_dir: Path,
    bus: EventBus | None = None,
    personas: PersonaChooser | None = None,
    voice: Callable[[], VoiceControl | None] = lambda: None,
    use_model: Callable[[str], None] | None = None,
    reload_remote: Callable[[], None] | None = None,
    router: Router | None = None,
) -> SettingsServices:
    """The settings services over ``runtime`` (policy changes published on ``bus`` when given).

    Args:
        runtime: the app's policy runtime.
        models_dir: the home's models folder (GGUF registry, speech model folders).
        bus: the app's bus (None: a throw-away one, as the commands use).
        personas: the persona service (None: the persona cannot change).
        voice: the running voice host, or None before it started.
        use_model: loads a model in the running app (None: after restart).
        reload_remote: rebuilds the router's remote tier (None: after restart).
        router: the router the Costs page's remote view describes.
    """
    controls = GateOnBus(runtime=runtime, bus=bus or EventBus())
    return SettingsServices(
        general=GeneralSettings(runtime=runtime, personas=personas, voice=voice),
        voice=VoiceSettings(
            runtime=runtime, models_dir=models_dir, voice=voice, default_stt=default_model_path()
        ),
        model=ModelSettings(runtime=runtime, models_dir=models_dir, use_model=use_model),
        providers=ProvidersSettings(runtime=runtime, controls=controls, reload_remote=reload_remote),
        permissions=PermissionsSettings(runtime=runtime, controls=controls),
        memory=RetentionSettings(runtime=runtime),
        costs=CostsService(runtime=runtime, router=router),
    )
