"""The real ports of the wizard's voice and model pages (see :mod:`aether_qt.widgets.onboarding.media_ports`).

:class:`OnboardingMedia` answers the pages from the engines (the speech-model
catalog, the GGUF checks, the chat-model catalogue and how each fits this
machine) and runs their acts through the gate on worker threads: the
microphone test (:mod:`.mic_test`), the downloads (:mod:`.downloads`) and the
remote connection test (:mod:`.remote`). The lead builds it with
:func:`media_ports` and calls :meth:`OnboardingMedia.close` when the wizard
closes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject

from aether_qt.core.media_offers import CatalogueOffer, RemoteDraft, SpeechModelState
from aether_qt.core.qt_threads import WorkerThread
from aether_qt.engines.media.stt import default_model_path, looks_like_model
from aether_qt.engines.media.stt_models import CATALOG, SttModelSpec, UnpackError, unpack
from aether_qt.engines.router.catalogue import (
    CatalogueError,
    CatalogueModel,
    fit,
    load_catalogue,
    probe_machine,
    recommend,
)
from aether_qt.engines.router.gguf import ModelFileError, read_header
from aether_qt.engines.router.models import bundled_source
from aether_qt.policy.effects import url_parts
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.onboarding_media.downloads import (
    Downloader,
    DownloadJob,
    DownloadSpec,
    Finished,
    Progress,
)
from aether_qt.services.onboarding_media.gate_acts import GateLike
from aether_qt.services.onboarding_media.mic_test import MicTester
from aether_qt.services.onboarding_media.remote import test_connection

_log = logging.getLogger(__name__)
ENGLISH = "vosk-en-small"
REMOTE_STOP_MS = 8000


def _unpack(archive: Path, stt_dir: Path, folder: str) -> Path:
    try:
        return unpack(archive, stt_dir, folder)
    except UnpackError as exc:
        raise ValueError(f"the archive is not a usable speech model ({exc})") from None


class OnboardingMedia(QObject):
    """The pages' ports over one policy runtime (build it on the GUI thread).

    Args:
        runtime: the app's policy runtime (its gate, effectors, models folder).
        gate: the gate the acts go through (default: the runtime's; the app passes the
            gate publishing on its bus).
        speech_model: the speech model to offer (default: the English one of the catalog;
            tests pass a copy whose URL is their own server on 127.0.0.1).
        catalogue: the chat models to offer (default: the packaged catalogue).
        mic_device: the microphone to test (None: the system default).
    """

    def __init__(
        self,
        *,
        runtime: PolicyRuntime,
        gate: GateLike | None = None,
        speech_model: SttModelSpec | None = None,
        catalogue: Sequence[CatalogueModel] | None = None,
        mic_device: str | None = None,
    ) -> None:
        super().__init__()
        self._runtime = runtime
        self._gate: GateLike = gate if gate is not None else runtime.gate
        self._speech = speech_model or CATALOG[ENGLISH]
        self._catalogue = list(catalogue) if catalogue is not None else None
        effectors = lambda: runtime.effectors  # noqa: E731 -- read at each act: the runtime may rebuild them
        self._mic = MicTester(gate=self._gate, effectors=effectors, device=mic_device)
        self._downloads = Downloader(gate=self._gate, effectors=effectors)
        self._remote = WorkerThread("aether-remote-test", stop_timeout_ms=REMOTE_STOP_MS, parent=self)

    @property
    def models_dir(self) -> Path:
        """The app's models folder (downloads land under it)."""
        return self._runtime.paths.models_dir

    def close(self) -> None:
        """Stop the microphone, cancel downloads and end the worker threads (idempotent)."""
        self._mic.close()
        self._downloads.close()
        self._remote.stop()

    # ------------------------------------------------------------------ the voice page

    def start_mic_test(self, level: Callable[[float], None], problem: Callable[[str], None]) -> None:
        """Open the microphone for the test (see :class:`MicTester`)."""
        self._mic.start(level, problem)

    def stop_mic_test(self) -> None:
        """Close the microphone."""
        self._mic.stop()

    def speech_model(self) -> SpeechModelState:
        """The English model if it is already unpacked in the models folder, else what a download brings."""
        spec = self._speech
        folder = self.models_dir / "stt" / spec.folder
        packaged = default_model_path(None)
        note = "The Korean speech model is installed with Aether." if packaged is not None else ""
        installed = folder if looks_like_model(folder) else None
        host = url_parts(spec.url).hostname or ""
        return SpeechModelState(
            installed=installed, size_mb=spec.size_mb, language=spec.language, host=host, note=note
        )

    def fetch_speech_model(self, progress: Progress, finished: Finished) -> DownloadJob:
        """Download the English model, verify it and unpack it into ``models/stt`` (no setting changes)."""
        spec = self._speech
        stt_dir = self.models_dir / "stt"
        download = DownloadSpec(
            url=spec.url,
            dest=stt_dir / f"{spec.folder}.zip",
            sha256=spec.sha256,
            what="the speech model",
            after=lambda archive: _unpack(archive, stt_dir, spec.folder),
        )
        return self._downloads.start(download, progress, finished)

    # ------------------------------------------------------------------ the model page

    def bundled_model(self) -> str:
        """A sentence about the bundled model ("" when its package is not installed)."""
        try:
            source = bundled_source()
        except ModelFileError:
            return ""
        size = source.stat().st_size / 1e6
        return f"SmolLM2 135M, {size:.0f} MB, already on this computer: quick, for simple chat."

    def check_gguf(self, path: Path) -> str:
        """Why ``path`` cannot be used, in plain words ("" when its header and size check out)."""
        try:
            read_header(path)
        except ModelFileError as exc:
            return f"This file cannot be used: {exc.problem}."
        return ""

    def _models(self) -> list[CatalogueModel]:
        if self._catalogue is not None:
            return self._catalogue
        try:
            return load_catalogue()
        except CatalogueError as exc:
            _log.error("%s", exc)
            return []

    def catalogue(self) -> list[CatalogueOffer]:
        """The catalogue measured against this machine, the recommended one marked."""
        machine = probe_machine()
        fits = [fit(m, machine) for m in self._models()]
        best = recommend(fits)
        gguf = self.models_dir / "gguf"
        return [
            CatalogueOffer(
                name=f.model.name,
                title=f.model.title,
                size_bytes=f.model.size_bytes,
                memory=f.memory,
                speed=f.speed,
                licence=f.model.licence,
                recommended=f is best,
                downloaded=(gguf / f.model.file) if (gguf / f.model.file).is_file() else None,
            )
            for f in fits
        ]

    def fetch_catalogue_model(self, name: str, progress: Progress, finished: Finished) -> DownloadJob:
        """Download catalogue model ``name`` into ``models/gguf`` (registered at Finish)."""
        model = next((m for m in self._models() if m.name == name), None)
        if model is None:
            raise KeyError(name)
        download = DownloadSpec(
            url=model.url, dest=self.models_dir / "gguf" / model.file, sha256=model.sha256, what=model.title
        )
        return self._downloads.start(download, progress, finished)

    def test_remote(self, draft: RemoteDraft, finished: Callable[[bool, str], None]) -> None:
        """Send the endpoint one tiny request on a worker thread; ``finished(ok, words)`` on this thread."""
        if not self._remote.running:
            self._remote.start()
        gate, effectors = self._gate, self._runtime.effectors

        def failed(exc: Exception) -> None:
            _log.error("the connection test failed", exc_info=exc)
            finished(False, "FAILED: something went wrong while testing.")

        owner = getattr(finished, "__self__", None)  # a page that is gone gets no reply
        self._remote.call(
            lambda: test_connection(gate, effectors, draft),
            lambda outcome: finished(*outcome),
            failed,
            receiver=owner if isinstance(owner, QObject) else self,
        )


def media_ports(runtime: PolicyRuntime, *, gate: GateLike | None = None) -> OnboardingMedia:
    """The real ports of the voice and model pages (hand them to ``build_media_pages``)."""
    return OnboardingMedia(runtime=runtime, gate=gate)
