"""Text to speech with pyttsx3: one sentence, one WAV clip (DESIGN.md §8).

pyttsx3's ``runAndWait`` must always run on the thread that created the engine
(TESTING.md, "Traps seen"), so :class:`Speaker` owns one plain Python thread
that creates the engine (espeak-ng on Linux) and keeps it for its whole life;
every request is a job on that thread's queue and comes back as a
:class:`concurrent.futures.Future`. A job writes the sentence to a WAV with
``save_to_file`` (headless: no sound server needed), then reads it back for its
duration and the 60 Hz loudness envelope that moves the avatar's mouth.

espeak-ng needs two workarounds (see :mod:`~.pyttsx3_driver`): each sentence
waits for espeak's own queue to drain, or settings and clips come out of order.

Clips go to a folder the caller chooses (the app's cache folder: the runtime
guard allows writes there); pyttsx3 writes the file itself, this module only
deletes it again when asked not to keep it (the app never keeps one). When no
engine can be created, :meth:`Speaker.start` raises :class:`TtsUnavailable` and
the app stays text only.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aether_qt.engines.media.audio import WavAudio
from aether_qt.engines.media.pyttsx3_driver import create_engine, engine_defaults, espeak_flush
from aether_qt.engines.media.voices import VoiceInfo, VoiceSettings, select_voice, voice_info
from aether_qt.policy.contracts import Clock, SystemClock
from aether_qt.policy.effects import remove_own_file

__all__ = ["Speaker", "SynthResult", "TtsError", "TtsUnavailable"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

# espeak-ng is one synthesiser per process behind a global callback, and pyttsx3.init() hands
# every caller the same engine object: two Speakers must not drive it at the same time.
_ENGINE_LOCK = threading.Lock()
_START_TIMEOUT_S = 15.0


class TtsUnavailable(Exception):
    """No speech engine can be used (pyttsx3 or espeak-ng missing, or the engine fails to start)."""


class TtsError(Exception):
    """One synthesis failed (unwritable folder, existing target, no audio produced)."""


@dataclass(frozen=True, slots=True)
class SynthResult:
    """One synthesised clip.

    Attributes:
        text: the sentence spoken.
        path: the WAV file.
        duration_s: its length in seconds.
        sample_rate: its rate in Hz.
        envelope: loudness per 1/60 s, 0..1 (see :func:`~.audio.rms_envelope`).
        synth_s: seconds the engine took.
        voice_id: the voice used.
        audio: the samples, when the file was removed right after reading (``path`` is then gone).
    """

    text: str
    path: Path
    duration_s: float
    sample_rate: int
    envelope: tuple[float, ...]
    synth_s: float
    voice_id: str
    audio: WavAudio | None = None


@dataclass(slots=True)
class _Job:
    run: Callable[[Any], Any]
    future: Future[Any]


class Speaker:
    """Owns the TTS engine on one dedicated thread; jobs come back as futures.

    ``start`` and ``stop`` belong to the owner; ``synthesize`` and ``voices`` may be
    called from any thread.
    """

    def __init__(
        self,
        *,
        driver: str = "espeak",
        defaults: VoiceSettings | None = None,
        engine_factory: Callable[[], Any] | None = None,
        clock: Clock | None = None,
    ) -> None:
        """Prepare the speaker; nothing runs before :meth:`start`.

        Args:
            driver: the pyttsx3 driver name (``espeak`` on Linux).
            defaults: voice settings used when a job gives none.
            engine_factory: creates the engine on the speaker thread (tests pass a fake).
            clock: measures ``synth_s``.
        """
        self._factory = engine_factory or (lambda: create_engine(driver))
        self._driver = driver if engine_factory is None else ""
        self._flush: Callable[[], None] | None = None
        self._defaults = defaults or VoiceSettings()
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._init_error: TtsUnavailable | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._voices: tuple[VoiceInfo, ...] = ()
        self._engine_defaults: dict[str, Any] = {}

    @property
    def running(self) -> bool:
        """True while the speaker thread accepts jobs."""
        return self._thread is not None and self._thread.is_alive() and not self._closed

    @property
    def thread_ident(self) -> int | None:
        """The speaker thread's ident (None before :meth:`start`)."""
        return self._thread.ident if self._thread is not None else None

    def start(self, timeout: float = _START_TIMEOUT_S) -> None:
        """Start the thread and wait until the engine is ready (idempotent).

        Raises:
            TtsUnavailable: the engine could not be created (or did not start in ``timeout`` s).
        """
        if self._closed:
            raise TtsUnavailable("the speaker was stopped")
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="aether-tts", daemon=True)
            self._thread.start()
        if not self._ready.wait(timeout):
            raise TtsUnavailable(f"the speech engine did not start within {timeout:g} s")
        if self._init_error is not None:
            raise self._init_error

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the running job, cancel the queued ones and join the thread (idempotent)."""
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is None or not thread.is_alive():
                return
            self._jobs.put(None)
        if threading.current_thread() is not thread:
            thread.join(timeout)
            if thread.is_alive():
                _log.warning("the TTS thread did not stop within %.1f s", timeout)

    def voices(self) -> list[VoiceInfo]:
        """The engine's voices, read on the speaker thread when it started.

        Raises:
            TtsUnavailable: the speaker was not started, or its engine failed.
        """
        if not self._ready.is_set():
            raise TtsUnavailable("the speaker is not started")
        if self._init_error is not None:
            raise self._init_error
        return list(self._voices)

    def synthesize(
        self, text: str, out_path: Path, *, voice: VoiceSettings | None = None, keep_file: bool = True
    ) -> Future[SynthResult]:
        """Queue ``text`` to be spoken into a new WAV at ``out_path``.

        With ``keep_file=False`` the clip is read back and deleted at once, and the
        result carries the samples: a sentence of a reply (memory text, often) is
        never left on disk (the app's speech queue asks for this).

        The future fails with :class:`TtsError` when the folder is not writable, the
        file exists already, or no audio came out; with :class:`TtsUnavailable` when
        the speaker is not running.

        Raises:
            ValueError: ``text`` is blank.
        """
        if not text.strip():
            raise ValueError("nothing to say")
        settings = voice or self._defaults
        target = Path(out_path)
        return self._submit(lambda engine: self._synthesize(engine, text, target, settings, keep_file))

    # ------------------------------------------------------------------ the speaker thread

    def _submit(self, run: Callable[[Any], _T]) -> Future[_T]:
        future: Future[_T] = Future()
        with self._lock:
            if not self.running or self._init_error is not None:
                future.set_exception(self._init_error or TtsUnavailable("the speaker is not running"))
                return future
            self._jobs.put(_Job(run=run, future=future))
        return future

    def _run(self) -> None:
        try:
            engine = self._factory()
            self._flush = espeak_flush() if self._driver == "espeak" else None
            self._voices = tuple(voice_info(v) for v in engine.getProperty("voices") or [])
            self._engine_defaults = engine_defaults(engine)
        except Exception as exc:  # any failure of a third-party engine means "no TTS"
            _log.warning("no text-to-speech engine: %s", exc)
            self._init_error = TtsUnavailable(f"the speech engine cannot start ({exc})")
            self._ready.set()
            return
        self._ready.set()
        while (job := self._jobs.get()) is not None:
            if self._closed:
                _drop(job)
                continue
            if not job.future.set_running_or_notify_cancel():
                continue
            try:
                with _ENGINE_LOCK:
                    result = job.run(engine)
            except Exception as exc:
                job.future.set_exception(exc)
            else:
                job.future.set_result(result)
        while True:  # jobs queued after the stop sentinel (none, thanks to the lock, but be sure)
            try:
                late = self._jobs.get_nowait()
            except queue.Empty:
                return
            if late is not None:
                _drop(late)

    def _synthesize(
        self, engine: Any, text: str, target: Path, settings: VoiceSettings, keep_file: bool
    ) -> SynthResult:
        from aether_qt.engines.media.audio import WavError, read_wav, rms_envelope

        folder = target.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise TtsError(f"cannot write speech clips into {folder}")
        if target.exists():
            raise TtsError(f"{target} already exists")
        voice_id = self._apply(engine, settings)
        begun = self._clock.monotonic_ns()
        if self._flush is not None:
            self._flush()  # the settings above are applied before this sentence starts
        engine.save_to_file(text, str(target))
        engine.runAndWait()
        if self._flush is not None:
            self._flush()  # the WAV is complete
        synth_s = (self._clock.monotonic_ns() - begun) / 1e9
        try:
            audio = read_wav(target)
        except WavError as exc:
            raise TtsError(f"the speech engine produced no clip: {exc}") from None
        finally:
            if not keep_file:
                remove_own_file(target, root=folder)
        return SynthResult(
            text=text,
            path=target,
            duration_s=audio.duration_s,
            sample_rate=audio.rate,
            envelope=tuple(rms_envelope(audio.samples, audio.rate)),
            synth_s=synth_s,
            voice_id=voice_id,
            audio=None if keep_file else audio,
        )

    def _apply(self, engine: Any, settings: VoiceSettings) -> str:
        """Set voice, rate, pitch and volume for one job (engine defaults where unset)."""
        chosen = select_voice(self._voices, settings.voice_hint)
        wanted = {
            "voice": chosen.id if chosen is not None else self._engine_defaults.get("voice"),
            "rate": settings.rate if settings.rate is not None else self._engine_defaults.get("rate"),
            "pitch": settings.pitch if settings.pitch is not None else self._engine_defaults.get("pitch"),
            "volume": settings.volume if settings.volume is not None else self._engine_defaults.get("volume"),
        }
        for name, value in wanted.items():
            if value is None:
                continue
            try:
                engine.setProperty(name, value)
            except (KeyError, ValueError) as exc:  # e.g. no pitch on this driver, unknown voice
                _log.debug("tts: cannot set %s=%r: %s", name, value, exc)
        return str(wanted["voice"] or "")


def _drop(job: _Job) -> None:
    """Cancel a job the stopped speaker will not run."""
    job.future.cancel()
