"""The tray icon: the app's face in the state's colour, a small menu, quick talk, and a nudge for approvals.

The icon is the app icon's small drawing made with QPainter, filled blue when idle, green while
listening, violet while thinking, teal while speaking, amber when approvals are
pending (needs attention), grey while side effects are paused, red when the policy
layer is degraded. The turn state comes from the bus (through the
:class:`~aether_qt.core.bus.QtBusBridge`), approvals and posture from the main window.
Pause goes through the policy controls, which audit it and publish
``policy.did_change_pause``.
A left click toggles quick talk (the main window when there is no conversation).
Closing the main window keeps the tray (DESIGN.md §11). While the window is
hidden, a new approval shows a tray message; clicking it opens the window on
the trust centre's Approvals tab. "Mute microphone" flips the app's microphone
switch (:class:`~aether_qt.widgets.window.ports.MicrophoneSwitch`): while it is
checked push-to-talk never opens the microphone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from aether_qt.core.events import Envelope, TurnBegan, TurnEnded, TurnStateChanged, VoiceStateChanged
from aether_qt.core.turn_labels import activity_for
from aether_qt.widgets.quick_talk import QuickTalk

if TYPE_CHECKING:
    from aether_qt.core.bus import QtBusBridge
    from aether_qt.policy.runtime import PolicyRuntime
    from aether_qt.widgets.main_window import MainWindow
    from aether_qt.widgets.ports import Conversation, PolicyControls
    from aether_qt.widgets.window.ports import MicrophoneSwitch

STATE_COLOURS: Final[dict[str, str]] = {
    "idle": "#3d8bfd",
    "listening": "#2e9d5b",
    "thinking": "#8e6cd8",
    "speaking": "#1a9e9e",
    "attention": "#f5a623",
    "paused": "#9e9e9e",
    "degraded": "#d32f2f",
}
STATE_TIPS: Final[dict[str, str]] = {
    "idle": "Aether: ready",
    "listening": "Aether: listening",
    "thinking": "Aether: thinking",
    "speaking": "Aether: speaking",
    "attention": "Aether: waiting for your OK",
    "paused": "Aether: actions are paused",
    "degraded": "Aether: can't check permissions, so every action is refused",
}
FACE_INK: Final = "#24315a"  # the eyes and smile of the app icon's small drawing
DEGRADED_FLAGS: Final = frozenset({"audit_broken", "policy_degraded"})
NO_MICROPHONE: Final = "Voice input is not available in this session."
ACTIVITY_ORDER: Final = ("speaking", "thinking", "listening")


def tray_state(pending: int, flags: list[str], activity: str = "idle") -> str:
    """The icon state, most urgent first: degraded, attention, the turn's activity, paused, idle.

    Args:
        pending: approvals waiting for the user.
        flags: posture flags shown as banners.
        activity: what the current turn does (see :func:`~aether_qt.core.turn_labels.activity_for`).
    """
    if DEGRADED_FLAGS.intersection(flags):
        return "degraded"
    if pending or activity == "attention":
        return "attention"
    if activity in ACTIVITY_ORDER:
        return activity
    if "paused" in flags:
        return "paused"
    return "idle"


def state_pixmap(state: str, size: int = 64) -> QPixmap:
    """The app icon's face (resources/icons/aether-small.svg) in the state's colour, on transparency."""
    colour = QColor(STATE_COLOURS.get(state, STATE_COLOURS["idle"]))
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rim = max(2.0, size / 16)
        painter.setPen(QPen(colour.darker(140), rim))
        painter.setBrush(colour)
        inset = rim / 2 + size * 0.06
        painter.drawEllipse(QRectF(inset, inset, size - 2 * inset, size - 2 * inset))
        ink = QColor(FACE_INK)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(ink)
        for x in (0.35, 0.65):  # the eyes
            painter.drawEllipse(QPointF(size * x, size * 0.4), size * 0.075, size * 0.11)
        smile = QPainterPath(QPointF(size * 0.32, size * 0.64))
        smile.quadTo(QPointF(size * 0.5, size * 0.86), QPointF(size * 0.68, size * 0.64))
        pen = QPen(ink, max(1.2, size * 0.07))
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.strokePath(smile, pen)
    finally:
        painter.end()
    return pixmap


class TrayIcon(QSystemTrayIcon):
    """The tray entry of the app: Show, Quick talk, Pause side effects, Mute microphone, Quit.

    It follows the window's ``sig_status_changed`` (icon colour, Pause check mark),
    ``sig_approvals_arrived`` (a tray message while the window is hidden) and the
    turn states on the bus (icon colour).

    Signals:
        sig_quit_requested(): the user chose Quit.
        sig_pause_toggled(bool): side effects were just paused (True) or resumed.
    """

    sig_quit_requested = Signal()
    sig_pause_toggled = Signal(bool)

    def __init__(
        self,
        *,
        runtime: PolicyRuntime,
        controls: PolicyControls,
        window: MainWindow,
        conversation: Conversation | None = None,
        bus_bridge: QtBusBridge | None = None,
        microphone: MicrophoneSwitch | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._runtime = runtime
        self._controls = controls
        self._window = window
        self._has_conversation = conversation is not None and bus_bridge is not None
        self.state = ""
        self.activity = "idle"
        self._turn: str | None = None
        self._pending = len(runtime.tickets.pending())
        self._flags = [f.flag for f in runtime.posture()]
        self._microphone = microphone
        self.message_shows_approvals = False  # the last tray message announced approvals
        self.quick_talk = QuickTalk(conversation=conversation, bus_bridge=bus_bridge)
        self.menu = QMenu()
        self.show_action = QAction("Show Aether", self.menu)
        self.quick_talk_action = QAction("Quick talk", self.menu)
        self.pause_action = QAction("Pause side effects", self.menu)
        self.pause_action.setCheckable(True)
        self.pause_action.setChecked(runtime.gate.paused)
        self.mute_action = QAction("Mute microphone", self.menu)
        self.mute_action.setCheckable(True)
        self.mute_action.setChecked(microphone is not None and microphone.muted)
        self.mute_action.setEnabled(microphone is not None)
        self.mute_action.setToolTip("" if microphone is not None else NO_MICROPHONE)
        self.quit_action = QAction("Quit", self.menu)
        self.menu.addAction(self.show_action)
        self.menu.addAction(self.quick_talk_action)
        self.menu.addSeparator()
        self.menu.addAction(self.pause_action)
        self.menu.addAction(self.mute_action)
        self.menu.setToolTipsVisible(True)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.setContextMenu(self.menu)
        self.show_action.triggered.connect(self._on_show_action_triggered)
        self.quick_talk_action.triggered.connect(self._on_quick_talk_action_triggered)
        self.pause_action.toggled.connect(self._on_pause_action_toggled)
        self.mute_action.toggled.connect(self._on_mute_action_toggled)
        if microphone is not None:
            microphone.sig_muted_changed.connect(self._on_microphone_muted_changed)
        self.quit_action.triggered.connect(self._on_quit_action_triggered)
        self.activated.connect(self._on_tray_activated)
        self.messageClicked.connect(self._on_tray_message_clicked)
        window.sig_status_changed.connect(self._on_window_status_changed)
        window.sig_approvals_arrived.connect(self._on_window_approvals_arrived)
        if bus_bridge is not None:
            bus_bridge.sig_event_published.connect(self._on_bridge_event_published)
        self._update_state()

    def set_state(self, state: str) -> None:
        """Redraw the icon and tooltip for ``state`` (see :data:`STATE_COLOURS`)."""
        if state == self.state:
            return
        self.state = state
        icon = QIcon()
        for size in (16, 22, 24, 32, 48, 64):
            icon.addPixmap(state_pixmap(state, size))
        self.setIcon(icon)
        self.setToolTip(STATE_TIPS.get(state, "Aether"))

    def shutdown(self) -> None:
        """Hide the icon, its menu and quick talk; stop quick talk's timer (idempotent)."""
        self.hide()
        self.menu.hide()
        self.quick_talk.hide()
        self.quick_talk.flush_timer.stop()

    def show_quick_talk(self) -> None:
        """Open quick talk next to the icon."""
        self.quick_talk.show_near(self.geometry())

    def show_window(self) -> None:
        """Bring the main window to the front."""
        self._window.bring_to_front()

    def _on_show_action_triggered(self) -> None:
        self.show_window()

    def _update_state(self) -> None:
        self.set_state(tray_state(self._pending, self._flags, self.activity))

    def _on_bridge_event_published(self, env: Envelope) -> None:
        payload = env.payload
        if isinstance(payload, TurnBegan):
            self._turn = payload.turn_id
            self.activity = "thinking"
        elif isinstance(payload, TurnStateChanged) and payload.turn_id == self._turn:
            self.activity = activity_for(payload.state)
        elif isinstance(payload, TurnEnded) and payload.turn_id == self._turn:
            self._turn = None
            self.activity = "idle"
        elif isinstance(payload, VoiceStateChanged) and payload.state in ("listening", "speaking"):
            self.activity = payload.state  # a live microphone always shows
        elif isinstance(payload, VoiceStateChanged) and self.activity in ("listening", "speaking"):
            self.activity = "thinking" if self._turn is not None else "idle"
        else:
            return
        self._update_state()

    def _on_quick_talk_action_triggered(self) -> None:
        self.show_quick_talk()

    def _on_tray_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason is not QSystemTrayIcon.ActivationReason.Trigger:
            return
        if self._has_conversation:
            self.quick_talk.toggle(self.geometry())
        elif self._window.isVisible():
            self._window.hide()
        else:
            self.show_window()

    def _on_pause_action_toggled(self, paused: bool) -> None:
        if paused != self._runtime.gate.paused:
            self._controls.pause(paused)
        self._window.refresh()  # the "paused" banner appears at once, not after the bus event
        self.sig_pause_toggled.emit(paused)

    def _on_mute_action_toggled(self, muted: bool) -> None:
        if self._microphone is not None:
            self._microphone.set_muted(muted)

    def _on_microphone_muted_changed(self, muted: bool) -> None:
        self.mute_action.blockSignals(True)
        self.mute_action.setChecked(muted)
        self.mute_action.blockSignals(False)

    def _on_tray_message_clicked(self) -> None:
        if self.message_shows_approvals:
            self._window.show_approvals()
        else:
            self.show_window()

    def _on_quit_action_triggered(self) -> None:
        self.sig_quit_requested.emit()

    def _on_window_status_changed(self, pending: int, flags: list[str]) -> None:
        self.pause_action.blockSignals(True)
        self.pause_action.setChecked("paused" in flags)
        self.pause_action.blockSignals(False)
        self._pending = pending
        self._flags = list(flags)
        self._update_state()

    def _on_window_approvals_arrived(self, lines: list[str]) -> None:
        if self._window.isVisible() or not lines or not self.isVisible():
            return
        title = "Aether needs your approval" if len(lines) == 1 else f"{len(lines)} approvals are waiting"
        self.message_shows_approvals = True
        self.showMessage(title, "\n".join(lines[:3]), QSystemTrayIcon.MessageIcon.Information, 8000)
