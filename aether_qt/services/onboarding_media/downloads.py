"""Consented downloads for the wizard: one job at a time on a worker thread, with progress and cancel.

A download is the gated ``model.download`` of a URL into the app's own models
folder, the user's act (they pressed "Download" after reading its size), run
by :meth:`Effectors.download` exactly as ``aether models fetch`` runs it:
streamed to a ``.part`` file, resumed after an interruption, renamed into
place only when the SHA-256 is the pinned one. Progress comes back to the GUI
thread as queued signals; cancelling raises inside the progress callback, which
stops the transfer at the next chunk and keeps the part file for a later try.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from aether_qt.core.media_offers import DownloadResult
from aether_qt.core.qt_threads import WorkerThread
from aether_qt.policy.decisions import Allow
from aether_qt.policy.effect_types import EffectError, FetchError, HashMismatchError
from aether_qt.policy.effects import Effectors
from aether_qt.services.onboarding_media.gate_acts import GateLike, allow_once, refusal_words

_log = logging.getLogger(__name__)
Progress = Callable[[int, "int | None"], None]
Finished = Callable[[DownloadResult], None]
DOWNLOAD_STOP_MS = 10_000


class Cancelled(Exception):
    """The user cancelled the download (raised inside the progress callback)."""


@dataclass(frozen=True, slots=True)
class DownloadSpec:
    """What to fetch: from ``url`` to ``dest`` if its hash is ``sha256``, then ``after(path)`` (unpacking)."""

    url: str
    dest: Path
    sha256: str
    what: str  # "the speech model", for sentences
    after: Callable[[Path], Path] | None = None


class DownloadJob(QObject):
    """One download as the page sees it: progress and the end arrive on the GUI thread.

    Signals:
        sig_progressed(object, object): bytes done, total bytes or None (emitted by the worker).
        sig_finished(object): the :class:`DownloadResult`.
    """

    sig_progressed = Signal(object, object)
    sig_finished = Signal(object)

    def __init__(self, progress: Progress, finished: Finished) -> None:
        super().__init__()
        self.cancelled = threading.Event()
        self.result: DownloadResult | None = None
        self._progress, self._finished = progress, finished
        self.sig_progressed.connect(self._on_self_progressed)

    def cancel(self) -> None:
        """Stop at the next chunk (the part file stays for a later try)."""
        self.cancelled.set()

    def report(self, done: int, total: int | None) -> None:
        """The effector's progress callback (worker thread): raises :class:`Cancelled` once cancelled."""
        if self.cancelled.is_set():
            raise Cancelled
        self.sig_progressed.emit(done, total)

    @Slot(object, object)
    def _on_self_progressed(self, done: int, total: int | None) -> None:
        if self.result is None:
            self._progress(done, total)

    def finish(self, result: DownloadResult) -> None:
        """Deliver the result once (GUI thread)."""
        if self.result is None:
            self.result = result
            self._finished(result)


def _problem(spec: DownloadSpec, exc: Exception) -> str:
    """What went wrong with ``spec``'s download, for the user."""
    if isinstance(exc, HashMismatchError):
        return f"The download of {spec.what} was not the expected file, so it was deleted. Try again later."
    if isinstance(exc, FetchError):  # its text may name a library's exception: not for the user
        _log.info("downloading %s failed: %s", spec.what, exc)
        return (
            f"Could not download {spec.what}: the server could not be reached or refused it. "
            "Check the internet connection, then press Download again: it picks up where it stopped."
        )
    _log.warning("downloading %s failed: %s", spec.what, exc)
    return f"Could not download {spec.what}: {exc}"


def _fetch(gate: GateLike, effectors: Effectors, spec: DownloadSpec, job: DownloadJob) -> DownloadResult:
    """Run in the worker thread: ask the gate, download, verify, then ``spec.after``."""
    if job.cancelled.is_set():
        return DownloadResult(cancelled=True)
    decision = allow_once(gate, "model.download", spec.url, target=str(spec.dest))
    if not isinstance(decision, Allow):
        return DownloadResult(problem=refusal_words(decision, f"downloading {spec.what}"))
    try:
        spec.dest.parent.mkdir(parents=True, exist_ok=True)
        path = effectors.download(
            decision.permit, spec.url, spec.dest, sha256=spec.sha256, progress=job.report
        )
        return DownloadResult(path=spec.after(path) if spec.after is not None else path)
    except Cancelled:
        return DownloadResult(cancelled=True)
    except (EffectError, OSError, ValueError) as exc:
        return DownloadResult(problem=_problem(spec, exc))


class Downloader(QObject):
    """Runs downloads on its own thread, one after another (build it on the GUI thread).

    Args:
        gate: decides ``model.download`` for the user.
        effectors: the current effectors (read when a download starts).
    """

    def __init__(self, *, gate: GateLike, effectors: Callable[[], Effectors]) -> None:
        super().__init__()
        self._gate, self._effectors = gate, effectors
        self._thread = WorkerThread("aether-download", stop_timeout_ms=DOWNLOAD_STOP_MS, parent=self)
        self._jobs: list[DownloadJob] = []

    def start(self, spec: DownloadSpec, progress: Progress, finished: Finished) -> DownloadJob:
        """Queue ``spec``; ``progress`` and ``finished`` are called on this (the GUI) thread."""
        job = DownloadJob(progress, finished)
        self._jobs.append(job)
        if not self._thread.running:
            self._thread.start()
        gate, effectors = self._gate, self._effectors()

        def done(result: DownloadResult) -> None:
            self._jobs.remove(job)
            job.finish(result)

        def failed(exc: Exception) -> None:
            _log.error("a download job failed", exc_info=exc)
            self._jobs.remove(job)
            job.finish(DownloadResult(problem=f"Could not download {spec.what}: something went wrong."))

        self._thread.call(lambda: _fetch(gate, effectors, spec, job), done, failed, receiver=job)
        return job

    def close(self) -> None:
        """Cancel what runs and end the thread (idempotent)."""
        for job in self._jobs:
            job.cancel()
        self._thread.stop()
