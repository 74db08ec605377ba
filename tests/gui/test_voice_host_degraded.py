"""VoiceHost when something is missing or refused: the microphone never opens without an Allow.

A real runtime (gate, audit log), a real bus and the real media thread; the
in-window push-to-talk backend is driven directly, so no X grab is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from audio_support import PacedFeeder
from keyring_support import key_file_runtime
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from aether_qt.companion import gate_on_bus
from aether_qt.core.bus import EventBus
from aether_qt.core.events import (
    Envelope,
    TicketOpened,
    TokensStreamed,
    TurnBegan,
    TurnEnded,
    VoiceStateChanged,
)
from aether_qt.engines.media import tts
from aether_qt.engines.media.stt import default_model_path
from aether_qt.policy.decisions import Allow, ApprovalChoice
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.voice.host import LIVE_MIC, MIC_REVOKED, VoiceHost
from aether_qt.services.voice.mute import MUTED_MESSAGE, MicMute


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[PolicyRuntime]:
    with key_file_runtime(tmp_path / "home") as rt:
        yield rt


@pytest.fixture
def seen(bus: EventBus) -> list[Envelope]:
    events: list[Envelope] = []
    bus.subscribe("*", events.append)
    return events


def make_host(
    runtime: PolicyRuntime,
    bus: EventBus,
    tmp_path: Path,
    *,
    model: Path | None,
    speak: bool = False,
    mute: MicMute | None = None,
) -> tuple[VoiceHost, list[str]]:
    submitted: list[str] = []

    def submit(text: str, *, source: str = "typed") -> str:
        submitted.append(f"{source}:{text}")
        return "turn_x"

    host = VoiceHost(
        gate=gate_on_bus(runtime, bus),
        effectors=runtime.effectors,
        bus=bus,
        submit=submit,
        interrupt=lambda: submitted.append("interrupt"),
        busy=lambda: False,
        stt_model=model,
        clip_dir=tmp_path / "speech",
        backend="in-window",
        speak=speak,
        mute=mute,
    )
    return host, submitted


def states(seen: list[Envelope]) -> list[tuple[str, str]]:
    return [(e.payload.state, e.payload.message) for e in seen if isinstance(e.payload, VoiceStateChanged)]


@pytest.fixture
def host(runtime: PolicyRuntime, bus: EventBus, tmp_path: Path, qtbot: QtBot) -> Iterator[VoiceHost]:
    voice, _ = make_host(runtime, bus, tmp_path, model=default_model_path())
    voice.start()
    qtbot.waitUntil(lambda: voice.stt_ready, timeout=30_000)
    yield voice
    voice.stop()


def press_and_release(host: VoiceHost, qtbot: QtBot) -> None:
    assert host.in_window is not None
    host.in_window.tracker.press()
    qtbot.wait(100)


def test_a_paused_gate_denies_the_microphone_and_nothing_is_captured(
    host: VoiceHost, runtime: PolicyRuntime, seen: list[Envelope], qtbot: QtBot
) -> None:
    runtime.gate.pause(True)
    press_and_release(host, qtbot)
    assert not host.listening and not host.mic.running
    assert states(seen)[-1] == ("idle", "The microphone is not allowed (deny).")
    assert runtime.audit is not None
    assert runtime.audit.rows()[-1].capability == "media.mic" and runtime.audit.rows()[-1].decision == "deny"


def test_an_ask_opens_an_approval_and_captures_nothing_until_it_is_answered(
    host: VoiceHost, seen: list[Envelope], qtbot: QtBot
) -> None:
    press_and_release(host, qtbot)  # Assistant: media.mic asks
    assert not host.mic.running
    assert [e.payload.capability for e in seen if isinstance(e.payload, TicketOpened)] == ["media.mic"]
    assert "approval card" in states(seen)[-1][1]


def test_after_allowing_for_the_session_a_press_opens_the_microphone_and_release_closes_it(
    host: VoiceHost, runtime: PolicyRuntime, seen: list[Envelope], qtbot: QtBot
) -> None:
    assert host.in_window is not None
    host.in_window.tracker.press()  # asks: the approval card
    host.in_window.tracker.release()
    [ticket] = [e.payload.ticket_id for e in seen if isinstance(e.payload, TicketOpened)]
    assert isinstance(runtime.gate.answer(ticket, ApprovalChoice.ALLOW_SESSION), Allow)
    host.in_window.tracker.press()
    qtbot.waitUntil(lambda: host.mic.running, timeout=5000)
    assert host.listening and states(seen)[-1] == ("listening", LIVE_MIC)
    host.in_window.tracker.release()
    qtbot.waitUntil(lambda: not host.mic.running, timeout=5000)
    assert not host.listening and states(seen)[-1][0] == "idle"


def test_without_a_speech_model_voice_input_is_off_and_says_so(
    runtime: PolicyRuntime, bus: EventBus, seen: list[Envelope], tmp_path: Path, qtbot: QtBot
) -> None:
    voice, _ = make_host(runtime, bus, tmp_path, model=None)
    voice.start()
    try:
        assert states(seen)[-1][0] == "unavailable" and "no speech model" in states(seen)[-1][1]
        assert runtime.audit is not None
        before = len(runtime.audit.rows())
        press_and_release(voice, qtbot)
        assert not voice.mic.running and len(runtime.audit.rows()) == before  # not even asked
    finally:
        voice.stop()


def test_without_speech_output_replies_stay_text(
    runtime: PolicyRuntime, bus: EventBus, tmp_path: Path, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: tts.Speaker, timeout: float = 15.0) -> None:
        raise tts.TtsUnavailable("espeak-ng is missing")

    monkeypatch.setattr(tts.Speaker, "start", broken)
    voice, _ = make_host(runtime, bus, tmp_path, model=None, speak=True)
    clips: list[object] = []
    voice.sig_clip_ready.connect(clips.append)
    voice.start()
    try:
        bus.publish(TurnBegan(turn_id="t1", text="hi", source="voice"), source_layer="L1", change_id=None)
        bus.publish(TokensStreamed(turn_id="t1", text="Hello there. "), source_layer="L1", change_id=None)
        bus.publish(
            TurnEnded(turn_id="t1", outcome="Answered", final_state="Idle", reply="Hello there."),
            source_layer="L1",
            change_id=None,
        )
        qtbot.wait(200)
        assert clips == [] and not voice.speaking and not (tmp_path / "speech").exists()
    finally:
        voice.stop()


def test_spoken_sentences_do_not_outlive_the_run(
    runtime: PolicyRuntime, bus: EventBus, tmp_path: Path, qtbot: QtBot
) -> None:
    clips = tmp_path / "speech"
    clips.mkdir()
    (clips / "left-over.wav").write_bytes(b"RIFF")
    voice, _ = make_host(runtime, bus, tmp_path, model=None, speak=True)
    voice.start()
    try:
        assert not list(clips.glob("*.wav"))  # a crashed run's clips are gone at start
        (clips / "spoken.wav").write_bytes(b"RIFF")
    finally:
        voice.stop()
    assert not list(clips.glob("*.wav"))


def test_revoking_the_session_grant_stops_a_live_capture_within_a_chunk(
    host: VoiceHost, runtime: PolicyRuntime, bus: EventBus, seen: list[Envelope], vmic: Path, qtbot: QtBot
) -> None:
    assert host.in_window is not None
    host.in_window.tracker.press()  # asks: the approval card
    host.in_window.tracker.release()
    [ticket] = [e.payload.ticket_id for e in seen if isinstance(e.payload, TicketOpened)]
    allowed = runtime.gate.answer(ticket, ApprovalChoice.ALLOW_SESSION)
    assert isinstance(allowed, Allow)
    chunks: list[bytes] = []
    host.mic.sig_chunk_captured.connect(chunks.append, Qt.ConnectionType.DirectConnection)
    feeder = PacedFeeder(vmic, bytes(16_000 * 2 * 4))  # four seconds of silence, at real-time pace
    feeder.start()
    try:
        host.in_window.tracker.press()
        qtbot.waitUntil(lambda: host.mic.running and len(chunks) >= 3, timeout=5000)
        gate_on_bus(runtime, bus).revoke(allowed.grant.grant_id)  # the trust centre's revoke
        at_revoke = len(chunks)
        qtbot.waitUntil(lambda: not host.mic.running and not host.listening, timeout=1000)
        assert len(chunks) - at_revoke <= 1  # at most the chunk being handed out as it happened
        assert states(seen)[-1] == ("idle", MIC_REVOKED)
        host.in_window.tracker.release()
    finally:
        feeder.join(10)


@pytest.mark.slow
def test_a_muted_microphone_never_opens_and_muting_stops_a_live_capture(
    runtime: PolicyRuntime, bus: EventBus, seen: list[Envelope], tmp_path: Path, qtbot: QtBot
) -> None:
    mute = MicMute(bus=bus)
    voice, submitted = make_host(runtime, bus, tmp_path, model=default_model_path(), mute=mute)
    voice.start()
    try:
        qtbot.waitUntil(lambda: voice.stt_ready, timeout=30_000)
        assert voice.in_window is not None
        voice.in_window.tracker.press()  # asks: the approval card
        voice.in_window.tracker.release()
        [ticket] = [e.payload.ticket_id for e in seen if isinstance(e.payload, TicketOpened)]
        assert isinstance(runtime.gate.answer(ticket, ApprovalChoice.ALLOW_SESSION), Allow)
        mute.set_muted(True)  # the tray's "Mute microphone"
        voice.in_window.tracker.press()
        qtbot.wait(200)
        assert not voice.mic.running and not voice.listening
        assert states(seen)[-1] == ("muted", MUTED_MESSAGE)
        voice.in_window.tracker.release()
        mute.set_muted(False)
        voice.in_window.tracker.press()  # unmuted: the session grant opens it again
        qtbot.waitUntil(lambda: voice.mic.running, timeout=5000)
        mute.set_muted(True)  # muting while live stops the capture; what was heard is not sent
        qtbot.waitUntil(lambda: not voice.mic.running and not voice.listening, timeout=2000)
        voice.in_window.tracker.release()
        qtbot.wait(200)
        assert submitted == [] and states(seen)[-1][0] == "muted"
    finally:
        voice.stop()
