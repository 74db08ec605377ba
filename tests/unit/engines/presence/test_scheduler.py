"""The presence scheduler on a fake clock (aether_qt/engines/presence/scheduler.py).

Acceptance (issue, part 1): priorities, blink statistics over ten simulated
minutes, no repeated interval, reduced motion, degraded exclusivity, every turn
state mapped to a visible behaviour within one frame.
"""

from __future__ import annotations

import itertools
import statistics

import pytest

from aether_qt.engines.interaction.states import TurnState
from aether_qt.engines.presence.frame import BehaviorFrame, Behaviour
from aether_qt.engines.presence.mapping import STATE_BEHAVIOUR, TINTS
from aether_qt.engines.presence.scheduler import (
    BARGE_IN_PULSE_S,
    MOUTH_REST_SPEAKING,
    PresenceScheduler,
    VisualParams,
)
from aether_qt.policy.contracts import FakeClock

FPS = 30
PALETTE = {"primary": "#334455", "accent": "#5599cc"}


def make(
    clock: FakeClock, *, rate: float = 15.0, seed: int = 1, reduced: bool = False, style: str = "curious"
) -> PresenceScheduler:
    visual = VisualParams(palette=PALETTE, blink_rate=rate, idle_motion=0.6, gaze_style=style)
    return PresenceScheduler(clock=clock, visual=visual, seed=seed, reduced_motion=reduced)


def run(
    scheduler: PresenceScheduler, clock: FakeClock, seconds: float, fps: int = FPS
) -> list[BehaviorFrame]:
    frames = []
    for _ in range(round(seconds * fps)):
        clock.advance(1 / fps)
        frames.append(scheduler.frame())
    return frames


def blink_onsets(frames: list[BehaviorFrame]) -> list[float]:
    onsets = []
    closed = False
    for f in frames:
        if f.blink > 0 and not closed:
            onsets.append(f.t)
        closed = f.blink > 0
    return onsets


# ---------------------------------------------------------------- priorities and mapping


def test_starts_idle_with_the_persona_accent() -> None:
    clock = FakeClock()
    frame = make(clock).frame()
    assert frame.behaviour is Behaviour.IDLE
    assert frame.tint == "#5599cc"
    assert frame.seq == 1


@pytest.mark.parametrize("state", list(TurnState))
def test_every_turn_state_shows_within_one_frame(state: TurnState) -> None:
    clock = FakeClock()
    scheduler = make(clock)
    run(scheduler, clock, 1.0)
    scheduler.set_turn_state(state.value)
    clock.advance(1 / FPS)
    frame = scheduler.frame()
    expected = STATE_BEHAVIOUR[state.value]
    assert frame.behaviour is expected
    if expected is not Behaviour.IDLE:
        assert frame.tint == TINTS[expected]  # visible: the accent changes at once
        assert frame.tint != "#5599cc"


def test_priorities_highest_input_wins_and_falls_back_in_order() -> None:
    clock = FakeClock()
    scheduler = make(clock)
    scheduler.set_turn_state("Thinking")
    scheduler.set_pending_approval(True)
    assert scheduler.frame().behaviour is Behaviour.THINKING
    scheduler.set_turn_state("Speaking")
    assert scheduler.frame().behaviour is Behaviour.SPEAKING
    scheduler.barge_in()
    assert scheduler.frame().behaviour is Behaviour.BARGE_IN
    scheduler.set_degraded(True)
    assert scheduler.frame().behaviour is Behaviour.DEGRADED
    scheduler.set_degraded(False)
    assert scheduler.frame().behaviour is Behaviour.BARGE_IN
    clock.advance(BARGE_IN_PULSE_S + 0.01)  # the pulse ends by itself
    assert scheduler.frame().behaviour is Behaviour.SPEAKING
    scheduler.set_turn_state("Idle")
    assert scheduler.frame().behaviour is Behaviour.AWAITING_APPROVAL
    scheduler.set_pending_approval(False)
    assert scheduler.frame().behaviour is Behaviour.IDLE


