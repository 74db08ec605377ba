"""Plain audio helpers: PCM frames, WAV files, loudness (DESIGN.md §8).

The speech pipeline speaks one format: 16 kHz, mono, signed 16-bit little-endian
PCM (what vosk wants and what the microphone is asked for). :func:`read_wav`
accepts any PCM WAV the stdlib :mod:`wave` module can read (8/16/24/32-bit, any
rate, any channel count) and :func:`resample` brings it to that format with
linear interpolation, which is good enough for speech recognition and keeps
the module free of scipy.

:func:`rms_envelope` turns a clip into one loudness value per 1/60 s: the
avatar's mouth follows it while the clip plays.

Everything here is pure (numpy only, no Qt, no writes).
"""

from __future__ import annotations

import math
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "SAMPLE_RATE",
    "SILENCE_RMS",
    "Samples",
    "WavAudio",
    "WavError",
    "array_to_pcm",
    "is_silence",
    "pcm_to_array",
    "read_wav",
    "read_wav_16k",
    "resample",
    "rms",
    "rms_envelope",
    "to_mono",
]

SAMPLE_RATE = 16_000
"""Hz of the speech pipeline (microphone, vosk)."""
SILENCE_RMS = 0.005
"""RMS (full scale = 1.0) below which a stretch of audio counts as silence (about -46 dBFS)."""
ENVELOPE_HZ = 60
_FULL_SCALE = 32768.0

Samples = npt.NDArray[np.int16]
"""A 1-D array of signed 16-bit samples."""


class WavError(Exception):
    """A WAV file cannot be read (missing, not PCM, truncated); the message names the file."""


@dataclass(frozen=True, slots=True)
class WavAudio:
    """Mono samples and their rate, as read from a WAV file.

    Attributes:
        samples: int16 mono samples (channels averaged).
        rate: samples per second.
    """

    samples: Samples
    rate: int

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.rate if self.rate else 0.0


def pcm_to_array(pcm: bytes) -> Samples:
    """Signed 16-bit little-endian PCM bytes as an int16 array (a trailing odd byte is ignored)."""
    usable = len(pcm) - (len(pcm) % 2)
    return np.frombuffer(pcm[:usable], dtype="<i2").astype(np.int16)


def array_to_pcm(samples: npt.NDArray[np.generic]) -> bytes:
    """int16 samples as signed 16-bit little-endian PCM bytes (other dtypes are clipped first)."""
    arr = np.asarray(samples)
    if arr.dtype != np.int16:
        arr = np.clip(np.rint(arr.astype(np.float64)), -32768, 32767).astype(np.int16)
    return arr.astype("<i2").tobytes()


def _decode_frames(raw: bytes, width: int) -> npt.NDArray[np.float64]:
    """PCM bytes of ``width`` bytes per sample as floats on the int16 scale."""
    if width == 1:  # 8-bit WAV is unsigned
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) * 256.0
    if width == 2:
        return np.frombuffer(raw, dtype="<i2").astype(np.float64)
    if width == 3:
        triples = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        value = np.where(value >= 1 << 23, value - (1 << 24), value)
        return value.astype(np.float64) / 256.0
    if width == 4:
        return np.frombuffer(raw, dtype="<i4").astype(np.float64) / 65536.0
    raise ValueError(f"unsupported sample width {width}")


def to_mono(frames: npt.NDArray[np.float64], channels: int) -> npt.NDArray[np.float64]:
    """Average interleaved ``channels`` into one channel."""
    if channels <= 1:
        return frames
    usable = len(frames) - (len(frames) % channels)
    mono: npt.NDArray[np.float64] = frames[:usable].reshape(-1, channels).mean(axis=1)
    return mono


