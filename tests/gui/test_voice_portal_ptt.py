"""Wayland push-to-talk end to end: the desktop portal's Activated/Deactivated drive a voice turn.

A GlobalShortcuts portal (``portal_support``) owns ``org.freedesktop.portal.Desktop``
on a session bus the test starts; the voice host is told it runs in a Wayland
session on that bus. The user's hold is the portal's ``Activated`` and the release
its ``Deactivated``, each crossing ``dbus-daemon``; speech goes into the virtual
microphone of ``make test`` at real-time pace.

* With the real voice host (gate, audit log, media thread, vosk): the pair opens the
  microphone, and the release sends what was heard down the turn path as voice.
* With the real app in a child process (slow): the same pair gives a voice turn on the
  bundled model, and holding the shortcut again while it answers cuts the answer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from audio_support import PacedFeeder, espeak
from keyring_support import key_file_runtime
from portal_support import FakePortal, PrivateBus
from pytestqt.qtbot import QtBot
from voice_app_support import running_app

from aether_qt.companion import gate_on_bus
from aether_qt.core.bus import EventBus
from aether_qt.core.events import VoiceStateChanged
from aether_qt.engines.media.audio import array_to_pcm, read_wav_16k
from aether_qt.engines.media.stt import default_model_path
from aether_qt.policy.decisions import ActionRequest, ApprovalChoice, Ask
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.voice.host import LIVE_MIC, VoiceHost

WAIT_MS = 30_000
SPOKEN = "안녕하세요 감사합니다"


@pytest.fixture
def portal(tmp_path: Path, desktop_dir: Path) -> Iterator[tuple[PrivateBus, FakePortal]]:
    """The test's own session bus with the portal on it (inside the desktop harness)."""
    bus = PrivateBus(tmp_path / "bus")
    try:
        fake = FakePortal(bus.address)
        yield bus, fake
        fake.close()
    finally:
        bus.close()


def wayland_on(bus: PrivateBus) -> dict[str, str]:
    """This environment, told it is a Wayland session (with XWayland) whose session bus is ``bus``."""
    return {
        **os.environ,
        "XDG_SESSION_TYPE": "wayland",
        "WAYLAND_DISPLAY": "wayland-0",
        "DBUS_SESSION_BUS_ADDRESS": bus.address,
    }


def allow_microphone(runtime: PolicyRuntime) -> None:
    """What the user did in the approval card: allow the microphone for this session."""
    decision = runtime.gate.evaluate(ActionRequest("media.mic", "microphone", actor_persona="user"))
    if isinstance(decision, Ask):
        runtime.gate.answer(decision.ticket.ticket_id, ApprovalChoice.ALLOW_SESSION)


@pytest.mark.slow  # the speech model loads, then seconds of speech at real-time pace
def test_activated_then_deactivated_over_dbus_make_one_voice_turn(
    portal: tuple[PrivateBus, FakePortal], vmic: Path, tmp_path: Path, bus: EventBus, qtbot: QtBot
) -> None:
    dbus, fake = portal
    states: list[tuple[str, str]] = []
    bus.subscribe(VoiceStateChanged.KIND, lambda e: states.append((e.payload.state, e.payload.message)))
    submitted: list[str] = []

    def submit(text: str, *, source: str = "typed") -> str:
        submitted.append(f"{source}:{text}")
        return "turn_1"

    speech = array_to_pcm(read_wav_16k(espeak(tmp_path, SPOKEN, "-v", "ko")))
    with key_file_runtime(tmp_path / "home") as runtime:
        host = VoiceHost(
            gate=gate_on_bus(runtime, bus),
            effectors=runtime.effectors,
            bus=bus,
            submit=submit,
            interrupt=lambda: None,
            busy=lambda: False,
            stt_model=default_model_path(),
            clip_dir=tmp_path / "speech",
            speak=False,
            environ=wayland_on(dbus),
        )
        host.start()
        try:
            qtbot.waitUntil(lambda: host.stt_ready, timeout=WAIT_MS)
            qtbot.waitUntil(lambda: getattr(host.backend, "name", "") == "portal", timeout=WAIT_MS)
            assert fake.bound[0][1]["preferred_trigger"] == "F9"
            allow_microphone(runtime)

            fake.activate()  # the user holds the shortcut the desktop bound
            qtbot.waitUntil(lambda: host.listening and host.mic.running, timeout=WAIT_MS)
            assert states[-1] == ("listening", LIVE_MIC)
            feeder = PacedFeeder(vmic, speech)
            feeder.start()
            feeder.join(30)
            assert not feeder.error
            fake.deactivate()  # ... and lets go
            qtbot.waitUntil(lambda: bool(submitted), timeout=WAIT_MS)
            assert not host.listening and not host.mic.running
            [turn] = submitted
            assert turn.startswith("voice:") and turn.removeprefix("voice:").strip()
            assert states[-1][0] == "idle"
        finally:
            host.stop()
    assert fake.closed == list(fake.sessions)  # the voice host closed its portal session