def test_repair_beats_speaking_and_degraded_beats_everything() -> None:
    clock = FakeClock()
    scheduler = make(clock)
    scheduler.set_turn_state("Repairing")
    scheduler.set_pending_approval(True)
    assert scheduler.frame().behaviour is Behaviour.REPAIR
    for state in TurnState:
        scheduler.set_turn_state(state.value)
        scheduler.set_degraded(True)
        scheduler.barge_in()
        assert scheduler.frame().behaviour is Behaviour.DEGRADED


def test_unknown_state_is_refused_and_changes_nothing() -> None:
    clock = FakeClock()
    scheduler = make(clock)
    scheduler.set_turn_state("Listening")
    with pytest.raises(ValueError, match="Nope"):
        scheduler.set_turn_state("Nope")
    assert scheduler.frame().behaviour is Behaviour.LISTENING


def test_seq_is_monotonic_and_t_follows_the_clock() -> None:
    clock = FakeClock()
    frames = run(make(clock), clock, 2.0)
    assert [f.seq for f in frames] == list(range(1, len(frames) + 1))
    assert frames[-1].t == pytest.approx(2.0, abs=1e-6)
    assert all(a.t < b.t for a, b in itertools.pairwise(frames))


# ---------------------------------------------------------------- blinks


@pytest.mark.parametrize("rate", [10.0, 15.0, 20.0])
def test_blink_statistics_over_ten_simulated_minutes(rate: float) -> None:
    clock = FakeClock()
    scheduler = make(clock, rate=rate, seed=int(rate))
    scheduler.set_turn_state("Listening")
    frames = run(scheduler, clock, 600.0)
    onsets = blink_onsets(frames)
    per_minute = [sum(1 for t in onsets if m * 60 <= t < (m + 1) * 60) for m in range(10)]
    assert 10 <= len(onsets) / 10 <= 20
    assert all(10 <= n <= 20 for n in per_minute), per_minute
    observed = [b - a for a, b in itertools.pairwise(onsets)]
    assert statistics.pstdev(observed) > 0.1  # jitter, not a metronome
    # each blink is seen closing well past half way, even at 30 fps
    peaks = [max(f.blink for f in frames if t <= f.t < t + 0.2) for t in onsets]
    assert min(peaks) > 0.6


def test_no_blink_interval_repeats_when_sampled_every_millisecond() -> None:
    # At 30 fps onsets are quantised to frames; at 1 ms they are exact (intervals are whole ms).
    clock = FakeClock()
    scheduler = make(clock, rate=20, seed=11)
    onsets_ms = []
    closed = False
    for ms in range(1, 90_001):
        clock.advance(0.001)
        blink = scheduler.frame().blink
        if blink > 0 and not closed:
            onsets_ms.append(ms)
        closed = blink > 0
    intervals = [b - a for a, b in itertools.pairwise(onsets_ms)]
    assert len(intervals) >= 15
    assert len(set(intervals)) == len(intervals)
    assert all(3000 <= i <= 6000 for i in intervals)


def test_blink_rate_follows_a_persona_hot_reload() -> None:
    clock = FakeClock()
    scheduler = make(clock, rate=10)
    slow = len(blink_onsets(run(scheduler, clock, 300.0)))
    scheduler.set_visual(VisualParams(palette=PALETTE, blink_rate=20))
    fast = len(blink_onsets(run(scheduler, clock, 300.0)))
    assert fast > slow


def test_blinks_are_reproducible_for_a_seed() -> None:
    def onsets(seed: int) -> list[float]:
        clock = FakeClock()
        return blink_onsets(run(make(clock, seed=seed), clock, 60.0))

    assert onsets(5) == onsets(5)
    assert onsets(5) != onsets(6)


# ---------------------------------------------------------------- channels


@pytest.mark.parametrize(
    "state", ["Speaking", "Thinking", "Listening", "Idle", "AwaitingApproval", "Repairing"]
)
def test_breath_survives_every_behaviour_but_degraded(state: str) -> None:
    clock = FakeClock()
    scheduler = make(clock)
    scheduler.set_turn_state(state)
    breaths = [f.breath for f in run(scheduler, clock, 5.0)]
    assert statistics.pstdev(breaths) > 0.3
    assert all(-1.0 <= b <= 1.0 for b in breaths)


