"""The trust centre for a person who is not an expert: summary, verification, audit rows and grants.

A real policy runtime (keys in the opt-in file, the fail keyring) in a fresh home; the
main window at its default size with the side panel at its default width, as a new user
sees it. With ``AETHER_WRITE_SCREENSHOTS=1`` the screenshots go to ``docs/screenshots``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring_support import key_file_runtime
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QLabel, QTableWidget, QWidget
from pytestqt.qtbot import QtBot

from aether_qt.companion import gate_on_bus
from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.core.events import MemoryChanged
from aether_qt.policy.audit_verify import VerifyReport
from aether_qt.policy.decisions import ActionRequest, Allow, ApprovalChoice, Ask
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.gate.gate_on_bus import GateOnBus
from aether_qt.widgets.main_window import MainWindow
from aether_qt.widgets.trust.audit_tab import AuditTab
from aether_qt.widgets.window.state import DEFAULT_SIZE

REPO = Path(__file__).resolve().parents[2]
CODES = re.compile(r"\b(?:[a-z]+\.[a-z_.]+|[a-z]+_[a-z_]+|turn_\w+|tkt_\w+|grt_\w+)\b")
EXCEPTIONS = re.compile(r"\b\w+(?:Error|Exception)\b")


@pytest.fixture
def runtime(home: Path) -> Iterator[PolicyRuntime]:
    with key_file_runtime(home) as rt:
        yield rt


@pytest.fixture
def docs(home: Path, runtime: PolicyRuntime) -> Path:
    root = home / "docs"
    root.mkdir()
    runtime.set_roots((root,))
    return root


@pytest.fixture
def controls(runtime: PolicyRuntime, bus: EventBus) -> GateOnBus:
    return gate_on_bus(runtime, bus)


@pytest.fixture
def window(
    qtbot: QtBot, runtime: PolicyRuntime, controls: GateOnBus, bridge: QtBusBridge, home: Path
) -> Iterator[MainWindow]:
    settings = QSettings(str(home / "config" / "ui.ini"), QSettings.Format.IniFormat)
    made = MainWindow(
        runtime=runtime, controls=controls, settings=settings, confirm=lambda *_: True, bus_bridge=bridge
    )
    qtbot.addWidget(made)
    made.resize(*DEFAULT_SIZE)
    made.show()
    qtbot.waitExposed(made)
    yield made
    made.shutdown()


def everyday_day(runtime: PolicyRuntime, controls: GateOnBus, docs: Path) -> Ask:
    """What a first day leaves in the log: memories kept and read, a file asked for, a route."""
    for persona in ("aether", "user"):  # the conversation remembers, and so does the Memory panel
        assert isinstance(
            controls.evaluate(ActionRequest("memory.write.durable", "memory:new", actor_persona=persona)),
            Allow,
        )
    assert isinstance(
        controls.evaluate(ActionRequest("memory.read", "memory:recall", actor_persona="aether")), Allow
    )
    runtime.gate.record_route(turn_id="turn_7", resource="openai", route="local/", reason="short question")
    asked = controls.evaluate(
        ActionRequest("files.create", str(docs / "todo.txt"), actor_persona="aether", turn_id="turn_8")
    )
    assert isinstance(asked, Ask)
    return asked


def audit_tab(window: MainWindow) -> AuditTab:
    centre = window.trust_centre
    window.show_tab(centre.indexOf(centre.audit))
    return centre.audit


def visible_texts(root: QWidget) -> list[str]:
    """Every text a person can read in ``root``: labels, table cells, headers and tooltips."""
    texts = [w.text() for w in root.findChildren(QLabel) if w.isVisibleTo(root)]
    texts += [w.toolTip() for w in root.findChildren(QWidget) if w.isVisibleTo(root) and w.toolTip()]
    for table in root.findChildren(QTableWidget):
        if not table.isVisibleTo(root):
            continue
        header = table.horizontalHeader()
        for c in range(table.columnCount()):
            if header.isSectionHidden(c):
                continue
            texts.append(table.horizontalHeaderItem(c).text())
            for r in range(table.rowCount()):
                item = table.item(r, c)
                if item is not None:
                    texts += [item.text(), item.toolTip()]
    return texts


def codes_in(texts: list[str]) -> list[str]:
    return [
        t
        for t in texts
        if CODES.search(re.sub(r"`aether [a-z ]+`|\S+\.txt|/\S+", "", t)) or EXCEPTIONS.search(t)
    ]


def shots(tmp_path: Path) -> Path:
    """Where screenshots go: docs/screenshots with AETHER_WRITE_SCREENSHOTS=1, else the test's folder."""
    return REPO / "docs" / "screenshots" if os.environ.get("AETHER_WRITE_SCREENSHOTS") == "1" else tmp_path


