"""The memory engine in the desktop app: its own thread, and results handed back to the GUI thread.

:class:`MemoryHost` owns the memory thread (a :class:`~aether_qt.core.qt_threads.WorkerThread`).
:meth:`~MemoryHost.start` loads the embedder and the index there (a rebuild
reports progress on the bus), and a timer in that thread runs the retention
sweep and the purge of old tombstones every :data:`SWEEP_INTERVAL_MS`. Widgets
never call :class:`MemoryService` directly: they :meth:`~MemoryHost.call` a
function, which runs in the memory thread, and get its result (or its
exception) back in the GUI thread, so a search over 100k items or an import
never freezes the window. The conductor calls the service from the interaction
thread; the service's own lock keeps them apart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Slot

from aether_qt.core.qt_threads import Done, Failed, WorkerThread
from aether_qt.services.memory.service import MemoryService

_log = logging.getLogger(__name__)
SWEEP_INTERVAL_MS = 15 * 60 * 1000

Job = Callable[[MemoryService], Any]


class _Sweeper(QObject):
    """Lives in the memory thread: starts the service and runs the periodic sweep."""

    def __init__(self, service: MemoryService, sweep_ms: int) -> None:
        super().__init__()
        self._service = service
        self._sweep_ms = sweep_ms
        self._timer: QTimer | None = None

    @Slot()
    def _on_thread_started(self) -> None:
        try:
            self._service.start()
        except Exception as exc:  # memory stays unavailable; turns go on without it
            _log.exception("memory did not start")
            self._service.mark_unavailable(str(exc) or type(exc).__name__)
            return
        self._timer = QTimer(self)
        self._timer.setInterval(self._sweep_ms)
        self._timer.timeout.connect(self._on_timer_sweep)
        self._timer.start()
        self._on_timer_sweep()

    @Slot()
    def _on_timer_sweep(self) -> None:
        try:
            expired, purged = self._service.maintain()
        except Exception:
            _log.exception("the memory sweep failed")
            return
        if expired or purged:
            _log.info("memory sweep: %d expired, %d purged", expired, purged)

    def close(self) -> None:
        """In the memory thread: stop the sweep, end the session's episodes, close the service."""
        if self._timer is not None:
            self._timer.stop()
        try:
            self._service.end_session()
            self._service.close()
        except Exception:
            _log.exception("memory did not close cleanly")


class MemoryHost(QObject):
    """Owns the memory thread (see the module docstring)."""

    def __init__(self, *, service: MemoryService, sweep_ms: int = SWEEP_INTERVAL_MS) -> None:
        super().__init__()
        self.service = service
        self._thread = WorkerThread("aether-memory", parent=self)
        self._sweeper = _Sweeper(service, sweep_ms)
        self._thread.adopt(self._sweeper)
        self._thread.qthread.started.connect(self._sweeper._on_thread_started)

    def start(self) -> None:
        """Start the memory thread; the service starts there (embedder, index)."""
        self._thread.start()

    def call(self, job: Job, done: Done | None = None, failed: Failed | None = None) -> None:
        """Run ``job(service)`` in the memory thread; ``done(result)`` or ``failed(exc)`` then run here."""
        service = self.service
        self._thread.call(lambda: job(service), done, failed)

    def stop(self) -> None:
        """Close the service (end the session's episodes, save the index) and end the thread (idempotent)."""
        self._thread.stop(self._sweeper.close)