@pytest.mark.slow  # the speech model loads
def test_when_the_desktop_declines_the_shortcut_the_voice_banner_says_to_use_the_window(
    tmp_path: Path, desktop_dir: Path, bus: EventBus, qtbot: QtBot
) -> None:
    dbus = PrivateBus(tmp_path / "bus")
    fake = FakePortal(dbus.address, bind_response=1)  # the user said no in the desktop's dialog
    states: list[tuple[str, str]] = []
    bus.subscribe(VoiceStateChanged.KIND, lambda e: states.append((e.payload.state, e.payload.message)))
    try:
        with key_file_runtime(tmp_path / "home") as runtime:
            host = VoiceHost(
                gate=gate_on_bus(runtime, bus),
                effectors=runtime.effectors,
                bus=bus,
                submit=lambda text, *, source="typed": None,
                interrupt=lambda: None,
                busy=lambda: False,
                stt_model=default_model_path(),
                clip_dir=tmp_path / "speech",
                speak=False,
                environ={**wayland_on(dbus), "DISPLAY": ""},  # no XWayland: only the window is left
            )
            host.start()
            try:
                qtbot.waitUntil(lambda: host.stt_ready and host.ptt_notice != "", timeout=WAIT_MS)
                assert host.in_window is not None
                assert states[-1] == (
                    "idle",
                    "Hold F9 while Aether's window is active to talk: the desktop gave no global shortcut "
                    "(the shortcut was declined in the desktop's dialog).",
                )
            finally:
                host.stop()
    finally:
        fake.close()
        dbus.close()


@pytest.mark.slow
def test_in_the_real_app_the_portal_pair_starts_and_ends_a_voice_turn(
    portal: tuple[PrivateBus, FakePortal], vmic: Path, tmp_path: Path
) -> None:
    dbus, fake = portal
    env = {**wayland_on(dbus), "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    speech = array_to_pcm(read_wav_16k(espeak(tmp_path, SPOKEN, "-v", "ko")))
    with running_app(tmp_path / "home", env, backend="portal") as app:
        fake.activate()
        app.wait_for(lambda w: w == ["VOICE", "listening"])
        feeder = PacedFeeder(vmic, speech)
        feeder.start()
        feeder.join(30)
        fake.deactivate()
        _, final = app.wait_for(lambda w: w[:2] == ["HEARD", "1"])
        assert final[2] != "-", "the final transcript is empty"
        app.wait_for(lambda w: w[:2] == ["TURN", "voice"])  # the same turn path as typed text
        fake.activate()  # holding the shortcut again while Aether answers cuts the answer (barge-in)
        _, ended = app.wait_for(lambda w: w[0] == "ENDED", timeout=60)
        assert ended[1] in ("Answered", "Cancelled")
        fake.deactivate()
    assert app.proc.returncode == 0
    fake.wait_for(lambda: fake.closed == list(fake.sessions))  # the app closed its session on the way out
