"""Voice in the desktop app: push-to-talk, streaming recognition, spoken replies and barge-in.

:class:`VoiceHost` wires the media engine (:mod:`aether_qt.engines.media`) to
the conversation:

- **Push-to-talk.** A hotkey backend (X11 grab, pynput, or the window itself)
  calls back on press and release. A press asks the gate for ``media.mic``
  (the user is the actor); with an Allow the capture starts through
  :meth:`Effectors.start_capture`, whose lease the microphone claims, the
  state becomes ``listening`` (a banner and the tray say the microphone is
  live) and partial transcripts go out on the bus as they change. An Ask opens
  an approval card: allowing it for the session makes the next press listen.
  The release stops the microphone, asks vosk for its final result at once (no
  endpointer wait) and sends a non-empty transcript down the same turn path as
  typed text (``source="voice"``). Revoking the grant (or pausing the gate)
  stops a live capture within one chunk; what was heard is dropped, not sent.
- **Speech out.** Tokens of voice turns (and of typed turns when
  ``speak_typed`` is on) are split into sentences as they stream; each is
  synthesised at once on the TTS thread and played in order; the played
  audio's envelope drives the avatar's mouth.
- **Barge-in.** A press while Aether speaks or generates cuts the audio and
  the generation (the turn ends ``BargedIn``; the next prompt says the answer
  was cut off) and starts listening.

The microphone, the recognizer and the player live in the media QThread; the
TTS engine has its own thread (:class:`~aether_qt.engines.media.tts.Speaker`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from aether_qt.core.bus import EventBus
from aether_qt.core.events import (
    Envelope,
    SpeechHeard,
    TokensStreamed,
    TurnBegan,
    TurnEnded,
    VoiceStateChanged,
)
from aether_qt.core.qt_threads import WorkerThread
from aether_qt.engines.media.hotkeys import DEFAULT_KEY, HotkeyBackend, InWindowBackend
from aether_qt.engines.media.qt_audio import ClipPlayer, MicCapture
from aether_qt.engines.media.sentence_speech import SpeechQueue
from aether_qt.engines.media.stt import SpeechRecognizer, SttModelMissing, Transcript, load_model
from aether_qt.engines.media.tts import Speaker, SynthResult
from aether_qt.engines.media.voices import VoiceSettings
from aether_qt.policy.contracts import PermitError
from aether_qt.policy.decisions import ActionRequest, Allow, Ask
from aether_qt.policy.effects import Effectors, remove_own_file
from aether_qt.policy.leases import MICROPHONE
from aether_qt.services.gate.gate_on_bus import GateOnBus
from aether_qt.services.voice.mute import MUTED_MESSAGE, MicMute
from aether_qt.services.voice.push_to_talk import PushToTalk
from aether_qt.services.voice.speech_chunks import SpeechChunker

_log = logging.getLogger(__name__)
SOURCE = "media"
MIC = MICROPHONE
USER = "user"
STOP_TIMEOUT_MS = 5000
LIVE_MIC = "The microphone is live: release the push-to-talk key to send."
MIC_REVOKED = "The microphone was turned off: its permission ended."


class _Listener(QObject):
    """Lives in the media thread: loads the vosk model, feeds it captured audio, finishes on release."""

    sig_partial_heard = Signal(str)
    sig_final_heard = Signal(object)  # Transcript
    sig_model_loaded = Signal(str)  # '' when ready, else why not

    def __init__(self, model_path: Path) -> None:
        super().__init__()
        self._path = model_path
        self._recognizer: SpeechRecognizer | None = None

    @Slot()
    def load(self) -> None:
        try:
            self._recognizer = SpeechRecognizer(load_model(self._path))
        except SttModelMissing as exc:
            self.sig_model_loaded.emit(str(exc))
            return
        self.sig_model_loaded.emit("")

    @Slot()
    def begin(self) -> None:
        if self._recognizer is not None:
            self._recognizer.start()

    @Slot(bytes)
    def feed(self, pcm: bytes) -> None:
        if self._recognizer is None or not self._recognizer.active:
            return
        partial = self._recognizer.feed(pcm)
        if partial is not None:
            self.sig_partial_heard.emit(partial)

    @Slot()
    def end(self) -> None:
        if self._recognizer is not None and self._recognizer.active:
            self.sig_final_heard.emit(self._recognizer.finish())


@dataclass
class _Speech:
    """The spoken turns' chunkers (a turn is spoken iff it has one), touched from the interaction thread."""

    splitters: dict[str, SpeechChunker] = field(default_factory=dict)
    streamed: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


