"""The memory engine in the desktop app: its own QThread, and results handed back to the GUI thread.

:class:`MemoryHost` owns the memory thread. :meth:`start` loads the embedder and
the index there (a rebuild reports progress on the bus), and a timer in that
thread runs the retention sweep and the purge of old tombstones every
:data:`SWEEP_INTERVAL_MS`. Widgets never call :class:`MemoryService` directly:
they :meth:`~MemoryHost.call` a function, which runs in the memory thread, and
get its result (or its exception) back in the GUI thread, so a search over
100k items or an import never freezes the window. Only the job crosses to the
memory thread (it should capture plain data, not widgets); the callbacks stay
in the GUI thread under a job id, so a widget is never released from the
memory thread (PySide would queue its deletion and crash). The conductor calls the
service from the interaction thread; the service's own lock keeps them apart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from aether_qt.memory_service import MemoryService

_log = logging.getLogger(__name__)
STOP_TIMEOUT_MS = 5000
SWEEP_INTERVAL_MS = 15 * 60 * 1000

Job = Callable[[MemoryService], Any]
Done = Callable[[Any], None]
Failed = Callable[[Exception], None]


class _Worker(QObject):
    """Lives in the memory thread: starts the service, runs jobs and the periodic sweep."""

    sig_finished = Signal(int, bool, object)  # job id, ok, value

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

    @Slot(int, object)
    def _on_job(self, job_id: int, job: Job) -> None:
        try:
            value = job(self._service)
        except Exception as exc:  # handed to the caller, who tells the user
            self.sig_finished.emit(job_id, False, exc)
            return
        self.sig_finished.emit(job_id, True, value)

    @Slot()
    def _on_stop(self) -> None:
        """Close the service after any running job, then end the thread's loop."""
        if self._timer is not None:
            self._timer.stop()
        try:
            self._service.end_session()
            self._service.close()
        except Exception:
            _log.exception("memory did not close cleanly")
        thread = QThread.currentThread()
        if thread is not None:
            thread.quit()


class MemoryHost(QObject):
    """Owns the memory thread (see the module docstring).

    Signals:
        sig_job(int, object): a job id and a job for the memory thread (internal).
        sig_stop_requested(): close the service in the memory thread (internal).
    """

    sig_job = Signal(int, object)
    sig_stop_requested = Signal()

    def __init__(self, *, service: MemoryService, sweep_ms: int = SWEEP_INTERVAL_MS) -> None:
        super().__init__()
        self.service = service
        self._thread = QThread(self)
        self._thread.setObjectName("aether-memory")
        self._worker = _Worker(service, sweep_ms)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker._on_thread_started)
        self.sig_job.connect(self._worker._on_job)
        self.sig_stop_requested.connect(self._worker._on_stop)
        self._worker.sig_finished.connect(self._on_worker_finished)  # queued back to this (GUI) thread
        self._callbacks: dict[int, tuple[Done | None, Failed | None]] = {}
        self._next_job = 0

    def start(self) -> None:
        """Start the memory thread; the service starts there (embedder, index)."""
        self._thread.start()

    def call(self, job: Job, done: Done | None = None, failed: Failed | None = None) -> None:
        """Run ``job(service)`` in the memory thread; ``done(result)`` or ``failed(exc)`` then run here."""
        self._next_job += 1
        self._callbacks[self._next_job] = (done, failed)
        self.sig_job.emit(self._next_job, job)

    def stop(self) -> None:
        """Close the service (end the session's episodes, save the index) and end the thread (idempotent)."""
        self._callbacks.clear()
        if self._thread.isRunning():
            self.sig_stop_requested.emit()  # the worker closes the service, then quits the loop
            if not self._thread.wait(STOP_TIMEOUT_MS):
                _log.error("the memory thread did not stop in %d ms", STOP_TIMEOUT_MS)

    @Slot(int, bool, object)
    def _on_worker_finished(self, job_id: int, ok: bool, value: Any) -> None:
        done, failed = self._callbacks.pop(job_id, (None, None))
        if ok:
            if done is not None:
                done(value)
        elif failed is not None:
            failed(value)
        else:
            _log.error("a memory job failed: %s", value)
