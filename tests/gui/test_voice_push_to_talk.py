"""Voice end to end in the real app on ``make test``'s X server and PulseAudio (issue 6 acceptance).

The app runs in a child process (its runtime guard stays out of the test
process) and prints what happens on its bus; this test plays the user: it
holds the push-to-talk key with ``xdotool keydown``, speaks espeak-ng Korean
into the virtual microphone at real-time pace, releases the key, listens to the
null sink's monitor for the spoken reply, and presses the key again while
Aether speaks (barge-in). Skips outside scripts/with-desktop.sh.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from audio_support import MonitorRecorder, PacedFeeder, espeak

from aether_qt.engines.media.audio import array_to_pcm, read_wav_16k

APP_SCRIPT = r"""
import sys, time
from PySide6.QtCore import QTimer
from aether_qt.app import AppOptions, run_app
from aether_qt.core.events import SpeechHeard, TurnBegan, TurnEnded, VoiceStateChanged
from aether_qt.policy.decisions import ActionRequest, ApprovalChoice, Ask

def say(*parts):
    print(f"{time.monotonic():.3f}", *parts, flush=True)

def ready(parts):
    # the user allowed the microphone for this session in an approval card
    decision = parts.runtime.gate.evaluate(ActionRequest("media.mic", "microphone", actor_persona="user"))
    if isinstance(decision, Ask):
        parts.runtime.gate.answer(decision.ticket.ticket_id, ApprovalChoice.ALLOW_SESSION)
    bus = parts.bus
    bus.subscribe(SpeechHeard.KIND, lambda e: say("HEARD", int(e.payload.final), e.payload.text or "-"))
    bus.subscribe(TurnBegan.KIND, lambda e: say("TURN", e.payload.source, e.payload.turn_id))
    bus.subscribe(TurnEnded.KIND, lambda e: say("ENDED", e.payload.outcome, e.payload.final_state))
    bus.subscribe(VoiceStateChanged.KIND, lambda e: say("VOICE", e.payload.state))
    def wait():
        voice = parts.late.voice  # voice starts once the model has loaded
        if voice is not None and voice.stt_ready and parts.conversation.model_ready():
            voice.sig_clip_ready.connect(lambda clip: say("CLIP", clip.path))
            voice.player.sig_clip_started.connect(lambda clip: say("PLAYING", clip.duration_s))
            voice.player.sig_playback_finished.connect(lambda done: say("PLAYED", int(done)))
            notes = [n.replace(" ", "_") for n in voice.backend_notes]
            say("READY", voice.backend.name if voice.backend else "-", *notes)
        else:
            QTimer.singleShot(50, wait)
    QTimer.singleShot(0, wait)
    def quit_on_stdin():
        import select
        if select.select([sys.stdin], [], [], 0)[0]:
            parts.app.quit()
        else:
            QTimer.singleShot(100, quit_on_stdin)
    QTimer.singleShot(100, quit_on_stdin)

sys.exit(run_app(AppOptions(home=sys.argv[1], allow_key_file=True), on_ready=ready))
"""


@dataclass
class App:
    """The app in a child process and the lines it prints, as they arrive."""

    proc: subprocess.Popen[str]
    lines: queue.Queue[tuple[float, list[str]]] = field(default_factory=queue.Queue)
    seen: list[tuple[float, list[str]]] = field(default_factory=list)

    def read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            at, _, rest = line.strip().partition(" ")
            try:
                self.lines.put((float(at), rest.split(" ")))
            except ValueError:
                continue

    def wait_for(self, match: Callable[[list[str]], bool], timeout: float = 30.0) -> tuple[float, list[str]]:
        for at, words in self.seen:
            if match(words):
                return at, words
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                at, words = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append((at, words))
            if match(words):
                return at, words
        raise AssertionError(f"timed out; the app said: {[w for _, w in self.seen]}")

    def said(self, first: str) -> list[list[str]]:
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return [words for _, words in self.seen if words[0] == first]


@pytest.fixture
def app(desktop_dir: Path, tmp_path: Path) -> Iterator[App]:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    proc = subprocess.Popen(
        [sys.executable, "-c", APP_SCRIPT, str(tmp_path / "home")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    running = App(proc)
    threading.Thread(target=running.read, daemon=True).start()
    try:
        running.wait_for(lambda w: w[0] == "READY", timeout=90)
        yield running
    finally:
        if proc.poll() is None:
            assert proc.stdin is not None
            proc.stdin.write("quit\n")
            proc.stdin.flush()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, timeout=10)


def test_hold_to_talk_is_transcribed_answered_aloud_and_barge_in_cuts_it(
    app: App, vmic: Path, tmp_path: Path
) -> None:
    assert app.said("READY")[0][1] == "x11", app.said("READY")  # the global X grab, not in-window
    speech = array_to_pcm(read_wav_16k(espeak(tmp_path, "안녕하세요 감사합니다", "-v", "ko")))
    monitor = MonitorRecorder()
    monitor.start()
    try:
        xdotool("keydown", "F9")
        app.wait_for(lambda w: w == ["VOICE", "listening"])
        feeder = PacedFeeder(vmic, speech)
        feeder.start()
        feeder.join(30)
        assert not feeder.error
        app.wait_for(lambda w: w[:2] == ["HEARD", "0"], timeout=10)  # a partial while the key is held
        xdotool("keyup", "F9")
        _, final = app.wait_for(lambda w: w[:2] == ["HEARD", "1"])
        assert final[2] != "-", "the final transcript is empty"
        app.wait_for(lambda w: w[:2] == ["TURN", "voice"])  # the same turn path as typed text

        played_at, _ = app.wait_for(lambda w: w[0] == "PLAYING", timeout=60)
        time.sleep(0.4)
        heard = monitor.between(played_at, played_at + 10.0)
        assert heard and max(heard) > 0.01, "no audio reached the sink"
        clips = [Path(words[1]) for words in app.said("CLIP")]
        assert clips and not clips[0].exists(), "a spoken sentence is read back and never left on disk"

        if not app.said("PLAYED"):  # still speaking: barge in
            xdotool("keydown", "F9")
            app.wait_for(lambda w: w == ["PLAYED", "0"], timeout=5)  # cut, not played out
            app.wait_for(lambda w: w == ["VOICE", "listening"], timeout=5)  # a new listening turn
            xdotool("keyup", "F9")
            ended = [w for w in app.said("ENDED")]
            assert ended and ended[-1][1] in ("Answered", "Cancelled")
        else:
            pytest.fail(f"the reply finished before barge-in could be tried: {app.said('PLAYING')}")
        app.wait_for(lambda w: w[0] == "ENDED", timeout=60)
        first_clip = min(at for at, words in app.seen if words[0] == "CLIP")
        turn_ended = min(at for at, words in app.seen if words[0] == "ENDED")
        assert first_clip < turn_ended, "the first sentence was spoken only after generation finished"
    finally:
        monitor.close()


def test_silence_gives_no_turn(app: App) -> None:
    xdotool("keydown", "F9")
    app.wait_for(lambda w: w == ["VOICE", "listening"])
    time.sleep(0.5)
    xdotool("keyup", "F9")
    _, final = app.wait_for(lambda w: w[:2] == ["HEARD", "1"])
    assert final[2] == "-"
    time.sleep(0.5)
    assert app.said("TURN") == []
