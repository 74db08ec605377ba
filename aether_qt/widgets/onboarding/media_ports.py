"""What the voice and model pages need from the services, as small protocols (the consumer owns its port).

The pages never import a service: the composition root hands them an object
that satisfies :class:`MediaPorts` (the real one is
:class:`~aether_qt.services.onboarding_media.media.OnboardingMedia`), and the
GUI tests drive the same pages over that real object. Every callback a port
takes is called on the GUI thread; slow work (a download, a connection test)
runs on the port's own worker thread and never blocks the page.

Nothing here changes anything persistent but the two acts that must happen on
the page, each the user's explicit act through the gate: the microphone test
(``media.mic``, allowed once for the test) and a consented download
(``model.download`` into the app's own models folder). Registering a model,
choosing the speech model, saving a remote provider and putting its key in
the keyring happen at Finish.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from aether_qt.core.media_offers import CatalogueOffer, DownloadResult, RemoteDraft, SpeechModelState
from aether_qt.widgets.onboarding.choices import ModelChoice, ModelKind

Progress = Callable[[int, "int | None"], None]
"""``progress(done_bytes, total_bytes_or_None)``, on the GUI thread."""


Finished = Callable[[DownloadResult], None]


class Download(Protocol):
    """A download under way."""

    def cancel(self) -> None:
        """Stop it soon (the partial file is kept, so trying again resumes it)."""
        ...


@dataclass(frozen=True, slots=True)
class RemoteModelChoice(ModelChoice):
    """A :class:`ModelChoice` of kind ``REMOTE`` with the endpoint to save at Finish."""

    remote: RemoteDraft = field(default_factory=lambda: RemoteDraft("", "", ""))


def remote_choice(draft: RemoteDraft) -> RemoteModelChoice:
    """The model choice that stands for ``draft``."""
    return RemoteModelChoice(kind=ModelKind.REMOTE, name=draft.name, remote=draft)


class MicTest(Protocol):
    """The microphone test: the default microphone opened for the test only."""

    def start_mic_test(self, level: Callable[[float], None], problem: Callable[[str], None]) -> None:
        """Open the microphone (the user's act, through the gate); ``level(rms)`` per chunk.

        ``problem(words)`` says why it cannot (not allowed, no microphone, the device failed).
        """
        ...

    def stop_mic_test(self) -> None:
        """Close the microphone (idempotent)."""
        ...


class SpeechModels(Protocol):
    """The English speech model."""

    def speech_model(self) -> SpeechModelState:
        """What is installed and what a download would fetch (fast: folders are checked, nothing loads)."""
        ...

    def fetch_speech_model(self, progress: Progress, finished: Finished) -> Download:
        """Download (with the user's consent: they pressed the button), verify and unpack it."""
        ...


class ModelSources(Protocol):
    """Where the language model can come from."""

    def bundled_model(self) -> str:
        """A sentence about the bundled model ("" when it is not installed)."""
        ...

    def check_gguf(self, path: Path) -> str:
        """Why ``path`` is not a usable GGUF model, in plain words; "" when it is."""
        ...

    def catalogue(self) -> list[CatalogueOffer]:
        """The catalogue models measured against this machine."""
        ...

    def fetch_catalogue_model(self, name: str, progress: Progress, finished: Finished) -> Download:
        """Download catalogue model ``name`` (the user's consent), hash checked, into the models folder."""
        ...

    def test_remote(self, draft: RemoteDraft, finished: Callable[[bool, str], None]) -> None:
        """Send the endpoint one tiny request; ``finished(ok, words)`` says what came back."""
        ...


class MediaPorts(MicTest, SpeechModels, ModelSources, Protocol):
    """Everything the two pages need, in one object."""


__all__ = [
    "CatalogueOffer",
    "Download",
    "DownloadResult",
    "Finished",
    "MediaPorts",
    "MicTest",
    "ModelSources",
    "Progress",
    "RemoteDraft",
    "RemoteModelChoice",
    "SpeechModelState",
    "SpeechModels",
    "remote_choice",
]
