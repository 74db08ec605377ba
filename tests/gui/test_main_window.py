"""The main window over a real policy runtime: banners, approvals, grants, audit, presets.

Every test uses a fresh home with the opt-in key file and the ``fail`` keyring backend,
so nothing is ever written to the real keyring (and the "keys on disk" banner shows).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from aether_qt.paths import resolve_paths
from aether_qt.policy.capabilities import Preset
from aether_qt.policy.contracts import AuditRow
from aether_qt.policy.decisions import ActionRequest, ApprovalChoice, Ask
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.widgets.banners import banner_colours
from aether_qt.widgets.main_window import MainWindow

MakeWindow = Callable[..., MainWindow]


@pytest.fixture
def fail_keyring() -> Iterator[None]:
    """No usable keyring: the runtime must use the opt-in key file."""
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def open_runtime(home: Path) -> PolicyRuntime:
    return PolicyRuntime.open(resolve_paths(home), allow_key_file=True)


@pytest.fixture
def runtime(home: Path, fail_keyring: None) -> Iterator[PolicyRuntime]:
    rt = open_runtime(home)
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def docs(home: Path, runtime: PolicyRuntime) -> Path:
    """An approved folder of the runtime."""
    root = home / "docs"
    root.mkdir()
    runtime.set_roots((root,))
    return root


def settings_file(home: Path) -> QSettings:
    return QSettings(str(home / "config" / "aether-qt.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def make_window(qtbot: QtBot, runtime: PolicyRuntime, home: Path) -> Iterator[MakeWindow]:
    made: list[MainWindow] = []

    def make(**kwargs: Any) -> MainWindow:
        kwargs.setdefault("confirm", lambda *_: True)
        window = MainWindow(runtime=runtime, settings=settings_file(home), **kwargs)
        qtbot.addWidget(window)
        made.append(window)
        return window

    yield make
    for window in made:
        window.shutdown()


def ask(runtime: PolicyRuntime, docs: Path, name: str = "x.txt") -> Ask:
    decision = runtime.gate.evaluate(ActionRequest("files.create", str(docs / name), turn_id="turn_42"))
    assert isinstance(decision, Ask), decision
    return decision


def last_row(runtime: PolicyRuntime) -> AuditRow:
    assert runtime.audit is not None
    return runtime.audit.rows()[-1]


def test_keys_on_disk_banner_is_shown_in_yellow(make_window: MakeWindow) -> None:
    window = make_window()
    window.show()
    assert window.banners.flags() == ["keys_on_disk"]
    (banner,) = window.banners.banners()
    assert banner.isVisible()
    assert "on disk" in banner.message.text()
    assert banner_colours("keys_on_disk")[0] == "#f9d34c"
    assert banner_colours("audit_broken")[0] == "#c62828"
    assert banner_colours("policy_degraded")[0] == "#ef6c00"


def test_pending_ticket_appears_as_card_on_the_timer(
    qtbot: QtBot, make_window: MakeWindow, runtime: PolicyRuntime, docs: Path
) -> None:
    window = make_window(refresh_ms=50)
    panel = window.trust_centre.approvals
    assert panel.cards == {}
    decision = ask(runtime, docs)  # as if `aether policy evaluate` ran in another process
    ticket_id = decision.ticket.ticket_id
    qtbot.waitUntil(lambda: ticket_id in panel.cards, timeout=3000)
    card = panel.cards[ticket_id]
    assert card.resource.text() == str(docs / "x.txt")
    assert window.trust_centre.tabText(0) == "Approvals (1)"


def test_allow_once_closes_the_ticket_and_is_audited(
    qtbot: QtBot, make_window: MakeWindow, runtime: PolicyRuntime, docs: Path
) -> None:
    window = make_window()
    ticket_id = ask(runtime, docs).ticket.ticket_id
    window.refresh()
    card = window.trust_centre.approvals.cards[ticket_id]
    qtbot.mouseClick(card.buttons[ApprovalChoice.ALLOW_ONCE], Qt.MouseButton.LeftButton)
    assert runtime.tickets.pending() == []
    assert window.trust_centre.approvals.cards == {}
    row = last_row(runtime)
    assert row.decision == "allow"
    assert row.detail["event"] == "ticket_answered"
    assert row.detail["ticket_id"] == ticket_id
    assert window.trust_centre.approvals.status.text().startswith("Allowed (once)")


def test_deny_is_audited_as_user_denied(
    qtbot: QtBot, make_window: MakeWindow, runtime: PolicyRuntime, docs: Path
) -> None:
    window = make_window()
    ticket_id = ask(runtime, docs).ticket.ticket_id
    window.refresh()
    card = window.trust_centre.approvals.cards[ticket_id]
    qtbot.mouseClick(card.buttons[ApprovalChoice.DENY], Qt.MouseButton.LeftButton)
    row = last_row(runtime)
    assert (row.decision, row.reason) == ("deny", "user_denied")
    assert row.detail["event"] == "ticket_answered"
    assert runtime.tickets.pending() == []
    assert "user_denied" in window.trust_centre.approvals.status.text()


def test_revoke_selected_and_revoke_all(
    qtbot: QtBot, make_window: MakeWindow, runtime: PolicyRuntime, docs: Path
) -> None:
    for name in ("a.txt", "b.txt"):
        runtime.gate.answer(ask(runtime, docs, name).ticket.ticket_id, ApprovalChoice.ALLOW_SESSION)
    window = make_window()
    grants = window.trust_centre.grants
    assert len(runtime.ledger.active()) == 2
    assert grants.table.rowCount() == 2
    first = grants.grant_ids()[0]
    grants.table.selectRow(0)
    qtbot.mouseClick(grants.revoke_button, Qt.MouseButton.LeftButton)
    assert [g.grant_id for g in runtime.ledger.active()] == grants.grant_ids()
    assert first not in grants.grant_ids() and len(grants.grant_ids()) == 1
    row = last_row(runtime)
    assert row.decision == "grant_revoked"
    assert row.detail["grant_ids"] == [first]

    qtbot.mouseClick(grants.revoke_all_button, Qt.MouseButton.LeftButton)
    assert runtime.ledger.active() == []
    assert grants.table.rowCount() == 0
    row = last_row(runtime)
    assert (row.decision, row.reason) == ("cascade", "emergency")


def test_revoke_all_does_nothing_when_not_confirmed(
    qtbot: QtBot, make_window: MakeWindow, runtime: PolicyRuntime, docs: Path
) -> None:
    runtime.gate.answer(ask(runtime, docs).ticket.ticket_id, ApprovalChoice.ALLOW_SESSION)
    window = make_window(confirm=lambda *_: False)
    qtbot.mouseClick(window.trust_centre.grants.revoke_all_button, Qt.MouseButton.LeftButton)
    assert len(runtime.ledger.active()) == 1


def test_preset_change_is_applied_after_confirmation(
    make_window: MakeWindow, runtime: PolicyRuntime, docs: Path
) -> None:
    runtime.gate.answer(ask(runtime, docs).ticket.ticket_id, ApprovalChoice.ALLOW_SESSION)
    window = make_window()
    panel = window.trust_centre.permissions
    assert panel.preset_box.currentText() == "Assistant"
    panel.preset_box.setCurrentIndex(panel.preset_box.findData(Preset.OBSERVER.value))
    assert runtime.preset() is Preset.OBSERVER
    assert runtime.ledger.active() == []  # session grants end with a preset change
    modes = {
        panel.table.item(r, 0).text(): panel.table.item(r, 2).text() for r in range(panel.table.rowCount())
    }
    assert modes["files.create"] == "deny"
    assert last_row(runtime).reason == "preset_change"
    assert "1 grant(s) revoked" in panel.note.text()


def test_preset_change_is_undone_when_not_confirmed(make_window: MakeWindow, runtime: PolicyRuntime) -> None:
    window = make_window(confirm=lambda *_: False)
    panel = window.trust_centre.permissions
    panel.preset_box.setCurrentIndex(panel.preset_box.findData(Preset.POWER_USER.value))
    assert runtime.preset() is Preset.ASSISTANT
    assert panel.preset_box.currentText() == "Assistant"


def test_verify_reports_intact_for_an_anchored_home(
    qtbot: QtBot, qapp: Any, home: Path, fail_keyring: None
) -> None:
    seed = open_runtime(home)  # a previous session: its shutdown checkpoint is the anchor
    root = home / "docs"
    root.mkdir()
    seed.set_roots((root,))
    seed.close()
    rt = open_runtime(home)
    window = MainWindow(runtime=rt, settings=settings_file(home), confirm=lambda *_: True)
    qtbot.addWidget(window)
    try:
        audit = window.trust_centre.audit
        assert rt.audit is not None
        assert audit.table.rowCount() == len(rt.audit.rows()) > 0
        with qtbot.waitSignal(audit.sig_verify_done, timeout=10_000) as blocker:
            qtbot.mouseClick(audit.verify_button, Qt.MouseButton.LeftButton)
        assert blocker.args == ["INTACT"]
        assert "INTACT" in audit.verify_status.text()
        assert "anchored" in audit.verify_status.text()
        assert audit.verify_button.isEnabled()
    finally:
        window.shutdown()
        rt.close()


def test_verify_reports_undecidable_without_an_anchor(
    qtbot: QtBot, make_window: MakeWindow, runtime: PolicyRuntime
) -> None:
    audit = make_window().trust_centre.audit
    with qtbot.waitSignal(audit.sig_verify_done, timeout=10_000) as blocker:
        qtbot.mouseClick(audit.verify_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["UNDECIDABLE"]
    assert "unanchored" in audit.verify_status.text()


def test_audit_tab_shows_newest_rows_first(
    make_window: MakeWindow, runtime: PolicyRuntime, docs: Path
) -> None:
    ask(runtime, docs)
    window = make_window()
    table = window.trust_centre.audit.table
    assert runtime.audit is not None
    assert table.rowCount() == len(runtime.audit.rows())
    assert table.item(0, 0).text() == str(runtime.audit.head().seq)
    assert (table.item(0, 3).text(), table.item(0, 5).text()) == ("files.create", "ask")


def test_close_with_tray_hides_and_does_not_quit(qtbot: QtBot, make_window: MakeWindow) -> None:
    window = make_window(keep_in_tray=True)
    window.show()
    qtbot.waitExposed(window)
    with qtbot.assertNotEmitted(window.sig_quit_requested):
        window.close()
    assert not window.isVisible()


def test_close_without_tray_asks_to_quit(qtbot: QtBot, make_window: MakeWindow) -> None:
    window = make_window(keep_in_tray=False)
    window.show()
    with qtbot.waitSignal(window.sig_quit_requested, timeout=1000):
        window.close()


def test_shortcuts_switch_tabs_refresh_and_quit(qtbot: QtBot, make_window: MakeWindow) -> None:
    window = make_window(keep_in_tray=True)
    for number in range(1, 5):
        window.shortcuts[f"Ctrl+{number}"].activated.emit()
        assert window.trust_centre.currentIndex() == number - 1
    assert window.shortcuts["Ctrl+Q"].key().toString() == "Ctrl+Q"
    with qtbot.waitSignal(window.sig_quit_requested, timeout=1000):
        window.shortcuts["Ctrl+Q"].activated.emit()
    window.show()
    window.shortcuts["Esc"].activated.emit()
    assert not window.isVisible()


def test_geometry_and_tab_are_restored(qtbot: QtBot, make_window: MakeWindow, home: Path) -> None:
    window = make_window(keep_in_tray=True)
    window.resize(784, 530)  # inside the offscreen screen (800x600)
    window.show_tab(2)
    window.show()
    qtbot.waitExposed(window)
    window.close()
    assert (home / "config" / "aether-qt.ini").is_file()
    again = make_window()
    assert (again.width(), again.height()) == (784, 530)
    assert again.trust_centre.currentIndex() == 2


def test_screenshot_shows_the_banner_colour(qtbot: QtBot, make_window: MakeWindow, tmp_path: Path) -> None:
    window = make_window()
    window.resize(1000, 640)
    window.show()
    qtbot.waitExposed(window)
    path = tmp_path / "main.png"
    assert window.grab().save(str(path))
    image = QImage(str(path))
    (banner,) = window.banners.banners()
    ratio = image.width() / window.width()
    top_left = banner.mapTo(window, QPoint(0, 0))
    x0, y0 = int(top_left.x() * ratio), int(top_left.y() * ratio)
    width, height = int(banner.width() * ratio), int(banner.height() * ratio)
    colours = {
        QColor(image.pixel(x, y)).name()
        for x in range(x0 + 8, x0 + width - 8, 3)
        for y in range(y0 + 4, y0 + height - 4, 2)
    }
    expected = banner_colours("keys_on_disk")[0]
    assert expected in colours
    assert len(colours) > 3, "the banner region should hold text, not one flat colour"
    assert QColor(image.pixel(x0 + width // 2, y0 + 3)).name() == expected


def test_paused_gate_shows_the_paused_banner(make_window: MakeWindow, runtime: PolicyRuntime) -> None:
    window = make_window()
    runtime.gate.pause(True)
    window.refresh()
    assert window.banners.flags() == ["keys_on_disk", "paused"]
    runtime.gate.pause(False)
    window.refresh()
    assert window.banners.flags() == ["keys_on_disk"]


RUN_APP = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QTimer
    from aether_qt.cli import build_parser
    from aether_qt.app import run_app

    def ready(parts):
        parts.runtime.gate.pause(True)  # one audited row, so a shutdown checkpoint is due
        parts.runtime.gate.pause(False)
        QTimer.singleShot(300, parts.app.quit)

    args = build_parser().parse_args(["--home", sys.argv[1], "--allow-key-file"])
    sys.exit(run_app(args, on_ready=ready))
    """
)


