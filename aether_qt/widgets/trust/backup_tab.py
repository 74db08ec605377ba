"""The trust centre's Backup tab: Backup… and Restore… with a passphrase, progress and a clear result.

Both jobs block for seconds (a key derivation, copies, a full audit
verification), so they run in a :class:`~aether_qt.core.qt_threads.WorkerThread`
(started at the first job); progress comes back as a signal, the result on the
GUI thread, dropped if the tab is gone by then. :meth:`BackupTab.shutdown` stops
the thread.

Restore… checks the chosen backup in full and then says how to restore it: quit
Aether and run ``aether restore FILE`` (the command is shown in a field to copy).
The running app does not replace its own live databases
(:mod:`aether_qt.services.gate.data_safety` says why).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from aether_qt.core.errors import ExplainedError
from aether_qt.core.qt_threads import WorkerThread
from aether_qt.policy.user_words import explain_error
from aether_qt.widgets.trust.passphrase_dialog import AskPassphrase, ask_passphrase

if TYPE_CHECKING:
    from aether_qt.widgets.ports import DataSafety

_log = logging.getLogger(__name__)

ChooseFile = Callable[[QWidget, bool], "Path | None"]
"""Asks ``(parent, save)`` for a file: a new one to back up to (``save``), or a backup to restore."""
_FAILED = {"backup": "Not backed up: ", "check": ""}  # a check's errors already say "cannot be restored"
JOB_STOP_MS = 60_000  # a backup of a large home takes a while; shutdown waits for it this long
_FILTER = "Aether backups (*.aether);;All files (*)"
INTRO = (
    "A backup holds your memories, settings, personas, the audit log and the keys that open them, "
    "sealed with a passphrase you choose. Aether cannot recover a lost passphrase."
)


def choose_file(parent: QWidget, save: bool) -> Path | None:
    """The default chooser: a save dialog for a new backup, an open dialog for one to restore."""
    folder = Path.home() / "Documents"
    if save:
        start = str(folder / f"aether-backup-{time.strftime('%Y%m%d-%H%M')}.aether")
        chosen, _ = QFileDialog.getSaveFileName(parent, "Back up to", start, _FILTER)
    else:
        chosen, _ = QFileDialog.getOpenFileName(parent, "Restore from", str(folder), _FILTER)
    return Path(chosen) if chosen else None


class BackupTab(QWidget):
    """Backup… and Restore… over a :class:`~aether_qt.widgets.ports.DataSafety` (None: not available).

    Signals:
        sig_job_done(str, bool): the job (``backup`` or ``check``) ended, and whether it succeeded.
        sig_progress(int): percent done, emitted from the worker thread.
    """

    sig_job_done = Signal(str, bool)
    sig_progress = Signal(int)

    def __init__(
        self,
        *,
        data_safety: DataSafety | None,
        ask: AskPassphrase = ask_passphrase,
        choose: ChooseFile = choose_file,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._data = data_safety
        self._ask = ask
        self._choose = choose
        self._percent = -1
        self._kind = ""
        self._source: Path | None = None
        self._worker = WorkerThread("aether-backup", stop_timeout_ms=JOB_STOP_MS, parent=self)
        layout = QVBoxLayout(self)
        intro = QLabel(INTRO)
        intro.setWordWrap(True)
        layout.addWidget(intro)
        row = QHBoxLayout()
        self.backup_button = QPushButton("Back up…")
        self.backup_button.clicked.connect(self._on_backup_clicked)
        self.restore_button = QPushButton("Restore…")
        self.restore_button.clicked.connect(self._on_restore_clicked)
        row.addWidget(self.backup_button)
        row.addWidget(self.restore_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setVisible(False)
        layout.addWidget(self.progress)
        self.status = QLabel("")
        self.status.setObjectName("backup_status")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)
        self.command = QLineEdit()  # a command line does not wrap: a field the user can select and copy
        self.command.setObjectName("restore_command")
        self.command.setReadOnly(True)
        self.command.setToolTip("Select it and copy it (Ctrl+A, Ctrl+C), then quit Aether and run it.")
        self.command.setVisible(False)
        layout.addWidget(self.command)
        layout.addStretch(1)
        self.sig_progress.connect(self._on_progress)
        if data_safety is None:
            for button in (self.backup_button, self.restore_button):
                button.setEnabled(False)
                button.setToolTip("Backups are not available in this session.")

    @property
    def busy(self) -> bool:
        """A job is running."""
        return self.progress.isVisible()

    def shutdown(self) -> bool:
        """Stop the worker thread, waiting for a running job; True when it ended."""
        return self._worker.stop()

    def _on_backup_clicked(self) -> None:
        target = self._choose(self, True)
        if target is None:
            return
        passphrase = self._ask(self, "Passphrase for the new backup", True)
        if passphrase is None:
            return
        data = self._data
        assert data is not None  # the buttons are disabled without it
        self._start("backup", "Backing up…", lambda: data.backup(target, passphrase, self._report))

    def _on_restore_clicked(self) -> None:
        source = self._choose(self, False)
        if source is None:
            return
        passphrase = self._ask(self, "Passphrase of the backup", False)
        if passphrase is None:
            return
        data = self._data
        assert data is not None
        self._source = source
        self._start(
            "check", "Checking the backup…", lambda: data.check_backup(source, passphrase, self._report)
        )

    def _start(self, kind: str, what: str, job: Callable[[], str]) -> None:
        self._kind = kind
        self._percent = -1
        self.backup_button.setEnabled(False)
        self.restore_button.setEnabled(False)
        self.progress.setRange(0, 0)  # busy until the first bytes are written (key derivation, copies)
        self.progress.setVisible(True)
        self.command.setVisible(False)
        self.status.setText(what)
        if not self._worker.running:
            self._worker.start()
        self._worker.call(job, self._on_job_done, self._on_job_failed)

    def _report(self, done: int, total: int | None) -> None:
        """Called in the worker thread: a signal carries the percentage to the GUI thread."""
        if not total:
            return
        percent = min(100, done * 100 // total)
        if percent != self._percent:
            self._percent = percent
            self.sig_progress.emit(percent)

    def _on_progress(self, percent: int) -> None:
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 100)
        self.progress.setValue(percent)

    def _finish(self, ok: bool) -> None:
        self.progress.setVisible(False)
        self.backup_button.setEnabled(True)
        self.restore_button.setEnabled(True)
        self.sig_job_done.emit(self._kind, ok)

    def _on_job_done(self, message: str) -> None:
        self.status.setText(message)
        if self._kind == "check" and self._data is not None and self._source is not None:
            self.command.setText(self._data.restore_command(self._source))
            self.command.setVisible(True)
            self.command.setCursorPosition(0)  # "aether … restore" first; the path scrolls
        self._finish(True)

    def _on_job_failed(self, exc: Exception) -> None:
        if isinstance(exc, ExplainedError):
            self.status.setText(f"{_FAILED[self._kind]}{exc}")
        else:  # a bug: the log keeps the traceback
            _log.error("the %s job failed", self._kind, exc_info=exc)
            self.status.setText(
                f"The {self._kind} could not run. {explain_error(exc, where='the ' + self._kind)}"
            )
        self._finish(False)


__all__ = ["BackupTab", "ChooseFile", "choose_file"]
