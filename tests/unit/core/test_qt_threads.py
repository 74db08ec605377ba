"""The one thread-and-job primitive (aether_qt/core/qt_threads.py): jobs, replies, stop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from aether_qt.core.qt_threads import WorkerThread


@pytest.fixture
def worker(qtbot: QtBot) -> Iterator[WorkerThread]:
    thread = WorkerThread("aether-test", stop_timeout_ms=2000)
    thread.start()
    yield thread
    thread.stop()


def test_a_job_runs_in_the_named_thread_and_its_value_comes_back_to_the_caller(
    qtbot: QtBot, worker: WorkerThread
) -> None:
    seen: dict[str, Any] = {}

    def job() -> str:
        seen["job_thread"] = threading.current_thread().name, worker.qthread.isCurrentThread()
        return "value"

    def done(value: str) -> None:
        seen["value"] = value
        seen["done_in_caller"] = threading.current_thread() is threading.main_thread()

    worker.call(job, done)
    qtbot.waitUntil(lambda: "value" in seen, timeout=2000)
    assert seen["value"] == "value" and seen["done_in_caller"]
    assert seen["job_thread"][1] is True  # ran in the worker's QThread, not here


def test_a_failing_job_hands_its_exception_to_failed_or_the_log(
    qtbot: QtBot, worker: WorkerThread, caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[Exception] = []

    def boom() -> None:
        raise ValueError("disk full")

    worker.call(boom, failed=errors.append)
    qtbot.waitUntil(lambda: bool(errors), timeout=2000)
    assert isinstance(errors[0], ValueError) and str(errors[0]) == "disk full"
    with caplog.at_level(logging.ERROR, logger="aether_qt.core.qt_threads"):
        worker.call(boom)
        qtbot.waitUntil(lambda: "aether-test" in caplog.text, timeout=2000)
    assert "disk full" in caplog.text


def test_a_reply_to_a_deleted_receiver_is_dropped(qtbot: QtBot, worker: WorkerThread) -> None:
    from PySide6.QtCore import QObject

    class Receiver(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.got: list[object] = []

        def on_done(self, value: object) -> None:
            self.got.append(value)

    release = threading.Event()
    live, gone = Receiver(), Receiver()
    gone_got = gone.got
    worker.call(lambda: release.wait(2) and 1, gone.on_done)
    worker.call(lambda: 2, live.on_done)
    import shiboken6

    shiboken6.delete(gone)  # the receiver's C++ object is gone before its reply arrives
    release.set()
    qtbot.waitUntil(lambda: live.got == [2], timeout=2000)
    assert gone_got == []


def test_stop_runs_the_last_job_in_the_thread_after_queued_jobs_and_is_idempotent(qtbot: QtBot) -> None:
    thread = WorkerThread("aether-test-stop")
    thread.start()
    order: list[str] = []
    thread.call(lambda: order.append("queued"))
    assert thread.stop(lambda: order.append(f"last:{thread.qthread.isCurrentThread()}")) is True
    assert order == ["queued", "last:True"]
    assert not thread.running
    assert thread.stop() is True  # again: nothing to do


def test_stop_says_so_when_the_thread_does_not_end_in_time(
    qtbot: QtBot, caplog: pytest.LogCaptureFixture
) -> None:
    thread = WorkerThread("aether-test-slow", stop_timeout_ms=50)
    thread.start()
    release = threading.Event()
    thread.call(lambda: release.wait(5))
    with caplog.at_level(logging.ERROR, logger="aether_qt.core.qt_threads"):
        assert thread.stop() is False
    assert "aether-test-slow did not stop in 50 ms" in caplog.text
    release.set()
    assert thread.qthread.wait(5000)
