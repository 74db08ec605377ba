"""PCM, WAV reading, resampling and loudness helpers (aether_qt/engines/media/audio.py)."""

from __future__ import annotations

import math
import wave
from pathlib import Path

import numpy as np
import pytest

from aether_qt.engines.media.audio import (
    SAMPLE_RATE,
    WavError,
    array_to_pcm,
    is_silence,
    pcm_to_array,
    read_wav,
    read_wav_16k,
    resample,
    rms,
    rms_envelope,
)


def sine(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return np.rint(amplitude * 32767 * np.sin(2 * math.pi * freq * t)).astype(np.int16)


def write_wav(path: Path, frames: np.ndarray, rate: int, channels: int = 1, width: int = 2) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(frames.tobytes())
    return path


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def test_pcm_round_trip_and_odd_byte() -> None:
    samples = np.array([0, 1, -1, 32767, -32768], dtype=np.int16)
    pcm = array_to_pcm(samples)
    assert pcm == b"\x00\x00\x01\x00\xff\xff\xff\x7f\x00\x80"
    assert pcm_to_array(pcm).tolist() == samples.tolist()
    assert pcm_to_array(pcm + b"\x01").tolist() == samples.tolist()


def test_array_to_pcm_clips_floats() -> None:
    assert pcm_to_array(array_to_pcm(np.array([1e6, -1e6, 1.4]))).tolist() == [32767, -32768, 1]


def test_envelope_of_a_sine_is_steady_and_of_silence_zero() -> None:
    tone = sine(220, 1.0, SAMPLE_RATE)
    env = rms_envelope(tone, SAMPLE_RATE)
    assert len(env) == 60
    assert all(0.95 <= v <= 1.0 for v in env)  # normalised: the steady tone is at the peak
    raw = rms_envelope(tone, SAMPLE_RATE, normalize=False)
    assert raw == pytest.approx([0.5 / math.sqrt(2)] * 60, abs=0.01)
    quiet = np.zeros(SAMPLE_RATE, dtype=np.int16)
    assert rms_envelope(quiet, SAMPLE_RATE) == [0.0] * 60


def test_envelope_follows_loudness_and_counts_a_partial_window() -> None:
    rate = 22_050
    clip = np.concatenate(
        [np.zeros(rate // 2, dtype=np.int16), sine(300, 0.5, rate), np.zeros(100, np.int16)]
    )
    env = rms_envelope(clip, rate)
    assert len(env) == math.ceil(len(clip) * 60 / rate)
    assert max(env[:29]) == 0.0 and min(env[31:59]) > 0.9
    assert env[-1] == 0.0


def test_envelope_of_nothing_and_bad_rates() -> None:
    assert rms_envelope(np.zeros(0, np.int16), SAMPLE_RATE) == []
    with pytest.raises(ValueError):
        rms_envelope(np.zeros(10, np.int16), 0)


def test_silence_detection() -> None:
    assert is_silence(np.zeros(1600, np.int16))
    assert is_silence(np.random.default_rng(1).normal(0, 20, 1600).astype(np.int16))
    assert not is_silence(sine(440, 0.1, SAMPLE_RATE, amplitude=0.1))
    assert rms(np.zeros(0, np.int16)) == 0.0


@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000])
def test_resample_keeps_duration_and_pitch(rate: int) -> None:
    out = resample(sine(440, 1.0, rate), rate, SAMPLE_RATE)
    assert out.dtype == np.int16
    assert len(out) == SAMPLE_RATE
    assert dominant_frequency(out, SAMPLE_RATE) == pytest.approx(440, abs=2)
    assert rms(out) == pytest.approx(0.5 / math.sqrt(2), abs=0.02)


def test_read_stereo_44k_as_16k_mono(tmp_path: Path) -> None:
    left, right = sine(440, 0.5, 44_100), sine(440, 0.5, 44_100)
    interleaved = np.column_stack([left, right]).ravel()
    path = write_wav(tmp_path / "stereo.wav", interleaved, 44_100, channels=2)
    assert read_wav(path).rate == 44_100
    samples = read_wav_16k(path)
    assert len(samples) == 8_000
    assert dominant_frequency(samples, SAMPLE_RATE) == pytest.approx(440, abs=4)


def test_stereo_channels_are_averaged(tmp_path: Path) -> None:
    frames = np.array([1000, -1000, 3000, 1000], dtype=np.int16)  # two frames, L/R
    audio = read_wav(write_wav(tmp_path / "lr.wav", frames, 16_000, channels=2))
    assert audio.samples.tolist() == [0, 2000]


def test_read_8k_and_8_bit(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "8k.wav", sine(300, 0.25, 8_000), 8_000)
    assert len(read_wav_16k(path)) == 4_000
    unsigned = np.array([128, 255, 0], dtype=np.uint8)
    audio = read_wav(write_wav(tmp_path / "u8.wav", unsigned, 8_000, width=1))
    assert audio.samples.tolist() == [0, 127 * 256, -128 * 256]
    assert audio.duration_s == pytest.approx(3 / 8_000)


def test_read_24_bit(tmp_path: Path) -> None:
    values = [0, 256 * 1000, -256 * 1000]
    raw = b"".join(v.to_bytes(3, "little", signed=True) for v in values)
    path = tmp_path / "24.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(3)
        wav.setframerate(16_000)
        wav.writeframes(raw)
    assert read_wav(path).samples.tolist() == [0, 1000, -1000]


def test_unreadable_files_raise_wav_error(tmp_path: Path) -> None:
    with pytest.raises(WavError, match="no such file"):
        read_wav(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF0000WAVEjunk")
    with pytest.raises(WavError, match=r"junk\.wav"):
        read_wav(junk)