def wait_verified(qtbot: QtBot, tab: AuditTab) -> VerifyReport:
    qtbot.waitUntil(lambda: tab.report is not None and not tab.verifying, timeout=10_000)
    assert tab.report is not None
    return tab.report


# ------------------------------------------------------------------ summary


def test_the_summary_comes_first_counts_today_and_follows_the_log(
    qtbot: QtBot, window: MainWindow, runtime: PolicyRuntime, controls: GateOnBus, docs: Path, tmp_path: Path
) -> None:
    everyday_day(runtime, controls, docs)
    tab = audit_tab(window)
    centre = window.trust_centre
    summary = centre.summary_label
    assert summary.isVisible()
    assert (
        summary.mapTo(centre, summary.rect().topLeft()).y()
        < centre.tabs.mapTo(centre, centre.tabs.rect().topLeft()).y()
    )
    wait_verified(qtbot, tab)  # opening the trust centre checks the log, off the GUI thread
    qtbot.waitUntil(lambda: "the log is intact and signed" in summary.text(), timeout=5000)
    assert summary.text().startswith("Today Aether did 3 things; 1 needed your OK;"), summary.text()
    controls.evaluate(ActionRequest("memory.read", "memory:recall", actor_persona="aether"))
    qtbot.waitUntil(lambda: summary.text().startswith("Today Aether did 4 things"), timeout=5000)
    qtbot.wait(100)
    assert centre.grab().save(str(shots(tmp_path) / "trust-centre-summary.png"))


# ------------------------------------------------------------------ verify


def test_verify_says_intact_in_words_and_follows_new_rows(
    qtbot: QtBot, window: MainWindow, runtime: PolicyRuntime, controls: GateOnBus, docs: Path
) -> None:
    everyday_day(runtime, controls, docs)
    tab = audit_tab(window)
    first = wait_verified(qtbot, tab)
    qtbot.mouseClick(tab.verify_button, Qt.MouseButton.LeftButton)
    first = wait_verified(qtbot, tab)
    text = tab.verify_status.text()
    assert "The log is intact and signed" in text
    assert "INTACT" not in text and "anchored" not in text and "epoch" not in text
    assert runtime.audit is not None
    assert first.rows_checked == runtime.audit.head().seq
    for _ in range(5):  # rows keep arriving: the result and its count follow them
        controls.evaluate(ActionRequest("memory.read", "memory:recall", actor_persona="aether"))
    head = runtime.audit.head().seq
    qtbot.waitUntil(lambda: tab.report is not None and tab.report.rows_checked >= head, timeout=10_000)
    qtbot.waitUntil(
        lambda: f"{tab.report.rows_checked if tab.report else 0} entries" in tab.verify_status.text(),
        timeout=5000,
    )


@pytest.mark.parametrize(
    ("status", "reason", "meaning", "step"),
    [
        (
            "undecidable",
            "unanchored",
            "cannot tell whether entries at the end were cut off",
            "aether audit acknowledge",
        ),
        ("tampered", "truncated", "cut short", "restore it"),
        (
            "tampered",
            "content_hash_mismatch",
            "changed or removed after it was written",
            "aether audit acknowledge",
        ),
    ],
)
def test_a_bad_or_undecidable_log_says_what_it_means_and_what_to_do(
    qtbot: QtBot,
    window: MainWindow,
    runtime: PolicyRuntime,
    monkeypatch: pytest.MonkeyPatch,
    status: str,
    reason: str,
    meaning: str,
    step: str,
) -> None:
    message = f"{reason} at seq 3: truncation or rollback cannot be ruled out"
    monkeypatch.setattr(runtime, "verify", lambda: VerifyReport(status, False, 3, reason, 14, message))
    tab = audit_tab(window)
    qtbot.mouseClick(tab.verify_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: meaning in tab.verify_status.text(), timeout=10_000)
    text = tab.verify_status.text()
    assert step in text
    assert (
        reason not in text and "seq" not in text and "UNDECIDABLE" not in text.upper().replace("CANNOT", "")
    )


