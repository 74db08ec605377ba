"""Voice selection (media/voices.py) and the speaker thread with a fake engine (media/tts.py)."""

from __future__ import annotations

import threading
import time
import wave
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from aether_qt.engines.media.tts import Speaker, TtsError, TtsUnavailable
from aether_qt.engines.media.voices import VoiceInfo, VoiceSettings, select_voice

ESPEAK_LIKE = [
    VoiceInfo("gmw/en-029", "English (Caribbean)", ("en-029",)),
    VoiceInfo("gmw/en", "English (Great Britain)", ("en-gb",)),
    VoiceInfo("gmw/en-gb-scotland", "English (Scotland)", ("en-gb-scotland",)),
    VoiceInfo("gmw/en-us", "English (America)", ("en-us",)),
    VoiceInfo("gmw/en-us-nyc", "English (America, New York City)", ("en-us-nyc",)),
    VoiceInfo("ko", "Korean", ("ko",)),
]


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        ("en-us", "gmw/en-us"),  # exact language beats the earlier substring match en-us-nyc
        ("EN-GB", "gmw/en"),  # case ignored; the language tag of a voice whose id differs
        ("en-gb-scotland", "gmw/en-gb-scotland"),
        ("gmw/en-us-nyc", "gmw/en-us-nyc"),
        ("korean", "ko"),  # by name
        ("new york", "gmw/en-us-nyc"),  # substring of a name
        ("carib", "gmw/en-029"),
        ("en", "gmw/en"),  # exact id tail before any substring
    ],
)
def test_voice_hints(hint: str, expected: str) -> None:
    chosen = select_voice(ESPEAK_LIKE, hint)
    assert chosen is not None and chosen.id == expected


@pytest.mark.parametrize("hint", ["", "  ", None, "klingon-xx"])
def test_no_hint_or_no_match_keeps_the_default(hint: str | None) -> None:
    assert select_voice(ESPEAK_LIKE, hint) is None


def test_sapi_style_voices_match_by_name() -> None:
    voices = [
        VoiceInfo(r"HKEY\...\TTS_MS_EN-US_ZIRA_11.0", "Microsoft Zira Desktop", ()),
        VoiceInfo(r"HKEY\...\TTS_MS_EN-US_DAVID_11.0", "Microsoft David Desktop", ()),
    ]
    chosen = select_voice(voices, "david")
    assert chosen is not None and chosen.name == "Microsoft David Desktop"


class FakeEngine:
    """Writes a short WAV like pyttsx3's save_to_file + runAndWait; records its threads."""

    def __init__(self) -> None:
        self.props: dict[str, Any] = {"voice": "gmw/en", "rate": 175, "volume": 1.0, "pitch": 50}
        self.threads: set[int] = set()
        self.spoken: list[tuple[str, dict[str, Any]]] = []
        self._pending: tuple[str, str] | None = None
        self.block = threading.Event()
        self.block.set()

    def getProperty(self, name: str) -> Any:
        if name == "voices":
            return [SimpleNamespace(id="gmw/en-us", name="English (America)", languages=["en-us"])]
        return self.props[name]

    def setProperty(self, name: str, value: Any) -> None:
        if name == "pitch":
            raise KeyError("no pitch on this driver")
        self.props[name] = value

    def save_to_file(self, text: str, path: str) -> None:
        self._pending = (text, path)

    def runAndWait(self) -> None:
        self.threads.add(threading.get_ident())
        self.block.wait(5)
        assert self._pending is not None
        text, path = self._pending
        self.spoken.append((text, dict(self.props)))
        if text != "silent failure":
            with wave.open(path, "wb") as wav:
                wav.setnchannels(1)
                wav.setsampwidth(2)
                wav.setframerate(22_050)
                wav.writeframes(b"\x00\x10" * 22_050)


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def speaker(engine: FakeEngine) -> Any:
    speaker = Speaker(engine_factory=lambda: engine)
    speaker.start()
    yield speaker
    speaker.stop()


