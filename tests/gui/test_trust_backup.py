"""The trust centre's Backup tab in the real main window, over a real home and the real backup service.

The file and passphrase dialogs are replaced by lambdas (constructor arguments);
everything else is real: the gate answers ``data.backup``, the effector writes the
file, the check unseals it and verifies its audit chain, in the tab's worker thread.
The key derivation runs at the cheapest cost, a constructor argument the app never passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from backup_support import CHEAP, PASSPHRASE, seed_home
from keyring_support import no_keyring
from PySide6.QtCore import QSettings, Qt, QThread
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDialogButtonBox, QLineEdit
from pytestqt.qtbot import QtBot

from aether_qt.companion import gate_on_bus
from aether_qt.core.bus import EventBus
from aether_qt.core.paths import resolve_paths
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.gate.data_safety import DataSafetyService
from aether_qt.widgets.main_window import MainWindow
from aether_qt.widgets.trust.backup_tab import BackupTab
from aether_qt.widgets.trust.passphrase_dialog import PassphraseDialog

Progress = Callable[[int, int | None], None]


class Recording:
    """The real service, noting the thread each call runs in and the progress it reports."""

    def __init__(self, service: DataSafetyService) -> None:
        self.service = service
        self.threads: list[str] = []
        self.progress: list[int] = []

    def _progress(self, report: Progress) -> Progress:
        def note(done: int, total: int | None) -> None:
            self.progress.append(done)
            report(done, total)

        return note

    def backup(self, out: Path, passphrase: str, progress: Progress) -> str:
        self.threads.append(QThread.currentThread().objectName())
        return self.service.backup(out, passphrase, self._progress(progress))

    def check_backup(self, bundle: Path, passphrase: str, progress: Progress) -> str:
        self.threads.append(QThread.currentThread().objectName())
        return self.service.check_backup(bundle, passphrase, self._progress(progress))

    def restore_command(self, bundle: Path) -> str:
        return self.service.restore_command(bundle)


@pytest.fixture
def folders(tmp_path: Path, home: Path) -> tuple[Path, Path]:
    docs, out = tmp_path / "docs", tmp_path / "out"
    seed_home(home, folders=(docs, out))
    return docs, out


@pytest.fixture
def runtime(home: Path, folders: tuple[Path, Path]) -> Iterator[PolicyRuntime]:
    with no_keyring():
        rt = PolicyRuntime.open(resolve_paths(home), allow_key_file=True)
        try:
            yield rt
        finally:
            rt.close()


@pytest.fixture
def service(runtime: PolicyRuntime, home: Path) -> Recording:
    return Recording(DataSafetyService(runtime=runtime, home=home, cost=CHEAP, min_cost=CHEAP))


def _window(
    qtbot: QtBot, runtime: PolicyRuntime, service: Recording | None, home: Path, **dialogs: object
) -> MainWindow:
    window = MainWindow(
        runtime=runtime,
        controls=gate_on_bus(runtime, EventBus()),
        settings=QSettings(str(home / "config" / "aether-qt.ini"), QSettings.Format.IniFormat),
        confirm=lambda *_: True,
        data_safety=service,
        **dialogs,  # type: ignore[arg-type]
    )
    qtbot.addWidget(window)
    return window


def _tab(window: MainWindow) -> BackupTab:
    centre = window.trust_centre
    window.show_tab(centre.indexOf(centre.backup))
    return centre.backup


def _run(qtbot: QtBot, tab: BackupTab, button: str) -> list[object]:
    with qtbot.waitSignal(tab.sig_job_done, timeout=30_000) as blocker:
        qtbot.mouseClick(getattr(tab, button), Qt.MouseButton.LeftButton)
    return list(blocker.args or [])


def test_back_up_then_check_the_backup_from_the_trust_centre(
    qtbot: QtBot,
    runtime: PolicyRuntime,
    service: Recording,
    home: Path,
    folders: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    target = folders[1] / "from-the-window.aether"
    window = _window(
        qtbot, runtime, service, home,
        ask_passphrase=lambda _parent, _title, _confirm: PASSPHRASE,
        choose_file=lambda _parent, _save: target,
    )  # fmt: skip
    window.resize(1100, 700)
    window.show()
    qtbot.waitExposed(window)
    tab = _tab(window)
    percents: list[int] = []
    tab.sig_progress.connect(percents.append)  # emitted from the worker thread

    assert _run(qtbot, tab, "backup_button") == ["backup", True]
    assert percents and percents == sorted(percents) and percents[-1] == 100
    assert target.is_file() and tab.status.text().startswith(f"Backed up to {target}")
    assert service.progress and max(service.progress) == target.stat().st_size
    assert not tab.busy and tab.backup_button.isEnabled()

    assert _run(qtbot, tab, "restore_button") == ["check", True]
    assert "is sound" in tab.status.text() and "quit Aether and run" in tab.status.text()
    assert tab.command.isVisible() and tab.command.text() == f"aether --home {home} restore {target}"
    assert service.threads == ["aether-backup", "aether-backup"]
    assert not list(resolve_paths(home).data_dir.glob("check-*"))

    shot = window.grab()
    assert shot.save(str(tmp_path / "trust-centre-backup.png"))
    image = shot.toImage()
    ratio = image.width() / window.width()
    top_left = tab.status.mapTo(window, tab.status.rect().topLeft())
    colours = {
        QColor(image.pixel(int((top_left.x() + x) * ratio), int((top_left.y() + y) * ratio))).name()
        for x in range(0, tab.status.width(), 3)
        for y in range(0, tab.status.height(), 2)
    }
    assert len(colours) > 2, "the result should be drawn as text, not a blank area"
    window.shutdown()


def test_a_wrong_passphrase_or_a_changed_file_is_said_clearly(
    qtbot: QtBot, runtime: PolicyRuntime, service: Recording, home: Path, folders: tuple[Path, Path]
) -> None:
    target = folders[1] / "b.aether"
    answers = iter([PASSPHRASE, "not the passphrase", PASSPHRASE])
    window = _window(
        qtbot, runtime, service, home,
        ask_passphrase=lambda *_: next(answers),
        choose_file=lambda _parent, _save: target,
    )  # fmt: skip
    tab = _tab(window)
    assert _run(qtbot, tab, "backup_button") == ["backup", True]
    assert _run(qtbot, tab, "restore_button") == ["check", False]
    assert tab.status.text().startswith("This backup cannot be restored: wrong passphrase")
    assert not tab.command.isVisible()
    assert _run(qtbot, tab, "backup_button") == ["backup", False]  # the file exists now
    assert tab.status.text() == f"Not backed up: {target} already exists"
    window.shutdown()


def test_cancelled_dialogs_start_nothing_and_no_service_disables_the_buttons(
    qtbot: QtBot, runtime: PolicyRuntime, service: Recording, home: Path, tmp_path: Path
) -> None:
    window = _window(
        qtbot, runtime, service, home,
        ask_passphrase=lambda *_: None,
        choose_file=lambda _parent, save: tmp_path / "x.aether" if save else None,
    )  # fmt: skip
    tab = _tab(window)
    qtbot.mouseClick(tab.backup_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(tab.restore_button, Qt.MouseButton.LeftButton)
    assert service.threads == [] and not tab.busy and tab.status.text() == ""
    window.shutdown()
    bare = _window(qtbot, runtime, None, home)
    assert not _tab(bare).backup_button.isEnabled() and not _tab(bare).restore_button.isEnabled()
    bare.shutdown()


def test_the_passphrase_dialog_masks_the_text_and_wants_it_long_and_typed_twice(qtbot: QtBot) -> None:
    dialog = PassphraseDialog(title="Passphrase", confirm=True)
    qtbot.addWidget(dialog)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dialog.again is not None
    assert dialog.passphrase.echoMode() == dialog.again.echoMode() == QLineEdit.EchoMode.Password
    qtbot.keyClicks(dialog.passphrase, "short")
    assert not ok.isEnabled() and "At least 8" in dialog.hint.text()
    qtbot.keyClicks(dialog.passphrase, " but long now")
    qtbot.keyClicks(dialog.again, "short but long no")
    assert not ok.isEnabled() and "differ" in dialog.hint.text()
    qtbot.keyClicks(dialog.again, "w")
    assert ok.isEnabled() and dialog.problem() == ""
    dialog.clear()
    assert dialog.passphrase.text() == dialog.again.text() == ""
