"""Watching the active persona file: debounced, and robust to editors that replace the file.

Many editors save by writing a new file and renaming it over the old one;
``QFileSystemWatcher`` then forgets the path. The watcher therefore also
watches the folder, re-adds the file whenever it reappears, and debounces
bursts of events (save = truncate + write + rename) into one
``sig_file_changed`` about 150 ms after the last event. It lives in the
persona thread; it only needs QtCore.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal, Slot

DEBOUNCE_MS = 150


class PersonaWatcher(QObject):
    """Watches one file (the active persona) and emits once per burst of changes.

    Signals:
        sig_file_changed(str): the watched file changed (or was replaced); its path.
    """

    sig_file_changed = Signal(str)

    def __init__(self, *, debounce_ms: int = DEBOUNCE_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._debounce_ms = debounce_ms
        self._path: Path | None = None
        self._signature: tuple[int, int] | None = None
        self._fs: QFileSystemWatcher | None = None
        self._timer: QTimer | None = None

    def _ensure(self) -> tuple[QFileSystemWatcher, QTimer]:
        """Create the Qt objects in the thread that uses them (after moveToThread)."""
        if self._fs is None or self._timer is None:
            self._fs = QFileSystemWatcher(self)
            self._fs.fileChanged.connect(self._on_fs_changed)
            self._fs.directoryChanged.connect(self._on_fs_changed)
            self._timer = QTimer(self)
            self._timer.setSingleShot(True)
            self._timer.setInterval(self._debounce_ms)
            self._timer.timeout.connect(self._on_timer_timeout)
        return self._fs, self._timer

    @Slot(str)
    def watch(self, path: str) -> None:
        """Watch ``path`` (and its folder) instead of whatever was watched before; "" stops."""
        fs, timer = self._ensure()
        timer.stop()
        old = fs.files() + fs.directories()
        if old:
            fs.removePaths(old)
        self._path = Path(path) if path else None
        if self._path is None:
            return
        fs.addPath(str(self._path.parent))
        if self._path.exists():
            fs.addPath(str(self._path))
        self._signature = self._stat()

    @Slot()
    def stop(self) -> None:
        """Stop watching (idempotent)."""
        if self._timer is not None:
            self._timer.stop()
        if self._fs is not None:
            paths = self._fs.files() + self._fs.directories()
            if paths:
                self._fs.removePaths(paths)
        self._path = None

    def _stat(self) -> tuple[int, int] | None:
        if self._path is None:
            return None
        try:
            st = self._path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    @Slot(str)
    def _on_fs_changed(self, _changed: str) -> None:
        fs, timer = self._ensure()
        if self._path is not None and self._path.exists() and str(self._path) not in fs.files():
            fs.addPath(str(self._path))  # replaced by rename: watch the new file
        timer.start()

    @Slot()
    def _on_timer_timeout(self) -> None:
        signature = self._stat()
        if self._path is None or signature is None or signature == self._signature:
            return  # gone (mid-save) or a folder event about another file
        self._signature = signature
        self.sig_file_changed.emit(str(self._path))