def test_jobs_run_on_one_thread_that_is_not_the_caller(
    speaker: Speaker, engine: FakeEngine, tmp_path: Path
) -> None:
    futures = [speaker.synthesize(f"Sentence {i}.", tmp_path / f"{i}.wav") for i in range(4)]
    results = [f.result(5) for f in futures]
    assert engine.threads == {speaker.thread_ident}
    assert threading.get_ident() not in engine.threads
    assert [r.text for r in results] == [f"Sentence {i}." for i in range(4)]
    assert results[0].duration_s == pytest.approx(1.0)
    assert len(results[0].envelope) == 60 and results[0].sample_rate == 22_050
    assert speaker.voices() == [VoiceInfo("gmw/en-us", "English (America)", ("en-us",))]


def test_voice_settings_apply_per_job_and_defaults_return(
    speaker: Speaker, engine: FakeEngine, tmp_path: Path
) -> None:
    custom = VoiceSettings("en-us", rate=200, volume=0.5)
    speaker.synthesize("One.", tmp_path / "1.wav", voice=custom).result(5)
    speaker.synthesize("Two.", tmp_path / "2.wav").result(5)
    first, second = engine.spoken[0][1], engine.spoken[1][1]
    assert (first["voice"], first["rate"], first["volume"]) == ("gmw/en-us", 200, 0.5)
    assert (second["voice"], second["rate"], second["volume"]) == ("gmw/en", 175, 1.0)


def test_job_errors_come_back_in_the_future(speaker: Speaker, tmp_path: Path) -> None:
    (tmp_path / "taken.wav").write_bytes(b"x")
    with pytest.raises(TtsError, match="already exists"):
        speaker.synthesize("Hi.", tmp_path / "taken.wav").result(5)
    with pytest.raises(TtsError, match="cannot write"):
        speaker.synthesize("Hi.", tmp_path / "missing" / "x.wav").result(5)
    with pytest.raises(TtsError, match="no clip"):
        speaker.synthesize("silent failure", tmp_path / "none.wav").result(5)
    with pytest.raises(ValueError):
        speaker.synthesize("  ", tmp_path / "blank.wav")
    assert speaker.synthesize("Still works.", tmp_path / "ok.wav").result(5).duration_s > 0


def test_stop_cancels_queued_jobs_and_joins(engine: FakeEngine, tmp_path: Path) -> None:
    speaker = Speaker(engine_factory=lambda: engine)
    speaker.start()
    engine.block.clear()
    running = speaker.synthesize("Running.", tmp_path / "a.wav")
    queued = speaker.synthesize("Queued.", tmp_path / "b.wav")
    deadline = time.monotonic() + 5
    while not running.running() and time.monotonic() < deadline:  # the thread picked it up
        time.sleep(0.001)
    stopper = threading.Thread(target=speaker.stop)
    stopper.start()
    engine.block.set()
    stopper.join(5)
    assert running.result(5).text == "Running."
    assert queued.cancelled()
    assert not speaker.running
    with pytest.raises(TtsUnavailable):
        speaker.synthesize("Late.", tmp_path / "c.wav").result(1)
    speaker.stop()  # idempotent


def test_an_engine_that_cannot_start_is_tts_unavailable(tmp_path: Path) -> None:
    def broken() -> Any:
        raise OSError("libespeak-ng.so.1: cannot open shared object file")

    speaker = Speaker(engine_factory=broken)
    with pytest.raises(TtsUnavailable, match="libespeak"):
        speaker.start()
    with pytest.raises(TtsUnavailable):
        speaker.voices()
    with pytest.raises(TtsUnavailable):
        speaker.synthesize("Hi.", tmp_path / "x.wav").result(1)
    speaker.stop()


def test_voices_before_start_is_an_error() -> None:
    with pytest.raises(TtsUnavailable):
        Speaker(engine_factory=FakeEngine).voices()
