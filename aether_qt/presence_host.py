"""Presence in the desktop app: the scheduler's worker on its own QThread, feeding the avatar.

The :class:`~aether_qt.engines.presence.worker.PresenceWorker` computes a
:class:`~aether_qt.engines.presence.frame.BehaviorFrame` at 30 fps (60 while
speaking) in the presence thread, from the bus events it receives through the
bridge (turn states, persona looks, model status, approvals). The main
window's avatar only draws the newest frame; when it is hidden or minimised it
says so and the worker pauses, so a hidden window costs nothing.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, QThread, Slot

from aether_qt.avatar.view import AvatarView
from aether_qt.bus import QtBusBridge
from aether_qt.engines.persona.compiled import VisualPart
from aether_qt.engines.presence.scheduler import PresenceScheduler, VisualParams
from aether_qt.engines.presence.worker import PresenceWorker
from aether_qt.policy.contracts import SystemClock

_log = logging.getLogger(__name__)
STOP_TIMEOUT_MS = 3000


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
        self._thread = QThread(self)
        self._thread.setObjectName("aether-presence")
        self.worker.moveToThread(self._thread)
        self.worker.attach_bridge(bridge)
        self._avatar: AvatarView | None = None

    def drive(self, avatar: AvatarView) -> None:
        """Send frames to ``avatar``; pause while it is not visible."""
        self._avatar = avatar
        self.worker.sig_frame_ready.connect(avatar.show_frame)
        avatar.sig_visibility_changed.connect(self._on_avatar_visibility_changed)

    def start(self) -> None:
        """Start the presence thread and its frame timer."""
        self._thread.start()
        self.worker.start()

    def stop(self) -> None:
        """Stop the frames and the thread (idempotent)."""
        if self._thread.isRunning():
            self.worker.stop()
            self._thread.quit()
            if not self._thread.wait(STOP_TIMEOUT_MS):
                _log.error("the presence thread did not stop in %d ms", STOP_TIMEOUT_MS)

    @Slot(bool)
    def _on_avatar_visibility_changed(self, visible: bool) -> None:
        if visible:
            self.worker.resume()
        else:
            self.worker.pause()