def test_a_verification_that_cannot_run_says_so_without_an_exception_name(
    qtbot: QtBot, window: MainWindow, runtime: PolicyRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> VerifyReport:
        raise OSError("audit.db is unreadable")

    monkeypatch.setattr(runtime, "verify", broken)
    tab = audit_tab(window)
    with qtbot.waitSignal(tab.sig_verify_done, timeout=10_000):
        qtbot.mouseClick(tab.verify_button, Qt.MouseButton.LeftButton)
    assert "could not be checked" in tab.verify_status.text()
    assert codes_in([tab.verify_status.text()]) == []
    assert tab.verify_button.isEnabled()


# ------------------------------------------------------------------ audit table


def test_the_audit_table_fits_and_every_row_has_an_action_and_a_result_in_words(
    qtbot: QtBot, window: MainWindow, runtime: PolicyRuntime, controls: GateOnBus, docs: Path
) -> None:
    everyday_day(runtime, controls, docs)
    runtime.gate.swap_persona("aether", "pip")  # a cascade row
    window.refresh()
    tab = audit_tab(window)
    table = tab.table
    qtbot.wait(50)
    assert runtime.audit is not None
    assert table.rowCount() == runtime.audit.head().seq
    header = table.horizontalHeader()
    shown = [c for c in range(table.columnCount()) if not header.isSectionHidden(c)]
    titles = [table.horizontalHeaderItem(c).text() for c in shown]
    assert "Result" in titles
    result = shown[titles.index("Result")]
    right = header.sectionViewportPosition(result) + header.sectionSize(result)
    assert header.sectionViewportPosition(result) >= 0 and right <= table.viewport().width(), (
        right,
        table.viewport().width(),
    )
    action = shown[titles.index("What happened")]
    for r in range(table.rowCount()):
        assert table.item(r, action).text().strip(), f"row {r} has no action"
        assert table.item(r, result).text().strip(), f"row {r} has no result"
    assert codes_in(visible_texts(tab)) == []


def test_enter_and_double_click_open_a_row_in_the_detail_pane(
    qtbot: QtBot, window: MainWindow, runtime: PolicyRuntime, controls: GateOnBus, docs: Path, tmp_path: Path
) -> None:
    everyday_day(runtime, controls, docs)
    window.refresh()
    tab = audit_tab(window)
    wait_verified(qtbot, tab)
    table = tab.table
    table.setFocus()
    table.selectRow(0)  # newest first: the file Aether asked to create
    with qtbot.waitSignal(tab.sig_row_opened, timeout=2000) as opened:
        qtbot.keyClick(table, Qt.Key.Key_Return)
    assert runtime.audit is not None
    assert opened.args == [runtime.audit.head().seq]
    detail = tab.detail.toPlainText()
    assert tab.detail.isVisible()
    for words in (
        "Create a file: todo.txt",
        "Asked you",
        "When",
        "Who asked",
        "Aether",
        "Signature",
        "Steps",
    ):
        assert words in detail, (words, detail)
    assert "intact and signed" in detail
    assert codes_in([detail]) == []
    last = table.model().index(table.rowCount() - 1, 1)
    table.scrollTo(last)
    rect = table.visualRect(last)
    qtbot.mouseClick(
        table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center()
    )  # a real double-click's first press
    with qtbot.waitSignal(tab.sig_row_opened, timeout=2000) as opened:
        qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened.args == [1]
    assert "Aether started" in tab.detail.toPlainText()
    table.selectRow(2)
    qtbot.keyClick(table, Qt.Key.Key_Return)
    detail = tab.detail.toPlainText()
    assert "Permission used" in detail and "Assistant preset" in detail
    qtbot.wait(100)
    assert window.grab().save(str(shots(tmp_path) / "trust-centre-audit.png"))


def test_expert_details_show_the_raw_ids_only_when_asked(
    qtbot: QtBot, window: MainWindow, runtime: PolicyRuntime, controls: GateOnBus, docs: Path
) -> None:
    everyday_day(runtime, controls, docs)
    window.refresh()
    tab = audit_tab(window)
    tab.table.selectRow(2)  # newest first: the file asked for, the route, the memory read
    qtbot.keyClick(tab.table, Qt.Key.Key_Return)
    box = window.trust_centre.expert_box
    assert not box.isChecked() and box.toolTip()
    assert "memory.read" not in tab.detail.toPlainText()
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton)
    assert box.isChecked()
    assert "memory.read" in tab.detail.toPlainText()
    header = tab.table.horizontalHeader()
    titles = [
        tab.table.horizontalHeaderItem(c).text()
        for c in range(tab.table.columnCount())
        if not header.isSectionHidden(c)
    ]
    assert "Capability" in titles
    assert any("memory.write.durable" in e.expert for e in window.trust_centre.grants.entries())


