"""Clips in sentence order, failures skipped, barge-in (aether_qt/engines/media/sentence_speech.py)."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

import pytest

from aether_qt.engines.media.sentence_speech import SpeechQueue
from aether_qt.engines.media.tts import SynthResult, TtsError
from aether_qt.engines.media.voices import VoiceSettings
from aether_qt.policy.contracts import FakeClock


class ManualSpeaker:
    """Hands out futures the test completes in any order."""

    def __init__(self) -> None:
        self.jobs: list[tuple[str, Path, VoiceSettings | None, Future[SynthResult]]] = []

    def synthesize(
        self, text: str, out_path: Path, *, voice: VoiceSettings | None = None, keep_file: bool = True
    ) -> Future[SynthResult]:
        assert not keep_file, "the queue never leaves a spoken sentence on disk"
        future: Future[SynthResult] = Future()
        self.jobs.append((text, out_path, voice, future))
        return future

    def finish(self, index: int) -> None:
        text, path, _, future = self.jobs[index]
        future.set_result(clip(text, path))

    def fail(self, index: int) -> None:
        self.jobs[index][3].set_exception(TtsError("no audio"))


def clip(text: str, path: Path) -> SynthResult:
    return SynthResult(
        text=text, path=path, duration_s=1.0, sample_rate=22_050, envelope=(0.5,), synth_s=0.01, voice_id="v"
    )


@pytest.fixture
def speaker() -> ManualSpeaker:
    return ManualSpeaker()


def make_queue(speaker: ManualSpeaker, played: list[str], **kwargs: object) -> SpeechQueue:
    return SpeechQueue(
        speaker=speaker,
        clip_dir=Path("/cache/tts"),
        on_clip=lambda c: played.append(c.text),
        name_prefix="turn",
        **kwargs,  # type: ignore[arg-type]
    )


def test_each_sentence_goes_to_the_speaker_at_once(speaker: ManualSpeaker) -> None:
    voice = VoiceSettings(voice_hint="en-us", rate=170)
    queue = make_queue(speaker, [], voice=voice)
    assert [queue.submit(s) for s in ("One.", "Two.", "Three.")] == [0, 1, 2]
    assert [j[0] for j in speaker.jobs] == ["One.", "Two.", "Three."]
    assert [j[1].name for j in speaker.jobs] == ["turn-0-0000.wav", "turn-0-0001.wav", "turn-0-0002.wav"]
    assert all(j[1].parent == Path("/cache/tts") and j[2] == voice for j in speaker.jobs)
    assert queue.pending == 3


def test_clips_are_handed_on_in_sentence_order_when_synthesis_finishes_out_of_order(
    speaker: ManualSpeaker,
) -> None:
    played: list[str] = []
    queue = make_queue(speaker, played)
    for sentence in ("A.", "B.", "C.", "D."):
        queue.submit(sentence)
    speaker.finish(2)
    speaker.finish(1)
    assert played == []  # A is not ready: nothing may play before it
    speaker.finish(0)
    assert played == ["A.", "B.", "C."]
    speaker.finish(3)
    assert played == ["A.", "B.", "C.", "D."]
    assert queue.pending == 0


def test_a_failed_sentence_is_reported_and_skipped(speaker: ManualSpeaker) -> None:
    played: list[str] = []
    errors: list[str] = []
    queue = make_queue(speaker, played, on_error=lambda text, exc: errors.append(f"{text}: {exc}"))
    for sentence in ("A.", "B.", "C."):
        queue.submit(sentence)
    speaker.finish(2)
    speaker.fail(1)
    speaker.finish(0)
    assert played == ["A.", "C."]
    assert errors == ["B.: no audio"]


def test_a_speaker_that_refuses_at_once_counts_as_a_failed_sentence() -> None:
    class Refusing:
        def synthesize(
            self, text: str, out_path: Path, *, voice: VoiceSettings | None = None, keep_file: bool = True
        ) -> Future[SynthResult]:
            raise RuntimeError("engine gone")

    errors: list[str] = []
    queue = SpeechQueue(
        speaker=Refusing(),
        clip_dir=Path("/c"),
        on_clip=lambda c: None,
        on_error=lambda t, e: errors.append(t),
    )
    queue.submit("Hello.")
    assert errors == ["Hello."] and queue.pending == 0


def test_blank_sentences_are_ignored(speaker: ManualSpeaker) -> None:
    queue = make_queue(speaker, [])
    queue.submit("   ")
    assert speaker.jobs == [] and queue.pending == 0


def test_cancel_drops_pending_ignores_late_results_and_reports_time(speaker: ManualSpeaker) -> None:
    played: list[str] = []
    clock = FakeClock()
    stopped: list[bool] = []

    def stop_player() -> None:
        clock.advance(0.004)  # the player takes 4 ms to go quiet
        stopped.append(True)

    queue = make_queue(speaker, played, clock=clock, on_cancel=stop_player)
    for sentence in ("A.", "B.", "C."):
        queue.submit(sentence)
    speaker.finish(0)
    assert played == ["A."]
    report = queue.cancel()
    assert report.dropped == 2
    assert report.elapsed_ms == pytest.approx(4.0)
    assert stopped == [True]
    assert speaker.jobs[1][3].cancelled() and speaker.jobs[2][3].cancelled()
    assert queue.pending == 0
    # the next turn starts a new generation with new file names; nothing old leaks in
    queue.submit("New.")
    assert speaker.jobs[3][1].name == "turn-1-0000.wav"
    speaker.finish(3)
    assert played == ["A.", "New."]


def test_a_result_already_running_when_cancelled_is_ignored(speaker: ManualSpeaker) -> None:
    played: list[str] = []
    queue = make_queue(speaker, played)
    queue.submit("Old.")
    speaker.jobs[0][3].set_running_or_notify_cancel()  # the speaker thread has started it
    assert queue.cancel().dropped == 1
    speaker.finish(0)
    assert played == []


def test_cancel_from_the_clip_callback_stops_the_rest(speaker: ManualSpeaker) -> None:
    played: list[str] = []
    holder: list[SpeechQueue] = []

    def on_clip(c: SynthResult) -> None:
        played.append(c.text)
        holder[0].cancel()  # barge-in while the first clip is handed on

    queue = SpeechQueue(speaker=speaker, clip_dir=Path("/c"), on_clip=on_clip)
    holder.append(queue)
    for sentence in ("A.", "B."):
        queue.submit(sentence)
    speaker.finish(1)
    speaker.finish(0)
    assert played == ["A."]


def test_voice_can_change_between_turns(speaker: ManualSpeaker) -> None:
    queue = make_queue(speaker, [])
    queue.voice = VoiceSettings(voice_hint="en-gb")
    queue.submit("Hi.")
    assert speaker.jobs[0][2] == VoiceSettings(voice_hint="en-gb")
    assert queue.voice == VoiceSettings(voice_hint="en-gb")