def read_wav(path: str | Path) -> WavAudio:
    """Read a PCM WAV file as mono int16 at its own rate.

    Raises:
        WavError: the file is missing, not a PCM WAV, or uses an unsupported sample width.
    """
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            raw = wav.readframes(wav.getnframes())
    except FileNotFoundError:
        raise WavError(f"{path}: no such file") from None
    except (OSError, EOFError, wave.Error) as exc:
        raise WavError(f"{path}: not a readable PCM WAV file ({exc})") from None
    if rate <= 0:
        raise WavError(f"{path}: invalid sample rate {rate}")
    try:
        frames = _decode_frames(raw[: len(raw) - len(raw) % width], width)
    except ValueError as exc:
        raise WavError(f"{path}: {exc}") from None
    mono = to_mono(frames, channels)
    return WavAudio(samples=np.clip(np.rint(mono), -32768, 32767).astype(np.int16), rate=rate)


def resample(samples: npt.NDArray[np.generic], src_rate: int, dst_rate: int = SAMPLE_RATE) -> Samples:
    """``samples`` at ``src_rate`` resampled to ``dst_rate`` by linear interpolation, as int16.

    The output has ``round(len * dst / src)`` samples; output sample ``i`` is the
    input interpolated at time ``i / dst_rate``.
    """
    if src_rate <= 0 or dst_rate <= 0:
        raise ValueError("sample rates must be positive")
    source = np.asarray(samples, dtype=np.float64)
    if src_rate == dst_rate or len(source) == 0:
        out = source
    else:
        count = round(len(source) * dst_rate / src_rate)
        positions = np.arange(count, dtype=np.float64) * (src_rate / dst_rate)
        out = np.interp(positions, np.arange(len(source), dtype=np.float64), source)
    return np.clip(np.rint(out), -32768, 32767).astype(np.int16)


def read_wav_16k(path: str | Path) -> Samples:
    """A WAV file as the pipeline's 16 kHz mono int16 samples.

    Raises:
        WavError: see :func:`read_wav`.
    """
    audio = read_wav(path)
    return resample(audio.samples, audio.rate, SAMPLE_RATE)


def rms(samples: npt.NDArray[np.generic]) -> float:
    """Root mean square of int16 ``samples`` on a 0..1 scale (0 for no samples)."""
    arr = np.asarray(samples, dtype=np.float64)
    if arr.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(np.square(arr)))) / _FULL_SCALE


def is_silence(samples: npt.NDArray[np.generic], threshold: float = SILENCE_RMS) -> bool:
    """True when the RMS of ``samples`` (0..1 scale) is below ``threshold``."""
    return rms(samples) < threshold


def rms_envelope(
    samples: npt.NDArray[np.generic], rate: int, hz: int = ENVELOPE_HZ, *, normalize: bool = True
) -> list[float]:
    """Loudness of ``samples`` per ``1/hz`` s window, each value in 0..1.

    There are ``ceil(duration * hz)`` values; the last window may be shorter.
    With ``normalize`` the loudest window is 1.0 (a mouth opens fully on every
    clip, whatever the voice's volume), unless the whole clip is silence, which
    gives all zeros; without it, values are the plain RMS on the 0..1 scale.
    """
    if rate <= 0 or hz <= 0:
        raise ValueError("rate and hz must be positive")
    arr = np.asarray(samples, dtype=np.float64)
    if arr.size == 0:
        return []
    count = math.ceil(len(arr) * hz / rate)
    bounds = np.minimum((np.arange(count + 1) * rate) // hz, len(arr)).astype(np.int64)
    bounds[-1] = len(arr)
    squares = np.concatenate(([0.0], np.cumsum(np.square(arr))))
    sizes = np.maximum(bounds[1:] - bounds[:-1], 1)
    values = np.sqrt((squares[bounds[1:]] - squares[bounds[:-1]]) / sizes) / _FULL_SCALE
    if normalize:
        peak = float(values.max())
        values = values / peak if peak >= SILENCE_RMS else np.zeros_like(values)
    return [min(1.0, max(0.0, float(v))) for v in values]