class VoiceHost(QObject):
    """Owns the media thread, the hotkey backend and the TTS thread (see the module docstring).

    Args:
        gate: the gate, publishing on the bus (approval cards for ``media.mic``).
        effectors: start the capture under the permit.
        bus: where voice events go; turn events come from it.
        submit: starts a turn with the final transcript (``Conversation.submit``).
        interrupt: barge-in on the conversation (``Conductor.interrupt``).
        busy: whether a turn is running (generating).
        stt_model: the vosk model folder (loaded in the media thread), or None: typed input only.
        clip_dir: where synthesised sentences go (the cache folder).
        voice: the active persona's voice settings.
        key: the push-to-talk key as stored ("Ctrl+Alt+Space", "F9"; see engines/media/hotkey_spec.py).
        backend: ``auto``, ``portal``, ``x11``, ``pynput`` or ``in-window`` (see :class:`PushToTalk`).
        speak: speak replies at all (False: text only).
        speak_typed: also speak replies to typed messages.
        share_cpu: told True while the microphone is live (the router decodes with one thread).
        environ: the session's environment for the push-to-talk backend (``os.environ`` by default).
        mute: the app's microphone switch: while muted a press never opens the microphone.
    """

    sig_ptt_pressed = Signal()
    sig_ptt_released = Signal()
    sig_listen_started = Signal()
    sig_listen_stopped = Signal()
    sig_clip_ready = Signal(object)

    def __init__(
        self,
        *,
        gate: GateOnBus,
        effectors: Effectors,
        bus: EventBus,
        submit: Callable[..., str | None],
        interrupt: Callable[[], None],
        busy: Callable[[], bool],
        stt_model: Path | None,
        clip_dir: Path,
        voice: Callable[[], VoiceSettings] = VoiceSettings,
        key: str = DEFAULT_KEY,
        backend: str = "auto",
        speak: bool = True,
        speak_typed: bool = False,
        share_cpu: Callable[[bool], None] = lambda _listening: None,
        environ: Mapping[str, str] | None = None,
        mute: MicMute | None = None,
    ) -> None:
        super().__init__()
        self._gate, self._fx, self._bus = gate, effectors, bus
        self._submit, self._interrupt, self._busy = submit, interrupt, busy
        self._voice, self.key = voice, key
        self._speak, self._speak_typed = speak, speak_typed
        self._share_cpu = share_cpu
        self._clip_dir = clip_dir
        self._mute = mute
        self.listening = False
        self.speaking = False
        self.ptt = PushToTalk(
            key=key,
            prefer=backend,
            on_press=self.sig_ptt_pressed.emit,
            on_release=self.sig_ptt_released.emit,
            environ=environ,
        )
        self.ptt.setParent(self)
        self.ptt.sig_fell_back.connect(self._on_ptt_fell_back)
        self.ptt_notice = ""  # why push-to-talk works only in the window, when the portal failed
        self.last_transcript: Transcript | None = None
        self.pressed_at = 0.0
        self._thread = WorkerThread("aether-media", stop_timeout_ms=STOP_TIMEOUT_MS, parent=self)
        self.mic = MicCapture(leases=effectors.capture_leases)
        self.player = ClipPlayer()
        self._listener = _Listener(stt_model) if stt_model is not None else None
        self.stt_ready = False
        self.stt_problem = "the speech model is loading" if stt_model else "no speech model is configured"
        self._thread.adopt(self.mic, self.player, self._listener)
        if self._listener is not None:
            self.mic.sig_chunk_captured.connect(self._listener.feed)
            self.sig_listen_started.connect(self._listener.begin)
            self.sig_listen_stopped.connect(self._listener.end)
            self._listener.sig_partial_heard.connect(self._on_listener_partial_heard)
            self._listener.sig_final_heard.connect(self._on_listener_final_heard)
            self._listener.sig_model_loaded.connect(self._on_listener_model_loaded)
            self._thread.qthread.started.connect(self._listener.load)
        self.sig_ptt_pressed.connect(self._on_ptt_pressed)
        self.sig_ptt_released.connect(self._on_ptt_released)
        self.sig_clip_ready.connect(self.player.enqueue)
        self.player.sig_clip_started.connect(self._on_player_clip_started)
        self.player.sig_playback_finished.connect(self._on_player_playback_finished)
        self.mic.sig_error_occurred.connect(self._on_mic_error_occurred)
        self.mic.sig_capture_revoked.connect(self._on_mic_capture_revoked)
        if mute is not None:
            mute.sig_muted_changed.connect(self._on_mute_changed)
        self._speaker: Speaker | None = None
        self._queue: SpeechQueue | None = None
        self._speech = _Speech()
        self._subscriptions: list[Callable[[], None]] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start the media thread, the TTS thread and the push-to-talk backend."""
        self._thread.start()
        if self._speak:
            self._start_speech()
        self.ptt.start()
        for kind, handler in (
            (TurnBegan.KIND, self._on_bus_turn_began),
            (TokensStreamed.KIND, self._on_bus_tokens_streamed),
            (TurnEnded.KIND, self._on_bus_turn_ended),
        ):
            self._subscriptions.append(self._bus.subscribe(kind, handler))
        if self._listener is None:
            self._state("unavailable", f"Voice input is off ({self.stt_problem}); typing works.")

    def _start_speech(self) -> None:
        speaker = Speaker()
        try:
            speaker.start()
        except Exception as exc:  # no espeak-ng: replies stay text only
            _log.warning("speech output is off: %s", exc)
            return
        self._speaker = speaker
        self._clip_dir.mkdir(parents=True, exist_ok=True)
        self._prune_clips()  # left over by a run that did not stop cleanly
        self._queue = SpeechQueue(speaker=speaker, clip_dir=self._clip_dir, on_clip=self.sig_clip_ready.emit)

    def stop(self) -> None:
        """Stop listening and speaking, the backend and both threads (idempotent)."""
        for unsubscribe in self._subscriptions:
            unsubscribe()
        self._subscriptions.clear()
        self.ptt.stop()
        if self._queue is not None:
            self._queue.cancel()
        if self._thread.running:
            self.mic.stop()
            self.player.stop()
        self._thread.stop()
        if self._speaker is not None:
            self._speaker.stop()
            self._speaker = None
        self._prune_clips()

    def _prune_clips(self) -> None:
        """Delete the spoken sentences of this run (the cache folder holds no conversation afterwards)."""
        if not self._clip_dir.is_dir():
            return
        for clip in self._clip_dir.glob("*.wav"):
            remove_own_file(clip, root=self._clip_dir)

    # ------------------------------------------------------------------ settings, live

    @property
    def backend_name(self) -> str:
        """The push-to-talk backend in use ("" before :meth:`start`)."""
        return self.backend.name if self.backend is not None else ""

    def rebind(self, key: str) -> None:
        """Listen for ``key`` from now on (the Settings dialog): see :meth:`PushToTalk.rebind`.

        Raises:
            ValueError: the backend in use cannot listen for ``key`` (a sentence saying why).
        """
        self.ptt.rebind(key)
        self.key = key

    def set_speech(self, *, speak: bool, speak_typed: bool) -> None:
        """Speak replies (and replies to typed messages) from the next reply on."""
        self._speak_typed = speak_typed
        if speak == self._speak:
            return
        self._speak = speak
        if not self._thread.running:  # not started: start() reads the flag
            return
        if speak:
            self._start_speech()
            return
        queue, speaker, self._queue, self._speaker = self._queue, self._speaker, None, None
        if queue is not None:
            queue.cancel()
        if speaker is not None:
            speaker.stop()

    @property
    def in_window(self) -> InWindowBackend | None:
        """The in-window backend when no global hotkey works (the window feeds it)."""
        return self.ptt.in_window

    @property
    def backend(self) -> HotkeyBackend | None:
        """The push-to-talk backend in use (``None`` before start and after stop)."""
        return self.ptt.backend

    @property
    def backend_notes(self) -> list[str]:
        """Why the backends before it were not used (shown in the log and by ``aether doctor``)."""
        return self.ptt.notes

    # ------------------------------------------------------------------ push-to-talk

    @Slot(str)
    def _on_ptt_fell_back(self, reason: str) -> None:
        if self.in_window is None:
            return  # another global backend took over: nothing changes for the user
        self.ptt_notice = (
            f"Hold {self.key} while Aether's window is active to talk: "
            f"the desktop gave no global shortcut ({reason})."
        )
        if self.stt_ready and not self.listening:
            self._state("idle", self.ptt_notice)

    @Slot()
    def _on_ptt_pressed(self) -> None:
        if self.listening:
            return  # already listening: a second source of the same press (window and portal)
        self.pressed_at = time.perf_counter()
        if self.speaking or self._busy():
            self.barge_in()
        if self._mute is not None and self._mute.muted:
            self._state("muted", MUTED_MESSAGE)
            return
        if not self.stt_ready:
            self._state("unavailable", f"Voice input is off ({self.stt_problem}); typing works.")
            return
        decision = self._gate.evaluate(ActionRequest("media.mic", MIC, actor_persona=USER))
        if isinstance(decision, Ask):
            self._state("idle", "Allow the microphone in the approval card, then hold the key again.")
            return
        if not isinstance(decision, Allow):
            self._state("idle", f"The microphone is not allowed ({decision.kind}).")
            return
        try:  # the device opens in the media thread, after the effector minted and the mic claimed the lease
            self._fx.start_capture(decision.permit, self.mic.start, source=MIC, persona=USER)
        except PermitError as exc:
            self._state("idle", f"The microphone is not allowed ({exc}).")
            return
        self.sig_listen_started.emit()  # queued behind the open: the recognizer starts before any chunk
        self.listening = True
        self._share_cpu(True)
        self._state("listening", LIVE_MIC)

    @Slot()
    def _on_ptt_released(self) -> None:
        if not self.listening:
            return
        self.listening = False
        self._share_cpu(False)
        self.mic.stop()  # blocks until the last audio is handed to the recognizer
        self.sig_listen_stopped.emit()
        self._state("idle", "")

    def barge_in(self) -> float:
        """Cut audio and generation now; return the milliseconds it took."""
        begun = time.perf_counter()
        if self._queue is not None:
            self._queue.cancel()
        self.player.stop()
        self._interrupt()
        self.speaking = False
        return (time.perf_counter() - begun) * 1000

    @Slot(str)
    def _on_listener_model_loaded(self, problem: str) -> None:
        self.stt_ready, self.stt_problem = not problem, problem
        if problem:
            self._state("unavailable", f"Voice input is off ({problem}); typing works.")
        else:
            self._state("idle", self.ptt_notice)  # said once voice works: the key only works in the window

    @Slot(str)
    def _on_listener_partial_heard(self, text: str) -> None:
        self._bus.publish(SpeechHeard(text=text, final=False), source_layer=SOURCE, change_id=None)

    @Slot(object)
    def _on_listener_final_heard(self, transcript: Transcript) -> None:
        self.last_transcript = transcript
        self._bus.publish(SpeechHeard(text=transcript.text, final=True), source_layer=SOURCE, change_id=None)
        if transcript.text.strip():
            self._submit(transcript.text, source="voice")
        else:
            self._state("idle", "I didn't catch that: hold the key while you speak.")

    @Slot(str)
    def _on_mic_error_occurred(self, message: str) -> None:
        self.listening = False
        self._state("idle", f"The microphone failed: {message}")

    @Slot(bool)
    def _on_mute_changed(self, muted: bool) -> None:
        if muted and self.listening:  # what was heard is dropped: the recognizer is never finished
            self.listening = False
            self._share_cpu(False)
            self.mic.stop()
        elif not muted and not self.stt_ready and self._thread.running:  # unmuted, still no voice input
            self._state("unavailable", f"Voice input is off ({self.stt_problem}); typing works.")

    @Slot()
    def _on_mic_capture_revoked(self) -> None:
        if self.listening:
            self.listening = False
            self._share_cpu(False)
        self._state("idle", MIC_REVOKED)

    # ------------------------------------------------------------------ speech out

    def _on_bus_turn_began(self, env: Envelope) -> None:
        payload = env.payload
        assert isinstance(payload, TurnBegan)
        if self._queue is not None and (payload.source == "voice" or self._speak_typed):
            with self._speech.lock:
                self._speech.splitters[payload.turn_id] = SpeechChunker()
            self._queue.voice = self._voice()

    def _on_bus_tokens_streamed(self, env: Envelope) -> None:
        payload = env.payload
        assert isinstance(payload, TokensStreamed)
        with self._speech.lock:
            splitter = self._speech.splitters.get(payload.turn_id)
            sentences = splitter.feed(payload.text) if splitter is not None else []
            if splitter is not None:
                self._speech.streamed.add(payload.turn_id)
        for sentence in sentences:
            self._say(sentence)

    def _on_bus_turn_ended(self, env: Envelope) -> None:
        payload = env.payload
        assert isinstance(payload, TurnEnded)
        with self._speech.lock:
            splitter = self._speech.splitters.pop(payload.turn_id, None)
            streamed = payload.turn_id in self._speech.streamed
            self._speech.streamed.discard(payload.turn_id)
        if splitter is None or payload.outcome == "Cancelled":
            return
        if streamed:
            rest = splitter.flush()
        else:  # a templated reply (a tool's summary, a phrase): nothing streamed, say the reply
            rest = [*splitter.feed(payload.reply or payload.notice), *splitter.flush()]
        for sentence in rest:
            self._say(sentence)

    def _say(self, sentence: str) -> None:
        if self._queue is not None:
            self._queue.submit(sentence)

    @Slot(object)
    def _on_player_clip_started(self, _clip: SynthResult) -> None:
        if not self.speaking:
            self.speaking = True
            self._state("speaking", "")

    @Slot(bool)
    def _on_player_playback_finished(self, _completed: bool) -> None:
        self.speaking = False
        self._state("idle", "")

    def _state(self, state: str, message: str) -> None:
        payload = VoiceStateChanged(state=state, message=message)
        self._bus.publish(payload, source_layer=SOURCE, change_id=None)
