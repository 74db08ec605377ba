"""Presence in the desktop app: the scheduler's worker on its own QThread, feeding the avatar.

The :class:`~aether_qt.engines.presence.worker.PresenceWorker` computes a
:class:`~aether_qt.engines.presence.frame.BehaviorFrame` at 30 fps (60 while
speaking) in the presence thread, from the bus events it receives through the
bridge (turn states, persona looks, model status, approvals). The main
window's avatar only draws the newest frame; when it is hidden or minimised it
says so and the worker pauses, so a hidden window costs nothing. The host knows
the avatar only as a :class:`FrameView` (the composition root hands it over).
"""

from __future__ import annotations

import time
from typing import Protocol

from PySide6.QtCore import QObject, SignalInstance, Slot

from aether_qt.core.bus import QtBusBridge
from aether_qt.core.qt_threads import WorkerThread
from aether_qt.engines.persona.compiled import VisualPart
from aether_qt.engines.presence.frame import BehaviorFrame
from aether_qt.engines.presence.scheduler import PresenceScheduler, VisualParams
from aether_qt.engines.presence.worker import PresenceWorker
from aether_qt.policy.contracts import SystemClock

STOP_TIMEOUT_MS = 3000


class FrameView(Protocol):
    """What draws the frames: the avatar view, as the presence host sees it."""

    @property
    def sig_visibility_changed(self) -> SignalInstance:
        """Emits False when the view cannot be seen (frames are then not needed), True again."""
        ...

    def show_frame(self, frame: BehaviorFrame) -> None:
        """Draw the newest frame."""


def visual_params(visual: VisualPart) -> VisualParams:
    """The scheduler's view of a persona's look."""
    return VisualParams(
        palette=dict(visual.palette),
        shape=visual.shape,
        blink_rate=visual.blink_rate,
        idle_motion=visual.idle_motion,
        gaze_style=visual.gaze_style,
    )


class PresenceHost(QObject):
    """Owns the presence thread and connects its frames to one avatar."""

    def __init__(self, *, visual: VisualPart, bridge: QtBusBridge, reduced_motion: bool = False) -> None:
        super().__init__()
        scheduler = PresenceScheduler(
            clock=SystemClock(),
            visual=visual_params(visual),
            seed=time.monotonic_ns() & 0xFFFFFFFF,
            reduced_motion=reduced_motion,
        )
        self.worker = PresenceWorker(scheduler=scheduler)
        self._thread = WorkerThread("aether-presence", stop_timeout_ms=STOP_TIMEOUT_MS, parent=self)
        self._thread.adopt(self.worker)
        self.worker.attach_bridge(bridge)

    def drive(self, view: FrameView) -> None:
        """Send frames to ``view``; pause while it is not visible."""
        self.worker.sig_frame_ready.connect(view.show_frame)
        view.sig_visibility_changed.connect(self._on_avatar_visibility_changed)

    def start(self) -> None:
        """Start the presence thread and its frame timer."""
        self._thread.start()
        self.worker.start()

    def stop(self) -> None:
        """Stop the frames and the thread (idempotent)."""
        self._thread.stop(self.worker.stop)

    @Slot(bool)
    def _on_avatar_visibility_changed(self, visible: bool) -> None:
        if visible:
            self.worker.resume()
        else:
            self.worker.pause()
