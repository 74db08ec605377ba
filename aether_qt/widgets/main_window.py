"""The main window: posture banners on top, the conversation placeholder and the trust centre.

The window polls the policy runtime on a timer, because approval tickets may be
opened by another process (``aether policy evaluate`` in a terminal); each
refresh is cheap when nothing changed. Its geometry is remembered in the
``QSettings`` it is given. Closing it hides it to the tray when the app keeps
running there, and asks the app to quit otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import QFrame, QLabel, QMainWindow, QSplitter, QVBoxLayout, QWidget

from aether_qt.widgets.banners import BannerArea
from aether_qt.widgets.trust_centre import Confirm, TrustCentre, ask_user

if TYPE_CHECKING:
    from aether_qt.policy.runtime import PolicyRuntime

REFRESH_MS = 2000
KEY_GEOMETRY = "main_window/geometry"
KEY_SPLITTER = "main_window/splitter"
KEY_TAB = "main_window/tab"


def _placeholder() -> QFrame:
    """The left pane until the conversation arrives: a name, a line, nothing that pretends."""
    frame = QFrame()
    frame.setObjectName("conversation_placeholder")
    frame.setStyleSheet(
        "QFrame#conversation_placeholder { background: palette(alternate-base); border-radius: 8px; }"
    )
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(24, 24, 24, 24)
    layout.addStretch(1)
    name = QLabel("Aether")
    name.setAlignment(Qt.AlignmentFlag.AlignCenter)
    name.setStyleSheet("font-size: 22pt; font-weight: 600;")
    line = QLabel("The conversation arrives with the next release.")
    line.setObjectName("placeholder_text")
    line.setAlignment(Qt.AlignmentFlag.AlignCenter)
    line.setWordWrap(True)
    line.setStyleSheet("color: palette(placeholder-text);")
    layout.addWidget(name)
    layout.addWidget(line)
    layout.addStretch(2)
    return frame


class MainWindow(QMainWindow):
    """The "Aether" window over one policy runtime.

    Signals:
        sig_quit_requested(): Ctrl+Q, or the window was closed with no tray to keep the app.
        sig_status_changed(int, list[str]): after each refresh: pending approvals, posture flags.
        sig_approvals_arrived(list[str]): one line per approval ticket new since the last refresh.
    """

    sig_quit_requested = Signal()
    sig_status_changed = Signal(int, list)
    sig_approvals_arrived = Signal(list)

    def __init__(
        self,
        *,
        runtime: PolicyRuntime,
        settings: QSettings,
        keep_in_tray: bool = False,
        confirm: Confirm = ask_user,
        refresh_ms: int = REFRESH_MS,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._runtime = runtime
        self._settings = settings
        self._known_pending: set[str] = set()
        self._stopped = False
        self.keep_in_tray = keep_in_tray
        self.setWindowTitle("Aether")
        self.setMinimumSize(760, 480)
        self.banners = BannerArea(runtime=runtime)
        self.trust_centre = TrustCentre(runtime=runtime, confirm=confirm)
        self.placeholder = _placeholder()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.placeholder)
        self.splitter.addWidget(self.trust_centre)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.banners)
        body = QVBoxLayout()
        body.setContentsMargins(10, 0, 10, 4)
        body.addWidget(self.splitter, 1)
        layout.addLayout(body, 1)
        self.setCentralWidget(central)
        self.trust_centre.sig_policy_changed.connect(self._on_trust_centre_policy_changed)
        self._add_shortcuts()
        self._restore_state()
        self.timer = QTimer(self)
        self.timer.setInterval(refresh_ms)
        self.timer.timeout.connect(self._on_timer_timeout)
        self.timer.start()
        self.refresh()

    # ------------------------------------------------------------------ state

    def refresh(self) -> None:
        """Recompute banners, approvals, grants, audit rows; announce what changed."""
        if self._stopped:
            return
        self.banners.refresh()
        self.trust_centre.refresh()
        pending = self._runtime.tickets.pending()
        new = [t for t in pending if t.ticket_id not in self._known_pending]
        self._known_pending = {t.ticket_id for t in pending}
        preset = self._runtime.preset().value
        paused = " · side effects paused" if self._runtime.gate.paused else ""
        self.statusBar().showMessage(f"Preset {preset} · {len(pending)} pending approval(s){paused}")
        self.sig_status_changed.emit(len(pending), self.banners.flags())
        if new:
            self.sig_approvals_arrived.emit([f"{t.request.capability}: {t.request.resource}" for t in new])

    def show_tab(self, index: int) -> None:
        """Show trust-centre tab ``index`` (0-based) and bring the window up."""
        if 0 <= index < self.trust_centre.count():
            self.trust_centre.setCurrentIndex(index)

    def _add_shortcuts(self) -> None:
        bindings = [
            ("Ctrl+Q", self._on_shortcut_quit),
            ("Ctrl+W", self._on_shortcut_hide),
            ("Esc", self._on_shortcut_hide),
            ("F5", self._on_shortcut_refresh),
        ]
        self.shortcuts: dict[str, QShortcut] = {}
        for keys, slot in bindings:
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.activated.connect(slot)
            self.shortcuts[keys] = shortcut
        for number in range(1, self.trust_centre.count() + 1):
            shortcut = QShortcut(QKeySequence(f"Ctrl+{number}"), self)
            shortcut.setProperty("tab", number - 1)
            shortcut.activated.connect(self._on_shortcut_tab)
            self.shortcuts[f"Ctrl+{number}"] = shortcut

    # ------------------------------------------------------------------ geometry

    def _restore_state(self) -> None:
        geometry = self._settings.value(KEY_GEOMETRY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1120, 720)
        splitter = self._settings.value(KEY_SPLITTER)
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.splitter.restoreState(splitter)
        else:
            self.splitter.setSizes([280, 840])
        tab = self._settings.value(KEY_TAB, 0)
        self.show_tab(int(tab) if isinstance(tab, (int, str)) and str(tab).isdigit() else 0)

    def save_state(self) -> None:
        """Write geometry, splitter and current tab to the settings (synced to disk)."""
        self._settings.setValue(KEY_GEOMETRY, self.saveGeometry())
        self._settings.setValue(KEY_SPLITTER, self.splitter.saveState())
        self._settings.setValue(KEY_TAB, self.trust_centre.currentIndex())
        self._settings.sync()

    def shutdown(self) -> None:
        """Stop the timer, save the geometry, wait for background work. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self.timer.stop()
        self.save_state()
        self.trust_centre.shutdown()

    # ------------------------------------------------------------------ events

    def closeEvent(self, event: QCloseEvent) -> None:
        """Hide to the tray when the app keeps running there; otherwise ask to quit."""
        if not self._stopped:
            self.save_state()
        if self.keep_in_tray and not self._stopped:
            event.ignore()
            self.hide()
            return
        event.accept()
        if not self._stopped:
            self.sig_quit_requested.emit()

    def _on_shortcut_quit(self) -> None:
        self.sig_quit_requested.emit()

    def _on_shortcut_hide(self) -> None:
        if self.keep_in_tray:
            self.save_state()
            self.hide()
        elif self.sender() is self.shortcuts["Ctrl+W"]:
            self.close()

    def _on_shortcut_refresh(self) -> None:
        self.refresh()

    def _on_shortcut_tab(self) -> None:
        sender = self.sender()
        if isinstance(sender, QShortcut):
            self.show_tab(int(sender.property("tab")))

    def _on_timer_timeout(self) -> None:
        self.refresh()

    def _on_trust_centre_policy_changed(self) -> None:
        self.refresh()
