"""The presence worker: the scheduler on a timer in the presence thread (DESIGN.md §3, §9).

The composition root creates a :class:`PresenceWorker`, moves it to a QThread
named "presence", connects ``QThread.started`` to :meth:`PresenceWorker.start`
and a :class:`~aether_qt.core.bus.QtBusBridge` with :meth:`PresenceWorker.attach_bridge`.
Bus events reach :meth:`PresenceWorker._on_bus_event_published` queued into the
presence thread, so the scheduler is only ever touched there. Each tick emits
the newest :class:`~aether_qt.engines.presence.frame.BehaviorFrame`; the avatar
only draws it.

Degraded reasons are kept per source (each model, each posture flag) and the
avatar is degraded while any is present: a ``ready`` model clears only its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from aether_qt.core.bus import QtBusBridge
from aether_qt.core.events import (
    Envelope,
    ModelStatusChanged,
    PersonaActivated,
    PostureChanged,
    TicketAnswered,
    TicketOpened,
    TurnEnded,
    TurnStateChanged,
)
from aether_qt.core.qt_threads import queue_into_own_thread
from aether_qt.engines.presence.scheduler import PresenceScheduler, VisualParams

_log = logging.getLogger(__name__)

MODEL_DOWN = frozenset({"missing", "failed"})
DEGRADING_POSTURES = frozenset({"audit_broken"})


class PresenceWorker(QObject):
    """Ticks the presence scheduler and emits frames; fed by the bus.

    Public slots may be called from any thread: a call from another thread is
    queued into the worker's own (``stop`` waits for it), because its timer
    may only be touched there.

    Signals:
        sig_frame_ready(object): a :class:`~aether_qt.engines.presence.frame.BehaviorFrame`.
    """

    sig_frame_ready = Signal(object)

    def __init__(
        self,
        *,
        scheduler: PresenceScheduler,
        degrading_postures: Iterable[str] = DEGRADING_POSTURES,
        parent: QObject | None = None,
    ) -> None:
        """Wrap ``scheduler``; nothing ticks before :meth:`start`.

        Args:
            scheduler: the pure scheduler this worker owns from now on.
            degrading_postures: posture flags (``PostureChanged.flag``) that make the avatar degraded.
            parent: the Qt parent (none when the worker is moved to a thread).
        """
        super().__init__(parent)
        self._scheduler = scheduler
        self._degrading_postures = frozenset(degrading_postures)
        self._timer: QTimer | None = None
        self._running = False
        self._paused = False
        self._degraded_by: set[str] = set()
        self._open_tickets: set[str] = set()

    # ------------------------------------------------------------------ lifecycle

    def attach_bridge(self, bridge: QtBusBridge) -> None:
        """Receive the bus through ``bridge`` (queued into the presence thread)."""
        bridge.sig_event_published.connect(self._on_bus_event_published)

    @Slot()
    def start(self) -> None:
        """Create the timer in this thread and start ticking (idempotent)."""
        if self._defer("start"):
            return
        if self._timer is None:
            self._timer = QTimer(self)
            self._timer.setTimerType(Qt.TimerType.PreciseTimer)
            self._timer.timeout.connect(self._on_timer_timeout)
        self._running = True
        self._schedule()

    @Slot()
    def stop(self) -> None:
        """Stop ticking for good (idempotent); call it before quitting the thread."""
        if self._defer("stop", blocking=True):
            return
        self._running = False
        if self._timer is not None:
            self._timer.stop()

    @Slot()
    def pause(self) -> None:
        """Stop emitting frames (the avatar is hidden)."""
        if self._defer("pause"):
            return
        self._paused = True
        if self._timer is not None:
            self._timer.stop()

    @Slot()
    def resume(self) -> None:
        """Emit frames again after :meth:`pause` (the first one at once)."""
        if self._defer("resume"):
            return
        self._paused = False
        self._schedule()

    # ------------------------------------------------------------------ direct inputs

    @Slot(float)
    def set_mouth_envelope(self, value: float) -> None:
        """The speech envelope, 0..1, from the TTS (connect it queued)."""
        self._scheduler.set_mouth_envelope(value)

    @Slot(bool)
    def set_reduced_motion(self, flag: bool) -> None:
        """The user's reduced-motion setting (connect it queued)."""
        self._scheduler.set_reduced_motion(flag)

    # ------------------------------------------------------------------ internals

    def _defer(self, slot: str, *, blocking: bool = False) -> bool:
        """Queue ``slot`` into the worker's thread when called from another; True if queued."""
        return queue_into_own_thread(self, slot, blocking=blocking)

    def _schedule(self) -> None:
        """Tick now and keep ticking, unless stopped or paused."""
        if self._timer is None or not self._running or self._paused:
            return
        self._on_timer_timeout()
        self._timer.start(self._scheduler.frame_interval_ms())

    @Slot()
    def _on_timer_timeout(self) -> None:
        self.sig_frame_ready.emit(self._scheduler.frame())
        interval = self._scheduler.frame_interval_ms()
        if self._timer is not None and self._timer.isActive() and self._timer.interval() != interval:
            self._timer.setInterval(interval)  # 60 fps while speaking, 30 otherwise

    @Slot(object)
    def _on_bus_event_published(self, env: Envelope) -> None:
        payload = env.payload
        if isinstance(payload, TurnStateChanged):
            self._on_turn_state(payload.state)
        elif isinstance(payload, TurnEnded):
            self._scheduler.set_turn_state("Idle")
        elif isinstance(payload, PersonaActivated):
            self._scheduler.set_visual(visual_from_persona(payload, self._scheduler.visual))
        elif isinstance(payload, ModelStatusChanged):
            self._set_degraded_by(f"model:{payload.model_id}", payload.status in MODEL_DOWN, payload.status)
        elif isinstance(payload, PostureChanged) and payload.flag in self._degrading_postures:
            self._set_degraded_by(f"posture:{payload.flag}", payload.active, payload.message)
        elif isinstance(payload, TicketOpened):
            self._open_tickets.add(payload.ticket_id)
            self._scheduler.set_pending_approval(True)
        elif isinstance(payload, TicketAnswered):
            self._open_tickets.discard(payload.ticket_id)
            self._scheduler.set_pending_approval(bool(self._open_tickets))

    def _on_turn_state(self, state: str) -> None:
        try:
            self._scheduler.set_turn_state(state)
        except ValueError:
            _log.warning("presence ignores the unknown turn state %r", state)
            return
        if state == "BargedIn":
            self._scheduler.barge_in()

    def _set_degraded_by(self, reason: str, down: bool, detail: str) -> None:
        if down and reason not in self._degraded_by:
            _log.info("avatar degraded: %s (%s)", reason, detail)
        if down:
            self._degraded_by.add(reason)
        else:
            self._degraded_by.discard(reason)
        self._scheduler.set_degraded(bool(self._degraded_by))


def visual_from_persona(event: PersonaActivated, current: VisualParams) -> VisualParams:
    """The look announced by ``event``: palette, shape, blink rate, idle motion and gaze style."""
    return VisualParams(
        palette=dict(event.palette),
        shape=event.shape or current.shape,
        blink_rate=event.blink_rate,
        idle_motion=event.idle_motion,
        gaze_style=event.gaze_style or current.gaze_style,
    )