# ------------------------------------------------------------------ grants


def test_each_grant_is_listed_once_with_who_gave_it_and_why_and_can_be_revoked(
    qtbot: QtBot, window: MainWindow, runtime: PolicyRuntime, controls: GateOnBus, docs: Path
) -> None:
    asked = everyday_day(runtime, controls, docs)
    controls.answer(asked.ticket.ticket_id, ApprovalChoice.ALLOW_SESSION)
    window.refresh()
    centre = window.trust_centre
    window.show_tab(centre.indexOf(centre.grants))
    tab = centre.grants
    table = tab.table
    texts = [table.item(r, 0).text() for r in range(table.rowCount())]
    assert texts.count("Remember what you tell it") == 1, texts
    row = texts.index("Remember what you tell it")
    line = " ".join(
        table.item(row, c).text() + " " + table.item(row, c).toolTip() for c in range(table.columnCount())
    )
    assert "Part of the Assistant preset: lets Aether remember what you tell it." in line
    create = texts.index("Create new files in the folders you approved")
    mine = " ".join(table.item(create, c).toolTip() for c in range(table.columnCount()))
    assert re.search(r"You allowed this on \d+ \w+ at \d\d:\d\d from an approval card", mine), mine
    assert codes_in(visible_texts(tab)) == []
    assert tab.revoke_button.toolTip() and tab.revoke_all_button.toolTip()
    table.selectRow(row)
    qtbot.mouseClick(tab.revoke_button, Qt.MouseButton.LeftButton)
    assert [g for g in runtime.ledger.active() if g.capability == "memory.write.durable"] == []
    assert "Remember what you tell it" not in [table.item(r, 0).text() for r in range(table.rowCount())]


def test_a_memory_change_refreshes_the_audit_rows(
    qtbot: QtBot, window: MainWindow, runtime: PolicyRuntime, bus: EventBus
) -> None:
    tab = audit_tab(window)
    before = tab.table.rowCount()
    decision = runtime.gate.evaluate(
        ActionRequest("memory.write.durable", "memory:new", actor_persona="user")
    )
    assert isinstance(decision, Allow)  # the Memory panel's edit: the gate directly, then memory.did_change
    bus.publish(
        MemoryChanged(change="added", item_ids=("m1",), audit_id=decision.audit_id),
        source_layer="services.memory",
    )
    qtbot.waitUntil(lambda: tab.table.rowCount() == before + 1, timeout=5000)


def test_the_permissions_tab_says_each_capability_in_words_and_ids_only_for_experts(
    qtbot: QtBot, window: MainWindow
) -> None:
    centre = window.trust_centre
    window.show_tab(centre.indexOf(centre.permissions))
    tab = centre.permissions
    assert codes_in(visible_texts(tab)) == []
    shown = [tab.table.item(r, 0).text() for r in range(tab.table.rowCount())]
    assert "Remember what you tell it" in shown
    qtbot.mouseClick(centre.expert_box, Qt.MouseButton.LeftButton)
    assert "memory.write.durable" in " ".join(visible_texts(tab))
