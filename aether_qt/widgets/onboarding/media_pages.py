"""Building the wizard's voice and model pages over their ports (what the composition root calls).

``build_media_pages(choices, ports)`` with ``ports =
media_ports(runtime, gate=...)`` from
:mod:`aether_qt.services.onboarding_media.media`: the app hands the service in,
the pages only see the ports; ``ports.close()`` when the wizard closes (it stops
the microphone, cancels a download and ends the worker threads).

What Finish does with what these pages collected:

- ``voice``, ``ptt_key`` (a ``QKeySequence`` portable string such as
  ``"Ctrl+Alt+Space"`` or ``"F9"``), ``speak_replies``, ``stt_model`` (the
  unpacked model folder, when one is installed): the ``voice.*`` settings;
- ``model``: for ``GGUF`` and ``CATALOGUE``,
  :func:`~aether_qt.services.onboarding_media.finish.register_model` returns the
  model id to store as the chosen model; a
  :class:`~aether_qt.widgets.onboarding.media_ports.RemoteModelChoice` goes to
  :func:`~aether_qt.services.onboarding_media.remote.save_remote_provider` (the
  key to the keyring only, the user's grant, the provider active).
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
