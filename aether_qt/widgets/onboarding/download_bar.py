"""A consented download on a wizard page: the Download button, a progress bar, Cancel and a status line.

Both pages offer a download (the English speech model, a catalogue model). The
button's text names the size and the status line names where it comes from
before anything is fetched: pressing it is the consent. The port runs it on
its own thread and reports on the GUI thread; Cancel stops it at the next
chunk. :attr:`DownloadBar.busy` keeps the wizard's Next disabled meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from aether_qt.widgets.onboarding.media_ports import Download, DownloadResult, Finished, Progress

Fetch = Callable[[Progress, Finished], Download]


def size_words(size_bytes: int) -> str:
    """``1.2 GB`` or ``40 MB``."""
    return f"{size_bytes / 1e9:.1f} GB" if size_bytes >= 1e9 else f"{size_bytes / 1e6:.0f} MB"


class DownloadBar(QWidget):
    """Download / progress / Cancel / status (see the module docstring).

    Signals:
        sig_busy_changed(bool): a download started or ended.
        sig_downloaded(object): the verified file or folder (a ``Path``).
    """

    sig_busy_changed = Signal(bool)
    sig_downloaded = Signal(object)

    def __init__(self, *, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.button = QPushButton("&Download", self)
        self.button.setObjectName(f"{name}_start")
        self.progress = QProgressBar(self)
        self.progress.setObjectName(f"{name}_progress")
        self.progress.setAccessibleName("Download progress")
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.cancel_button = QPushButton("&Cancel download", self)
        self.cancel_button.setObjectName(f"{name}_cancel")
        self.cancel_button.hide()
        self.status = QLabel("", self)
        self.status.setObjectName(f"{name}_status")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.button)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        self.button.clicked.connect(self._on_button_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_button_clicked)
        self.job: Download | None = None
        self.last: DownloadResult | None = None
        self._fetch: Fetch | None = None
        self.consent = ""

    @property
    def busy(self) -> bool:
        """Whether a download is under way."""
        return self.job is not None

    def offer(self, label: str, consent: str, fetch: Fetch | None) -> None:
        """Offer ``label`` with ``consent`` (what, how big, from where); no ``fetch``: no button."""
        self._fetch, self.consent = fetch, consent
        self.button.setText(label)
        self.button.setVisible(fetch is not None)
        self.status.setText(consent)

    def remind(self, words: str) -> None:
        """Say ``words`` before the consent line (the page cannot go on without the download)."""
        self.status.setText(f"{words} {self.consent}".strip())

    def start(self) -> None:
        """Start the offered download (the user pressed the button)."""
        if self._fetch is None or self.job is not None:
            return
        self.progress.setRange(0, 0)  # busy until the size is known
        self.progress.show()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.button.setEnabled(False)
        self.status.setText("Starting the download…")
        self.job = self._fetch(self._on_job_progress, self._on_job_finished)
        self.sig_busy_changed.emit(True)
        self.cancel_button.setFocus()

    def cancel(self) -> None:
        """Ask the download to stop (the end is reported as cancelled)."""
        if self.job is not None:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText("Cancelling…")

    def _on_button_clicked(self) -> None:
        self.start()

    def _on_cancel_button_clicked(self) -> None:
        self.cancel()

    def _on_job_progress(self, done: int, total: int | None) -> None:
        if self.job is None:
            return
        if total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * done / total))
            self.progress.setFormat(f"{size_words(done)} of {size_words(total)} (%p%)")
        else:
            self.progress.setFormat(size_words(done))
        if self.cancel_button.isEnabled():
            self.status.setText("Downloading…")

    def _on_job_finished(self, result: DownloadResult) -> None:
        self.job, self.last = None, result
        self.cancel_button.hide()
        self.button.setEnabled(True)
        if result.path is not None:
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
            self.progress.setFormat("Done")
            self.status.setText("Downloaded and checked: it is the expected file.")
            self.button.hide()
            self._done(result.path)
        else:
            self.progress.hide()
            self.status.setText(
                "Download cancelled. Pressing Download again picks up where it stopped."
                if result.cancelled
                else result.problem
            )
            self.button.setFocus()
        self.sig_busy_changed.emit(False)

    def _done(self, path: Path) -> None:
        self.sig_downloaded.emit(path)
