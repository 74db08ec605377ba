"""The hands of ``aether bench soak``: a user at the real app's window, one turn after another.

:class:`SoakDriver` lives on the GUI thread of the running desktop app
(:func:`aether_qt.app.run_app`, handed over through its ``on_ready`` hook) and
does what a person does there: it types each message into the message box and
presses Enter, clicks "Allow once" on the approval card a ``write`` brings up,
and picks another persona in the header's picker. It learns what happened the
way the widgets do, from the bus through a :class:`~aether_qt.core.bus.QtBusBridge`
(turns began and ended, tokens streamed, memories added, recalled and
forgotten, tickets opened, personas activated), and keeps per turn only a small
:class:`TurnRecord`: a driver that kept every event would itself look like a
leak. Every ``sample_every`` turns, and before the first and after the last, it
calls ``sample`` (the process's RSS, threads, descriptors and database sizes).

Nothing here is a new way into the app: the hook existed for the benchmarks and
the tests, and every action goes through a widget's own input.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtTest import QTest

from aether_qt.app import AppParts
from aether_qt.core.bus import QtBusBridge
from aether_qt.core.events import (
    Envelope,
    MemoryChanged,
    MemoryRecalled,
    PersonaActivated,
    TicketOpened,
    TokensStreamed,
    TurnBegan,
    TurnEnded,
)
from aether_qt.policy.decisions import ApprovalChoice

TURN_TIMEOUT_MS = 180_000  # a turn that has not ended by then stops the soak (the app is stuck)
POLL_MS = 50  # while waiting for the model and memory to be ready
READY_TIMEOUT_S = 180.0


@dataclass(frozen=True, slots=True)
class Step:
    """One planned turn: its kind, the text to type (or the persona to pick) and what to check."""

    kind: str
    text: str = ""
    fact_value: str = ""  # remember/recall: the value the reply may repeat
    file: Path | None = None  # write: the file the approved call must create
    file_text: str = ""
    persona_id: str = ""  # persona: the persona to pick


@dataclass(slots=True)
class TurnRecord:
    """What one turn did: how long it took from Enter (or the pick) to its end, and whether it worked."""

    index: int
    kind: str
    ms: float = 0.0
    ok: bool = False
    outcome: str = ""
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON."""
        return {
            "index": self.index,
            "kind": self.kind,
            "ms": round(self.ms, 1),
            "ok": self.ok,
            "outcome": self.outcome,
            "detail": self.detail,
        }


