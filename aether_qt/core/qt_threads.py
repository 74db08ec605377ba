"""The one thread-and-job primitive every host uses (STYLE.md habit 13).

:class:`WorkerThread` is a named ``QThread`` with one stop timeout. Hosts move
their workers into it (:meth:`WorkerThread.adopt`), start it, and hand it jobs:
:meth:`WorkerThread.call` runs ``job()`` in the thread and brings the result
(``done(value)``) or the exception (``failed(exc)``) back to the thread that
called, which for hosts is the GUI thread. The callbacks never cross threads:
they wait in the caller's thread under a job id, so a widget is never released
from a worker thread (PySide would queue its deletion there and crash), and a
reply whose receiver has been deleted meanwhile is dropped instead of calling
into a dead C++ object. :meth:`WorkerThread.stop` runs a last job in the thread
(closing a database, stopping a timer), ends its loop and waits at most the one
timeout, logging when the thread did not stop. It is idempotent.

Anki's ``taskman.py`` is the model: background operations with success and
failure callbacks that always return to the GUI thread in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QMetaObject, QObject, Qt, QThread, Signal, Slot

_log = logging.getLogger(__name__)

STOP_TIMEOUT_MS = 5000

Job = Callable[[], Any]
Done = Callable[[Any], None]
Failed = Callable[[Exception], None]


def queue_into_own_thread(obj: QObject, slot: str, *, blocking: bool = False) -> bool:
    """Queue ``obj.slot()`` into ``obj``'s thread when called from another one; True if queued.

    False means the caller is already in that thread (or it is not running) and
    should just go on. ``blocking`` waits until the slot has run there.
    """
    own = obj.thread()
    if own is None or own.isCurrentThread() or not own.isRunning():
        return False
    kind = Qt.ConnectionType.BlockingQueuedConnection if blocking else Qt.ConnectionType.QueuedConnection
    QMetaObject.invokeMethod(obj, slot, kind)
    return True


def _alive(receiver: QObject | None) -> bool:
    if receiver is None:
        return True
    import shiboken6

    return bool(shiboken6.isValid(receiver))


class _Runner(QObject):
    """Lives in the worker thread: runs jobs and reports each outcome by its id."""

    sig_finished = Signal(int, bool, object)  # job id, ok, value or exception

    @Slot(int, object)
    def _on_job(self, job_id: int, job: Job) -> None:
        try:
            value = job()
        except Exception as exc:  # handed to the caller's failed(); logged there if none
            self.sig_finished.emit(job_id, False, exc)
            return
        self.sig_finished.emit(job_id, True, value)

    @Slot(object)
    def _on_last_job(self, job: Job | None) -> None:
        """Run ``job`` (errors logged), then end this thread's event loop."""
        if job is not None:
            try:
                job()
            except Exception:
                _log.exception("the last job of thread %s failed", QThread.currentThread().objectName())
        thread = QThread.currentThread()
        if thread is not None:
            thread.quit()


class WorkerThread(QObject):
    """A named worker thread with jobs whose replies return to the caller's thread.

    Build it in the thread that will receive the replies (the GUI thread for
    hosts).

    Args:
        name: the thread's object name (``aether-memory``...), seen in logs and debuggers.
        stop_timeout_ms: how long :meth:`stop` waits for the thread to end.
        parent: the owning QObject, if any.

    Signals:
        sig_job_requested(int, object): a job id and a job for the thread (internal).
        sig_stop_requested(object): the last job before the loop ends (internal).
    """

    sig_job_requested = Signal(int, object)
    sig_stop_requested = Signal(object)

    def __init__(self, name: str, *, stop_timeout_ms: int = STOP_TIMEOUT_MS, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self.stop_timeout_ms = stop_timeout_ms
        self._thread = QThread(self)
        self._thread.setObjectName(name)
        self._runner = _Runner()
        self._runner.moveToThread(self._thread)
        self.sig_job_requested.connect(self._runner._on_job)
        self.sig_stop_requested.connect(self._runner._on_last_job)
        self._runner.sig_finished.connect(self._on_runner_finished)  # queued back to this thread
        self._replies: dict[int, tuple[Done | None, Failed | None, QObject | None]] = {}
        self._next_job = 0

    @property
    def qthread(self) -> QThread:
        """The underlying ``QThread`` (to connect ``started`` or check the current thread)."""
        return self._thread

    @property
    def running(self) -> bool:
        """Whether the thread is running."""
        return self._thread.isRunning()

    def adopt(self, *workers: QObject | None) -> None:
        """Move ``workers`` (QObjects without a parent) into this thread; ``None`` entries are skipped."""
        for worker in workers:
            if worker is not None:
                worker.moveToThread(self._thread)

    def start(self) -> None:
        """Start the thread (its event loop runs until :meth:`stop`)."""
        self._thread.start()

    def call(
        self,
        job: Job,
        done: Done | None = None,
        failed: Failed | None = None,
        *,
        receiver: QObject | None = None,
    ) -> None:
        """Run ``job()`` in the thread; then ``done(value)`` or ``failed(exc)`` in the calling thread.

        Args:
            job: the work; it should capture plain data, never widgets.
            done: called with the job's value.
            failed: called with the job's exception; without it the exception is logged.
            receiver: the object the callbacks belong to; when it has been deleted
                by the time the reply arrives, the reply is dropped. Defaults to
                the object ``done`` (or ``failed``) is a bound method of, if a QObject.
        """
        self._next_job += 1
        owner = receiver if receiver is not None else _owner(done) or _owner(failed)
        self._replies[self._next_job] = (done, failed, owner)
        self.sig_job_requested.emit(self._next_job, job)

    def stop(self, last_job: Job | None = None) -> bool:
        """Run ``last_job`` in the thread after any queued job, end its loop, wait; idempotent.

        Pending replies are dropped. Returns False when the thread did not end in
        :attr:`stop_timeout_ms` (logged).
        """
        self._replies.clear()
        if not self._thread.isRunning():
            return True
        self.sig_stop_requested.emit(last_job)
        if self._thread.wait(self.stop_timeout_ms):
            return True
        _log.error("thread %s did not stop in %d ms", self.name, self.stop_timeout_ms)
        return False

    @Slot(int, bool, object)
    def _on_runner_finished(self, job_id: int, ok: bool, value: Any) -> None:
        done, failed, owner = self._replies.pop(job_id, (None, None, None))
        if not _alive(owner):
            return
        if ok:
            if done is not None:
                done(value)
        elif failed is not None:
            failed(value)
        else:
            _log.error("a job in thread %s failed: %s", self.name, value, exc_info=value)


def _owner(callback: Callable[..., Any] | None) -> QObject | None:
    target = getattr(callback, "__self__", None)
    return target if isinstance(target, QObject) else None


__all__ = ["STOP_TIMEOUT_MS", "WorkerThread", "queue_into_own_thread"]