def test_run_app_starts_and_quits_cleanly(home: Path, fail_keyring: None) -> None:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    done = subprocess.run(
        [sys.executable, "-c", RUN_APP, str(home)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    rt = open_runtime(home)
    try:
        assert rt.audit is not None
        assert [c.kind for c in rt.audit.checkpoints()][-1] == "shutdown"
        assert rt.verify().status == "intact"
    finally:
        rt.close()
    assert (home / "config" / "aether-qt.ini").is_file()


def test_run_app_reports_a_broken_database_and_exits_2(home: Path) -> None:
    data = home / "data"
    data.mkdir()
    (data / "aether.db").write_bytes(b"this is not a database" * 100)
    script = textwrap.dedent(
        """
        import sys
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication, QMessageBox
        from aether_qt.cli import build_parser
        import aether_qt.app as app

        def critical(parent, title, text):  # a modal box would wait for a user
            print("BOX:", title, "|", text.replace("\\n", " "))
        QMessageBox.critical = critical
        args = build_parser().parse_args(["--home", sys.argv[1], "--allow-key-file"])
        sys.exit(app.run_app(args))
        """
    )
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    done = subprocess.run(
        [sys.executable, "-c", script, str(home)], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert "BOX: Aether cannot start" in done.stdout
    assert "Traceback" not in done.stderr, done.stderr
