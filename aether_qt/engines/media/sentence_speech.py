"""Speaking a reply sentence by sentence, in order, with barge-in (DESIGN.md §7, §8).

The router's sentence splitter yields sentences while the model is still
generating. :class:`SpeechQueue` sends each one to the speaker at once, so
the first clip is ready as early as possible, and hands finished clips to the
player strictly in sentence order, even when a later sentence finishes
synthesising first. A sentence whose synthesis fails is reported and skipped;
it never holds back the ones after it.

:meth:`SpeechQueue.cancel` is the barge-in: every sentence not yet handed to
the player is dropped (queued synthesis is cancelled, late results are
ignored) and the optional ``on_cancel`` hook (stop the player) runs; the
report says how long all of that took, against the 150 ms budget.

Pure Python: no Qt, no I/O of its own. Completions arrive on the speaker's
thread; the callbacks run there, so they should only hand the clip on (emit a
queued signal) and return.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aether_qt.engines.media.tts import SynthResult
from aether_qt.engines.media.voices import VoiceSettings
from aether_qt.policy.contracts import Clock, SystemClock

__all__ = ["CancelReport", "SpeechQueue", "SynthBackend"]

_log = logging.getLogger(__name__)


class SynthBackend(Protocol):
    """What the queue needs from a speaker (:class:`~.tts.Speaker` satisfies it)."""

    def synthesize(
        self, text: str, out_path: Path, *, voice: VoiceSettings | None = None, keep_file: bool = True
    ) -> Future[SynthResult]:
        """Synthesise ``text`` into a new WAV at ``out_path`` (deleted once read unless ``keep_file``)."""
        ...


@dataclass(frozen=True, slots=True)
class CancelReport:
    """What a barge-in dropped and how long it took.

    Attributes:
        dropped: sentences that were submitted but never handed to the player.
        elapsed_ms: time spent in :meth:`SpeechQueue.cancel`, ``on_cancel`` included.
    """

    dropped: int
    elapsed_ms: float


class SpeechQueue:
    """Sentences in, clips out in sentence order; thread-safe.

    Each :meth:`cancel` starts a new generation: results of older generations are
    ignored whenever they arrive.
    """

    def __init__(
        self,
        *,
        speaker: SynthBackend,
        clip_dir: Path,
        on_clip: Callable[[SynthResult], None],
        on_error: Callable[[str, BaseException], None] | None = None,
        on_cancel: Callable[[], None] | None = None,
        voice: VoiceSettings | None = None,
        clock: Clock | None = None,
        name_prefix: str | None = None,
    ) -> None:
        """Wire the queue; nothing is spoken before :meth:`submit`.

        Args:
            speaker: synthesises one sentence into a WAV file.
            clip_dir: folder for the clips (the app's cache folder).
            on_clip: receives each finished clip, in sentence order.
            on_error: receives the text and error of a sentence that could not be synthesised.
            on_cancel: runs inside :meth:`cancel` (stop the player).
            voice: the voice settings for every sentence (the persona's).
            clock: times :meth:`cancel`.
            name_prefix: clip file name prefix (default: random, so files never collide).
        """
        self._speaker = speaker
        self._clip_dir = Path(clip_dir)
        self._on_clip = on_clip
        self._on_error = on_error
        self._on_cancel = on_cancel
        self._voice = voice
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._prefix = name_prefix or uuid.uuid4().hex[:12]
        self._lock = threading.RLock()  # a callback may call back into the queue
        self._generation = 0
        self._next_index = 0  # the next sentence to submit
        self._next_out = 0  # the next sentence to hand to the player
        self._done: dict[int, SynthResult | None] = {}  # finished, not yet handed on (None = failed)
        self._futures: dict[int, Future[SynthResult]] = {}

    @property
    def voice(self) -> VoiceSettings | None:
        """The voice settings for sentences submitted from now on."""
        return self._voice

    @voice.setter
    def voice(self, value: VoiceSettings | None) -> None:
        self._voice = value

    @property
    def pending(self) -> int:
        """Sentences submitted but not yet handed to the player (or skipped)."""
        with self._lock:
            return self._next_index - self._next_out

    def submit(self, sentence: str) -> int:
        """Send ``sentence`` to the speaker now; return its index in this generation.

        Blank sentences are ignored (the index of the next real one is returned, unused).
        """
        with self._lock:
            index = self._next_index
            if not sentence.strip():
                return index
            self._next_index += 1
            generation = self._generation
            path = self._clip_dir / f"{self._prefix}-{generation}-{index:04d}.wav"
            try:
                future = self._speaker.synthesize(sentence, path, voice=self._voice, keep_file=False)
            except Exception as exc:  # a speaker that refuses at once is a failed sentence too
                future = Future()
                future.set_exception(exc)
            self._futures[index] = future
        future.add_done_callback(lambda f: self._on_done(generation, index, sentence, f))
        return index

    def cancel(self) -> CancelReport:
        """Barge-in: drop every sentence not yet handed on, run ``on_cancel``, report the time."""
        begun = self._clock.monotonic_ns()
        with self._lock:
            dropped = self._next_index - self._next_out
            futures = list(self._futures.values())
            self._generation += 1
            self._next_index = self._next_out = 0
            self._done.clear()
            self._futures.clear()
        for future in futures:
            future.cancel()  # only queued jobs can be cancelled; a running one is ignored later
        if self._on_cancel is not None:
            self._on_cancel()
        elapsed_ms = (self._clock.monotonic_ns() - begun) / 1e6
        return CancelReport(dropped=dropped, elapsed_ms=elapsed_ms)

    def _on_done(self, generation: int, index: int, sentence: str, future: Future[SynthResult]) -> None:
        with self._lock:
            if generation != self._generation:
                return
            self._futures.pop(index, None)
            try:
                self._done[index] = future.result()
            except CancelledError:
                self._done[index] = None
            except Exception as exc:
                _log.warning("speech for sentence %d failed: %s", index, exc)
                self._done[index] = None
                if self._on_error is not None:
                    self._on_error(sentence, exc)
            self._hand_on(generation)

    def _hand_on(self, generation: int) -> None:
        """Hand every clip that is next in order to the player (the lock is held)."""
        while generation == self._generation and self._next_out in self._done:
            clip = self._done.pop(self._next_out)
            self._next_out += 1
            if clip is not None:
                self._on_clip(clip)
