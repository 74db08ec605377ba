"""The presence worker ticks in its own QThread, follows the bus, pauses and stops cleanly.

Frame-rate checks are behaviour checks with generous bounds (a loaded CI box is
slow), not benchmarks.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QObject, QThread, Slot
from pytestqt.qtbot import QtBot

from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.core.events import (
    ModelStatusChanged,
    PersonaActivated,
    PostureChanged,
    TicketAnswered,
    TicketOpened,
    TurnEnded,
    TurnStateChanged,
)
from aether_qt.engines.presence.frame import BehaviorFrame, Behaviour
from aether_qt.engines.presence.mapping import TINTS
from aether_qt.engines.presence.scheduler import PresenceScheduler, VisualParams
from aether_qt.engines.presence.worker import PresenceWorker
from aether_qt.policy.contracts import SystemClock


class Frames(QObject):
    """Lives in the GUI thread; collects frames and the threads they were made in."""

    def __init__(self) -> None:
        super().__init__()
        self.frames: list[BehaviorFrame] = []

    @Slot(object)
    def on_frame(self, frame: BehaviorFrame) -> None:
        self.frames.append(frame)

    @property
    def last(self) -> BehaviorFrame:
        return self.frames[-1]

    def shows(self, behaviour: Behaviour) -> bool:
        return bool(self.frames) and self.frames[-1].behaviour is behaviour

    def count_during(self, qtbot: QtBot, ms: int) -> int:
        before = len(self.frames)
        qtbot.wait(ms)
        return len(self.frames) - before


class Presence:
    """A worker in a "presence" thread, as the composition root wires it."""

    def __init__(self, *, bridge: QtBusBridge | None = None) -> None:
        visual = VisualParams(palette={"accent": "#5599cc"})
        self.worker = PresenceWorker(scheduler=PresenceScheduler(clock=SystemClock(), visual=visual, seed=1))
        self.thread = QThread()
        self.thread.setObjectName("presence")
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.start)
        self.sink = Frames()
        self.worker.sig_frame_ready.connect(self.sink.on_frame)
        if bridge is not None:
            self.worker.attach_bridge(bridge)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.worker.stop()  # blocking: the timer stops in its own thread
        self.thread.quit()
        assert self.thread.wait(3000)


@pytest.fixture
def presence(bridge: QtBusBridge) -> Iterator[Presence]:
    p = Presence(bridge=bridge)
    p.start()
    yield p
    p.stop()
    assert not p.thread.isRunning()


def test_frames_arrive_at_about_30_per_second_pause_stops_them_resume_restarts(
    qtbot: QtBot, presence: Presence
) -> None:
    qtbot.waitUntil(lambda: len(presence.sink.frames) > 0, timeout=2000)
    assert 20 <= presence.sink.count_during(qtbot, 1000) <= 40
    presence.worker.pause()
    qtbot.wait(100)  # frames already queued may still land
    assert presence.sink.count_during(qtbot, 400) == 0
    presence.worker.resume()
    qtbot.waitUntil(lambda: presence.sink.count_during(qtbot, 200) > 0, timeout=2000)
    seqs = [f.seq for f in presence.sink.frames]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_frames_are_made_in_the_presence_thread(qtbot: QtBot) -> None:
    p = Presence()
    made_in: list[str] = []

    class Probe(QObject):
        @Slot(object)
        def on_frame(self, _frame: BehaviorFrame) -> None:
            made_in.append(QThread.currentThread().objectName())

    probe = Probe()
    probe.moveToThread(p.thread)
    p.worker.sig_frame_ready.connect(probe.on_frame)
    p.start()
    try:
        qtbot.waitUntil(lambda: len(made_in) >= 3, timeout=2000)
        assert set(made_in) == {"presence"}
    finally:
        p.stop()


def test_speaking_ticks_at_about_60_per_second(qtbot: QtBot, bus: EventBus, presence: Presence) -> None:
    bus.publish(TurnStateChanged(turn_id="t1", state="Speaking", elapsed_ms=1.0), source_layer="L1")
    qtbot.waitUntil(lambda: presence.sink.shows(Behaviour.SPEAKING), timeout=2000)
    assert 40 <= presence.sink.count_during(qtbot, 1000) <= 80


def test_bus_events_drive_the_behaviour(qtbot: QtBot, bus: EventBus, presence: Presence) -> None:
    def shows(behaviour: Behaviour) -> None:
        qtbot.waitUntil(lambda: presence.sink.shows(behaviour), timeout=2000)

    qtbot.waitUntil(lambda: len(presence.sink.frames) > 0, timeout=2000)
    bus.publish(TurnStateChanged(turn_id="t1", state="Thinking", elapsed_ms=1.0), source_layer="L1")
    shows(Behaviour.THINKING)
    bus.publish(TurnStateChanged(turn_id="t1", state="Martian", elapsed_ms=2.0), source_layer="L1")
    bus.publish(
        TurnEnded(turn_id="t1", outcome="Answered", final_state="Speaking", reply="hi"), source_layer="L1"
    )
    shows(Behaviour.IDLE)

    bus.publish(TicketOpened("k1", "r1", "shell.exec", "ls", "high", "a1"), source_layer="policy")
    shows(Behaviour.AWAITING_APPROVAL)
    bus.publish(TicketAnswered(ticket_id="k1", choice="deny", audit_id="a2"), source_layer="policy")
    shows(Behaviour.IDLE)

    bus.publish(ModelStatusChanged("m1", "missing", 0.0, "no file"), source_layer="L4")
    shows(Behaviour.DEGRADED)
    bus.publish(PostureChanged(flag="audit_broken", active=True, message="disk"), source_layer="policy")
    bus.publish(ModelStatusChanged("m1", "ready", 1.0, ""), source_layer="L4")
    qtbot.wait(150)
    assert presence.sink.last.behaviour is Behaviour.DEGRADED  # the audit is still broken
    bus.publish(PostureChanged(flag="audit_broken", active=False, message=""), source_layer="policy")
    shows(Behaviour.IDLE)

    palette = (("primary", "#101010"), ("accent", "#aa3344"))
    persona = PersonaActivated("p", "P", "", "h", palette, "droplet", True, ())
    bus.publish(persona, source_layer="L6")
    qtbot.waitUntil(lambda: presence.sink.last.tint == "#aa3344", timeout=2000)
    assert presence.sink.last.tint not in TINTS.values()


def test_stop_is_idempotent_and_no_thread_is_left(qtbot: QtBot) -> None:
    p = Presence()
    p.start()
    qtbot.waitUntil(lambda: len(p.sink.frames) > 0, timeout=2000)
    p.stop()
    p.worker.stop()  # the thread is gone: a plain no-op
    count = len(p.sink.frames)
    qtbot.wait(150)
    assert len(p.sink.frames) == count
    assert not p.thread.isRunning()


def test_persona_look_takes_everything_the_event_carries() -> None:
    from aether_qt.engines.presence.worker import visual_from_persona

    current = VisualParams(palette={}, shape="round", blink_rate=12, idle_motion=0.2, gaze_style="shy")
    event = PersonaActivated(
        "p",
        "P",
        "",
        "h",
        (("accent", "#aa3344"),),
        "droplet",
        True,
        (),
        blink_rate=18,
        idle_motion=0.9,
        gaze_style="curious",
    )
    visual = visual_from_persona(event, current)
    assert dict(visual.palette) == {"accent": "#aa3344"}
    assert visual.shape == "droplet"
    assert (visual.blink_rate, visual.idle_motion, visual.gaze_style) == (18, 0.9, "curious")
    blank_style = PersonaActivated("p", "P", "", "h", (), "", True, (), gaze_style="")
    kept = visual_from_persona(blank_style, current)
    assert (kept.shape, kept.gaze_style) == ("round", "shy")
