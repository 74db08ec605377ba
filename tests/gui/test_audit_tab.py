"""The Audit tab on its own: verification in its worker thread, failures shown, the thread stopped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring_support import key_file_runtime
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from aether_qt.policy.audit_verify import VerifyReport
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.widgets.trust.audit_tab import AuditTab


@pytest.fixture
def runtime(home: Path) -> Iterator[PolicyRuntime]:
    with key_file_runtime(home) as rt:
        yield rt


@pytest.fixture
def tab(qtbot: QtBot, runtime: PolicyRuntime) -> Iterator[AuditTab]:
    made = AuditTab(runtime=runtime)
    qtbot.addWidget(made)
    made.refresh()
    yield made
    made.shutdown()


def test_a_failing_verification_says_error_and_reenables_the_button(
    qtbot: QtBot, tab: AuditTab, runtime: PolicyRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> VerifyReport:
        raise OSError("audit.db is unreadable")

    monkeypatch.setattr(runtime, "verify", broken)
    with qtbot.waitSignal(tab.sig_verify_done, timeout=10_000) as blocker:
        qtbot.mouseClick(tab.verify_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["error"]
    text = tab.verify_status.text()
    assert "The log could not be checked" in text and "aether doctor" in text
    assert "OSError" not in text  # the traceback goes to the log file, not to the user
    assert tab.verify_button.isEnabled()


def test_verification_runs_off_the_gui_thread_and_shutdown_stops_it(
    qtbot: QtBot, tab: AuditTab, runtime: PolicyRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import QThread

    threads: list[str] = []
    real_verify = runtime.verify

    def verify() -> VerifyReport:
        threads.append(QThread.currentThread().objectName())
        return real_verify()

    monkeypatch.setattr(runtime, "verify", verify)
    with qtbot.waitSignal(tab.sig_verify_done, timeout=10_000):
        qtbot.mouseClick(tab.verify_button, Qt.MouseButton.LeftButton)
    assert threads == ["aether-audit-verify"]
    assert tab.shutdown()
    running = [t for t in tab.findChildren(QThread) if t.isRunning()]
    assert running == []