def test_degraded_is_exclusive_and_liveness_returns_after() -> None:
    clock = FakeClock()
    scheduler = make(clock, rate=20)
    scheduler.set_turn_state("Speaking")
    scheduler.set_mouth_envelope(0.8)
    run(scheduler, clock, 1.0)
    scheduler.set_degraded(True)
    frames = []
    for _ in range(30 * 30):  # thirty seconds: many blinks would have been due
        clock.advance(1 / 30)
        scheduler.set_mouth_envelope(0.8)  # audio still arriving must not move the mouth
        frames.append(scheduler.frame())
    assert {f.behaviour for f in frames} == {Behaviour.DEGRADED}
    assert all(f.blink == 0.0 and f.breath == 0.0 and f.intensity == 0.0 for f in frames)
    assert all(f.mouth_open == 0.0 and f.gaze_x == 0.0 and f.gaze_y == 0.0 for f in frames)
    assert all(f.head_tilt == 0.0 and f.tint == TINTS[Behaviour.DEGRADED] for f in frames)
    scheduler.set_degraded(False)
    after = run(scheduler, clock, 10.0)
    assert after[0].behaviour is Behaviour.SPEAKING
    assert statistics.pstdev([f.breath for f in after]) > 0.3
    assert blink_onsets(after)
    assert after[0].blink == 0.0  # no burst of overdue blinks on recovery


def test_mouth_follows_the_envelope_only_while_speaking() -> None:
    clock = FakeClock()
    scheduler = make(clock)
    scheduler.set_turn_state("Speaking")
    seen = []
    for k in range(60):
        clock.advance(1 / 60)
        value = (k % 10) / 10
        scheduler.set_mouth_envelope(value)
        seen.append((value, scheduler.frame().mouth_open))
    assert all(mouth == pytest.approx(value) for value, mouth in seen)
    for state in ("Listening", "Thinking", "Idle", "Acknowledging"):
        scheduler.set_turn_state(state)
        scheduler.set_mouth_envelope(0.9)
        assert scheduler.frame().mouth_open == 0.0


def test_speaking_without_audio_keeps_the_mouth_still_and_slightly_open() -> None:
    clock = FakeClock()
    scheduler = make(clock)
    scheduler.set_turn_state("Streaming")
    mouths = {f.mouth_open for f in run(scheduler, clock, 3.0)}
    assert mouths == {MOUTH_REST_SPEAKING}
    scheduler.set_mouth_envelope(0.7)
    assert scheduler.frame().mouth_open == 0.7
    clock.advance(1.0)  # the audio stopped: the envelope goes stale
    assert scheduler.frame().mouth_open == MOUTH_REST_SPEAKING


def test_envelope_is_clamped() -> None:
    clock = FakeClock()
    scheduler = make(clock)
    scheduler.set_turn_state("Speaking")
    for raw, expected in ((3.0, 1.0), (-1.0, 0.0), (float("nan"), 0.0)):
        scheduler.set_mouth_envelope(raw)
        assert scheduler.frame().mouth_open == expected


def test_frame_interval_is_16_ms_while_speaking_and_33_otherwise() -> None:
    clock = FakeClock()
    scheduler = make(clock)
    assert scheduler.frame_interval_ms() == 33
    scheduler.set_turn_state("Speaking")
    assert scheduler.frame_interval_ms() == 16
    scheduler.set_degraded(True)
    assert scheduler.frame_interval_ms() == 33
    scheduler.set_degraded(False)
    scheduler.set_turn_state("Thinking")
    assert scheduler.frame_interval_ms() == 33


# ---------------------------------------------------------------- gaze and reduced motion


def test_reduced_motion_fixes_gaze_and_tilt_but_keeps_blinks_and_breath() -> None:
    clock = FakeClock()
    scheduler = make(clock, reduced=True)
    frames: list[BehaviorFrame] = []
    for state in ("Listening", "Thinking", "Speaking", "Idle", "Repairing"):
        scheduler.set_turn_state(state)
        frames += run(scheduler, clock, 12.0)
    assert all(f.gaze_x == 0.0 and f.gaze_y == 0.0 and f.head_tilt == 0.0 for f in frames)
    assert blink_onsets(frames)
    assert statistics.pstdev([f.breath for f in frames]) > 0.3
    assert all(f.intensity <= 0.35 for f in frames)