@dataclass(slots=True)
class _Turn:
    """What the driver notices while one turn runs (dropped when it ends)."""

    step: Step
    record: TurnRecord
    started: float
    turn_id: str = ""
    tokens: int = 0
    added: tuple[str, ...] = ()
    recalled: tuple[str, ...] = ()
    forgotten: tuple[str, ...] = ()
    ticket_id: str = ""
    reply: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class SoakDriver(QObject):
    """Drives the app through ``steps`` once the model and memory are ready, then quits it.

    Args:
        parts: what :func:`~aether_qt.app.run_app` built (window, bus, conversation, memory...).
        steps: the turns, in order.
        sample: called with the number of turns done so far; returns one measurement.
        sample_every: turns between two measurements.
    """

    def __init__(
        self,
        *,
        parts: AppParts,
        steps: Sequence[Step],
        sample: Callable[[int], dict[str, Any]],
        sample_every: int = 50,
    ) -> None:
        super().__init__(parts.window)
        assert parts.bus is not None and parts.conversation is not None
        self._parts = parts
        self._steps = list(steps)
        self._sample = sample
        self._sample_every = sample_every
        self.records: list[TurnRecord] = []
        self.samples: list[dict[str, Any]] = []
        self.facts: dict[str, str] = {}  # fact value -> the memory item that holds it
        self.error = ""
        self.ready_s = 0.0
        self._turn: _Turn | None = None
        self._began = time.perf_counter()
        self._bridge = QtBusBridge(bus=parts.bus, parent=self)
        self._bridge.sig_event_published.connect(self._on_bridge_event_published)
        self._watchdog = QTimer(self)
        self._watchdog.setSingleShot(True)
        self._watchdog.setInterval(TURN_TIMEOUT_MS)
        self._watchdog.timeout.connect(self._on_watchdog_timeout)

    def start(self) -> None:
        """Begin once the event loop runs: wait for the model and memory, then play the steps."""
        QTimer.singleShot(0, self._wait_ready)

    # ------------------------------------------------------------------ pacing

    def _ready(self) -> bool:
        parts = self._parts
        assert parts.conversation is not None
        memory_ready = parts.memory is None or parts.memory.service.started
        voice_started = parts.late is None or parts.late.voice is not None
        return parts.conversation.model_ready() and memory_ready and voice_started

    def _wait_ready(self) -> None:
        if self._ready():
            self.ready_s = time.perf_counter() - self._began
            self.samples.append(self._sample(0))
            self._next()
        elif time.perf_counter() - self._began > READY_TIMEOUT_S:
            self._stop(f"the app was not ready (model and memory) within {READY_TIMEOUT_S:g} s")
        else:
            QTimer.singleShot(POLL_MS, self._wait_ready)

    def _next(self) -> None:
        done = len(self.records)
        if done and done % self._sample_every == 0 and self.samples[-1]["turn"] != done:
            self.samples.append(self._sample(done))
        if done == len(self._steps):
            if self.samples[-1]["turn"] != done:
                self.samples.append(self._sample(done))
            self._stop("")
            return
        step = self._steps[done]
        record = TurnRecord(index=done, kind=step.kind)
        self._watchdog.start()
        if step.kind == "persona":
            self._turn = _Turn(step, record, time.perf_counter())
            self._pick_persona(step.persona_id)
        else:
            self._type(step.text)
            self._turn = _Turn(step, record, time.perf_counter())
            QTest.keyClick(self._parts.window.conversation_view.input, Qt.Key.Key_Return)

    def _type(self, text: str) -> None:
        box = self._parts.window.conversation_view.input
        box.setFocus()
        QTest.keyClicks(box, text)

    def _pick_persona(self, persona_id: str) -> None:
        picker = self._parts.window.persona_picker
        if picker is None:
            self._finish(ok=False, detail="the window has no persona picker")
            return
        row = picker.index_of(persona_id)
        if row < 0:
            self._finish(ok=False, detail=f"{persona_id} is not in the picker")
            return
        picker.setCurrentIndex(row)
        picker.activated.emit(row)  # what a click on the entry sends

    def _finish(self, *, ok: bool, outcome: str = "", detail: str = "") -> None:
        turn, self._turn = self._turn, None
        if turn is None:
            return
        self._watchdog.stop()
        turn.record.ms = (time.perf_counter() - turn.started) * 1000
        turn.record.ok, turn.record.outcome, turn.record.detail = ok, outcome, detail
        self.records.append(turn.record)
        QTimer.singleShot(0, self._next)  # let the window draw the end of the turn first

    def _stop(self, error: str) -> None:
        self.error = error
        self._watchdog.stop()
        self._bridge.detach()
        QTimer.singleShot(0, self._parts.app.quit)

    def _on_watchdog_timeout(self) -> None:
        turn = self._turn
        kind = turn.step.kind if turn is not None else "?"
        self._stop(f"turn {len(self.records)} ({kind}) did not end within {TURN_TIMEOUT_MS // 1000} s")

    # ------------------------------------------------------------------ what happened

    def _on_bridge_event_published(self, env: Envelope) -> None:
        turn, payload = self._turn, env.payload
        if turn is None:
            return
        if isinstance(payload, PersonaActivated):
            if turn.step.kind == "persona" and payload.persona_id == turn.step.persona_id:
                self._finish(ok=True, outcome="Activated", detail=payload.persona_id)
        elif isinstance(payload, TurnBegan):
            turn.turn_id = turn.turn_id or payload.turn_id
        elif turn.turn_id and env.turn_id in (None, turn.turn_id):
            # nothing before the turn began: the previous chat turn's episode is kept after its end
            self._notice(turn, payload)

    def _notice(self, turn: _Turn, payload: object) -> None:
        """Keep what the running turn's events say about it; judge it at its end."""
        if isinstance(payload, TokensStreamed):
            turn.tokens += 1
        elif isinstance(payload, MemoryChanged) and payload.change in ("added", "reinforced"):
            turn.added += payload.item_ids
        elif isinstance(payload, MemoryChanged) and payload.change == "forgotten":
            turn.forgotten += payload.item_ids
        elif isinstance(payload, MemoryRecalled) and payload.turn_id == turn.turn_id:
            turn.recalled += payload.item_ids
        elif isinstance(payload, TicketOpened):
            turn.ticket_id = payload.ticket_id
        elif isinstance(payload, TurnEnded) and payload.turn_id == turn.turn_id:
            turn.reply = payload.reply
            self._judge(turn, payload.outcome)

    def _judge(self, turn: _Turn, outcome: str) -> None:
        """Decide whether the turn did what its kind promises, then finish it."""
        step, fact = turn.step, self.facts.get(turn.step.fact_value, "")
        if step.kind == "write":
            self._approve(turn, outcome)
            return
        if step.kind in ("chat", "greeting"):
            ok, detail = outcome == "Answered" and turn.tokens > 0, f"{turn.tokens} tokens"
        elif step.kind == "remember":
            ok, detail = bool(turn.added), ",".join(turn.added)
            if ok:
                self.facts[step.fact_value] = turn.added[0]
        elif step.kind == "recall":
            ok = bool(fact) and fact in turn.recalled
            detail = f"recalled={ok} said={step.fact_value in turn.reply}"
        elif step.kind == "forget":
            ok, detail = bool(fact) and fact in turn.forgotten, ",".join(turn.forgotten)
        else:
            ok, detail = False, f"unknown kind {step.kind}"
        self._finish(ok=ok, outcome=outcome, detail=detail)

    def _approve(self, turn: _Turn, outcome: str) -> None:
        """Click "Allow once" on the turn's approval card; the file must then exist, with its text."""
        target = turn.step.file
        card = self._parts.window.conversation_view.transcript.cards.get(turn.ticket_id)
        if card is None or target is None:
            self._finish(ok=False, outcome=outcome, detail="no approval card")
            return
        existed = target.exists()
        card.buttons[ApprovalChoice.ALLOW_ONCE].click()
        written = target.exists() and target.read_text(encoding="utf-8") == turn.step.file_text
        self._finish(ok=written and not existed, outcome=outcome, detail=f"approved {target.name}")
