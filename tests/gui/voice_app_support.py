"""The real app in a child process, printing what happens on its bus, for the voice end-to-end tests.

The child's runtime guard stays out of the test process. It prints one line per
event (``<monotonic> WORD args...``): ``READY <backend> <notes>`` once the model and
the speech model are ready and the push-to-talk backend is the one asked for
(any, by default), then ``HEARD``, ``TURN``, ``ENDED``, ``VOICE``, ``CLIP``,
``PLAYING`` and ``PLAYED`` lines. A line on its stdin quits it.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

APP_SCRIPT = r"""
import sys, time
from PySide6.QtCore import QTimer
from aether_qt.app import AppOptions, run_app
from aether_qt.core.events import SpeechHeard, TurnBegan, TurnEnded, VoiceStateChanged
from aether_qt.policy.decisions import ActionRequest, ApprovalChoice, Ask

def say(*parts):
    # one write per line: events arrive on several threads, and print() writes its parts apart
    sys.stdout.write(" ".join([f"{time.monotonic():.3f}", *map(str, parts)]) + "\n")
    sys.stdout.flush()

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
        wanted = sys.argv[2] if len(sys.argv) > 2 else ""
        backend = voice.backend.name if voice is not None and voice.backend is not None else "-"
        ready = voice is not None and voice.stt_ready and parts.conversation.model_ready()
        if ready and wanted in ("", backend):
            voice.sig_clip_ready.connect(lambda clip: say("CLIP", clip.path))
            voice.player.sig_clip_started.connect(lambda clip: say("PLAYING", clip.duration_s))
            voice.player.sig_playback_finished.connect(lambda done: say("PLAYED", int(done)))
            notes = [n.replace(" ", "_") for n in voice.backend_notes]
            say("READY", backend, *notes)
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


@contextmanager
def running_app(home: Path, env: dict[str, str], backend: str = "") -> Iterator[App]:
    """The app on ``home`` with ``env``, once ready (and on ``backend`` if given); quit afterwards."""
    proc = subprocess.Popen(
        [sys.executable, "-c", APP_SCRIPT, str(home), backend],
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