def test_reduced_motion_can_be_switched_at_run_time() -> None:
    clock = FakeClock()
    scheduler = make(clock)
    scheduler.set_turn_state("Thinking")
    assert any(abs(f.gaze_x) > 0.3 for f in run(scheduler, clock, 6.0))
    scheduler.set_reduced_motion(True)
    assert scheduler.reduced_motion
    frame = scheduler.frame()
    assert (frame.gaze_x, frame.gaze_y, frame.head_tilt) == (0.0, 0.0, 0.0)


def test_thinking_glances_up_and_away_and_comes_back() -> None:
    clock = FakeClock()
    scheduler = make(clock)
    scheduler.set_turn_state("Thinking")
    frames = run(scheduler, clock, 20.0)
    away = [f for f in frames if abs(f.gaze_x) > 0.4]
    assert away and all(f.gaze_y > 0.2 for f in away)  # up-left or up-right
    assert {f.gaze_x > 0 for f in away} == {True, False}
    assert any(abs(f.gaze_x) < 0.05 and abs(f.gaze_y) < 0.05 for f in frames)  # returns


def test_listening_stays_on_the_user_with_micro_movements() -> None:
    clock = FakeClock()
    scheduler = make(clock)
    scheduler.set_turn_state("Listening")
    frames = run(scheduler, clock, 20.0)[10:]  # after the first saccade
    assert all(abs(f.gaze_x) < 0.2 and abs(f.gaze_y) < 0.2 for f in frames)
    assert statistics.pstdev([f.gaze_x for f in frames]) > 0.001


def test_speaking_looks_at_the_user_with_natural_breaks() -> None:
    clock = FakeClock()
    scheduler = make(clock)
    scheduler.set_turn_state("Speaking")
    frames = run(scheduler, clock, 30.0, fps=60)
    at_user = sum(1 for f in frames if abs(f.gaze_x) < 0.1 and abs(f.gaze_y) < 0.1)
    breaks = blink_like_onsets([abs(f.gaze_x) > 0.2 for f in frames])
    assert at_user / len(frames) > 0.6
    assert 3 <= breaks <= 12  # one every few seconds


def blink_like_onsets(flags: list[bool]) -> int:
    return sum(1 for a, b in zip([False, *flags], flags, strict=False) if b and not a)


@pytest.mark.parametrize("style", ["steady", "curious", "shy"])
def test_idle_wanders_slowly_by_gaze_style(style: str) -> None:
    clock = FakeClock()
    scheduler = make(clock, style=style)
    frames = run(scheduler, clock, 60.0)
    xs = [f.gaze_x for f in frames]
    moving = [abs(b - a) > 0.02 for a, b in itertools.pairwise(xs)]
    assert statistics.pstdev(xs) > 0.01
    assert 3 <= blink_like_onsets(moving) <= 40  # a few saccades a minute, not constant jitter
    if style == "shy":
        assert statistics.mean(f.gaze_y for f in frames) < -0.1


def test_barge_in_snaps_to_the_user() -> None:
    clock = FakeClock()
    scheduler = make(clock)
    scheduler.set_turn_state("Thinking")
    frames = run(scheduler, clock, 0.5)
    assert abs(frames[-1].gaze_x) > 0.3
    scheduler.barge_in()
    frame = scheduler.frame()
    assert frame.behaviour is Behaviour.BARGE_IN
    assert (frame.gaze_x, frame.gaze_y) == (0.0, 0.0)


def test_head_tilt_stays_small_and_never_pops() -> None:
    clock = FakeClock()
    scheduler = make(clock)
    frames: list[BehaviorFrame] = []
    for state in ("Listening", "Thinking", "Speaking", "Idle", "Listening"):
        scheduler.set_turn_state(state)
        frames += run(scheduler, clock, 4.0)
    tilts = [f.head_tilt for f in frames]
    assert max(abs(t) for t in tilts) < 0.15
    assert max(abs(b - a) for a, b in itertools.pairwise(tilts)) < 0.02
    assert statistics.pstdev(tilts) > 0.005
