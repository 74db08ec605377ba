"""Real speech synthesis: pyttsx3 + espeak-ng on one speaker thread (aether_qt/engines/media/tts.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aether_qt.engines.media.audio import read_wav, rms
from aether_qt.engines.media.sentence_speech import SpeechQueue
from aether_qt.engines.media.tts import Speaker, SynthResult, TtsUnavailable
from aether_qt.engines.media.voices import VoiceSettings

SENTENCE = "Hello, I am Aether, and this sentence is spoken by espeak."


@pytest.fixture(scope="module")
def speaker() -> Iterator[Speaker]:
    speaker = Speaker()
    try:
        speaker.start()
    except TtsUnavailable as exc:
        pytest.skip(f"no text-to-speech engine: {exc}")
    yield speaker
    speaker.stop()


def tts_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "aether-tts"]


def test_a_sentence_becomes_a_clip_with_sound(speaker: Speaker, tmp_path: Path) -> None:
    result = speaker.synthesize(SENTENCE, tmp_path / "hello.wav").result(30)
    assert result.path == tmp_path / "hello.wav" and result.path.is_file()
    audio = read_wav(result.path)
    assert rms(audio.samples) > 0.02  # clearly audible, not silence
    words = len(SENTENCE.split())
    assert 0.15 * words < result.duration_s < 0.8 * words  # espeak's default ~175 wpm, with pauses
    assert result.duration_s == pytest.approx(audio.duration_s)
    assert result.synth_s < result.duration_s  # faster than real time
    assert abs(len(result.envelope) - result.duration_s * 60) <= 1
    assert max(result.envelope) == pytest.approx(1.0)
    assert sum(v > 0.1 for v in result.envelope) > len(result.envelope) / 3


def test_voices_are_listed_and_a_hint_picks_one(speaker: Speaker, tmp_path: Path) -> None:
    voices = speaker.voices()
    assert voices and all(v.id for v in voices)
    assert any("en-us" in v.languages for v in voices)
    result = speaker.synthesize("Testing.", tmp_path / "us.wav", voice=VoiceSettings("en-us")).result(30)
    assert result.voice_id == "gmw/en-us"


def test_each_job_gets_its_own_rate_and_voice(speaker: Speaker, tmp_path: Path) -> None:
    """Alternating settings: espeak applies them asynchronously, a late one would land on a neighbour."""
    settings = [VoiceSettings("en-us", rate=100), VoiceSettings("en-gb", rate=300)] * 4
    futures = [
        speaker.synthesize(SENTENCE, tmp_path / f"{i}.wav", voice=voice) for i, voice in enumerate(settings)
    ]
    results = [f.result(30) for f in futures]
    slow = [r.duration_s for r in results[0::2]]
    fast = [r.duration_s for r in results[1::2]]
    assert max(fast) * 1.8 < min(slow), (slow, fast)
    assert max(slow) - min(slow) < 0.05 and max(fast) - min(fast) < 0.05
    assert [r.voice_id for r in results[:2]] == ["gmw/en-us", "gmw/en"]


def test_several_jobs_share_one_thread(speaker: Speaker, tmp_path: Path) -> None:
    futures = [speaker.synthesize(f"Sentence number {i}.", tmp_path / f"{i}.wav") for i in range(5)]
    results = [f.result(30) for f in futures]
    assert [r.text for r in results] == [f"Sentence number {i}." for i in range(5)]
    assert all(r.path.is_file() for r in results)
    assert len(tts_threads()) == 1
    assert speaker.thread_ident != threading.get_ident()


def test_a_reply_is_spoken_in_order_through_the_queue(speaker: Speaker, tmp_path: Path) -> None:
    played: list[SynthResult] = []
    done = threading.Event()
    sentences = ["First sentence.", "A second, somewhat longer sentence follows.", "Third."]

    def on_clip(clip: SynthResult) -> None:
        played.append(clip)
        if len(played) == len(sentences):
            done.set()

    queue = SpeechQueue(speaker=speaker, clip_dir=tmp_path, on_clip=on_clip)
    for sentence in sentences:
        queue.submit(sentence)
    assert done.wait(30)
    assert [c.text for c in played] == sentences
    assert len({c.path for c in played}) == 3
    assert list(tmp_path.iterdir()) == [], "no spoken sentence is left on disk"
    assert all(c.audio is not None and len(c.audio.samples) > 0 for c in played)


def test_stop_joins_the_thread() -> None:
    speaker = Speaker()
    speaker.start()
    before = len(tts_threads())
    speaker.stop()
    assert len(tts_threads()) == before - 1
    assert not speaker.running
