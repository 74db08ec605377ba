"""Building the wizard's voice and model pages over their ports (what the composition root calls).

``build_media_pages(choices, media_ports(runtime))`` with
:func:`aether_qt.services.onboarding_media.media.media_ports`: the app hands the
service in, the pages only see the ports.
"""

from __future__ import annotations

from aether_qt.engines.media.hotkeys import DEFAULT_KEY
from aether_qt.widgets.onboarding.choices import OnboardingChoices
from aether_qt.widgets.onboarding.media_ports import MediaPorts
from aether_qt.widgets.onboarding.model_page import ModelPage
from aether_qt.widgets.onboarding.voice_page import VoicePage


def build_media_pages(
    choices: OnboardingChoices, ports: MediaPorts, *, ptt_key: str = DEFAULT_KEY, remote: bool = True
) -> tuple[VoicePage, ModelPage]:
    """The voice page and the model page, collecting into ``choices``."""
    voice = VoicePage(choices, mic=ports, speech=ports, ptt_key=ptt_key)
    model = ModelPage(choices, sources=ports, remote=remote)
    return voice, model
