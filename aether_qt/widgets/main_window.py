"""The main window: posture banners on top, the conversation, and the trust centre beside it.

The conversation view is the centre; the trust centre is a side panel the user
can hide (Ctrl+T). Bus events arrive through the :class:`~aether_qt.core.bus.QtBusBridge`
queued to the GUI thread: tickets, decisions, grants, preset and pause changes
(published by the gate-on-bus adapter, whoever made them: the trust centre, the
tray, a turn) refresh the banners and the trust centre, coalesced by a short
single-shot timer; model status drives the "no model" banner and the status bar.
A turn's end refreshes too: it may have spent money, so the Costs tab and the
remote banners (:mod:`~aether_qt.widgets.trust.remote_banners`) follow.
While the "storage full" banner shows, each refresh first asks the runtime to
look for room again (a ``statvfs``; the log is re-verified only once there is
room), so freeing space clears the banner at the next event, activation, F5 or
"Check again", without a restart. Nothing polls. A change the user makes in the
trust centre refreshes at once; one made by another process (``aether policy
evaluate`` in a terminal) cannot be published here, so the window also
refreshes when it is activated, and on F5; each refresh is cheap when nothing
changed.

The persona picker sits in the conversation header when the app lists
personas: picking one asks the persona service to switch, and the status bar
says so until ``persona.did_activate`` arrives (the swap waits for a turn
boundary). Geometry, splitter and panel state are remembered in the
``QSettings`` it is given. Closing the window hides it to the tray when the app
keeps running there, and asks the app to quit otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QByteArray, QEvent, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QSplitter, QToolButton, QVBoxLayout, QWidget

from aether_qt.core.events import (
    AuditAppended,
    DecisionMade,
    Envelope,
    GrantIssued,
    GrantRevoked,
    MemoryStatusChanged,
    ModelStatusChanged,
    PauseChanged,
    PersonaActivated,
    PersonaFailed,
    PersonaRecovered,
    PostureChanged,
    PresetChanged,
    RootsChanged,
    SpeechHeard,
    TicketAnswered,
    TicketOpened,
    TurnEnded,
    VoiceStateChanged,
)
from aether_qt.widgets.conversation.view import ConversationView
from aether_qt.widgets.persona_picker import ListPersonas, PersonaPicker
from aether_qt.widgets.trust.backup_tab import ChooseFile, choose_file
from aether_qt.widgets.trust.banners import (
    CHECK_AGAIN,
    CHOOSE_MODEL,
    COPY_FOLDER,
    OPEN_COSTS,
    STORAGE_FULL,
    BannerArea,
)
from aether_qt.widgets.trust.centre import TrustCentre
from aether_qt.widgets.trust.confirm import Confirm, ask_user
from aether_qt.widgets.trust.passphrase_dialog import AskPassphrase, ask_passphrase
from aether_qt.widgets.trust.remote_banners import REMOTE_ACTIVE, RemoteBanners

if TYPE_CHECKING:
    from aether_qt.core.bus import QtBusBridge
    from aether_qt.policy.runtime import PolicyRuntime
    from aether_qt.widgets.ports import Conversation, Costs, DataSafety, PolicyControls

SOON_MS = 60
KEY_GEOMETRY = "main_window/geometry"
KEY_SPLITTER = "main_window/splitter"
KEY_TAB = "main_window/tab"
KEY_PANEL = "main_window/trust_centre_visible"
NO_MODEL_TEXT: Final = "No language model is loaded: Aether answers with reflex replies only."
ChooseModel = Callable[[Path], str]
"""Adds a model file and returns a sentence for the user (it must return at once)."""
PickModelFile = Callable[[QWidget], Path | None]
"""Asks the user for a model file; ``None`` when cancelled."""
ChoosePersona = Callable[[str], None]
"""Asks the persona service to switch to this persona id at the next turn boundary (returns at once).

It raises ``ValueError`` (or ``OSError``) when the persona is gone or does not load; the
window shows that sentence and keeps the active persona selected.
"""
_POLICY_EVENTS: Final = (
    DecisionMade,
    GrantIssued,
    GrantRevoked,
    AuditAppended,
    PresetChanged,
    RootsChanged,
    PauseChanged,
)
NO_SWITCH_TEXT: Final = "Switching personas is not available in this session."


def pick_gguf(parent: QWidget) -> Path | None:
    """The default model picker: a file dialog for ``*.gguf`` files."""
    name, _ = QFileDialog.getOpenFileName(
        parent, "Choose a model", str(Path.home()), "GGUF models (*.gguf);;All files (*)"
    )
    return Path(name) if name else None


def model_status_text(status: ModelStatusChanged) -> str:
    """The status-bar words for a model status event."""
    if status.status == "loading":
        percent = status.progress * 100 if status.progress <= 1 else status.progress
        return f"Loading model… {percent:.0f}%"
    if status.status == "ready":
        return f"Model ready: {status.model_id}" if status.model_id else "Model ready"
    if status.status == "failed":
        return "Model failed to load: reflex replies only"
    return "No model: reflex replies only"


_MAX_TAB_DIGITS: Final = 4


def stored_tab(value: object) -> int:
    """The tab index kept in the settings file, or 0 when it is not a plain decimal number.

    The file is the user's to edit, so the value may be anything ``QSettings``
    reads: text, a list, digits ``int`` refuses ("²") or more digits than it parses.
    """
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= _MAX_TAB_DIGITS else 0


class MainWindow(QMainWindow):
    """The "Aether" window over one policy runtime, its controls and, when given, one conversation.

    The runtime is read (tickets, grants, audit rows, posture); every change goes
    through ``controls`` (:class:`~aether_qt.widgets.ports.PolicyControls`).

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
        controls: PolicyControls,
        settings: QSettings,
        keep_in_tray: bool = False,
        confirm: Confirm = ask_user,
        conversation: Conversation | None = None,
        bus_bridge: QtBusBridge | None = None,
        choose_model: ChooseModel | None = None,
        pick_model_file: PickModelFile = pick_gguf,
        personas: ListPersonas | None = None,
        choose_persona: ChoosePersona | None = None,
        memory_panel: QWidget | None = None,
        data_safety: DataSafety | None = None,
        ask_passphrase: AskPassphrase = ask_passphrase,
        choose_file: ChooseFile = choose_file,
        costs: Costs | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._runtime = runtime
        self._settings = settings
        self._choose_model = choose_model
        self._pick_model_file = pick_model_file
        self._choose_persona = choose_persona
        self._known_pending: set[str] = set()
        self._voice_message = ""
        self._bus_tickets: dict[str, str] = {}  # tickets opened on the bus -> their one-line summary
        self._stopped = False
        self.keep_in_tray = keep_in_tray
        self.setWindowTitle("Aether")
        self.setMinimumSize(760, 480)
        self.banners = BannerArea(runtime=runtime)
        self.conversation_view = ConversationView(conversation=conversation, bus_bridge=bus_bridge)
        answer = conversation.answer if conversation is not None else None
        self.trust_centre = TrustCentre(
            runtime=runtime,
            controls=controls,
            confirm=confirm,
            answer=answer,
            data_safety=data_safety,
            ask_passphrase=ask_passphrase,
            choose_file=choose_file,
            costs=costs,
        )
        self.remote_banners = RemoteBanners(banners=self.banners, costs=costs, parent=self)
        self.memory_panel = memory_panel
        if memory_panel is not None:  # a tab of the side panel, with its own Ctrl+<n>
            backup = self.trust_centre.indexOf(self.trust_centre.backup)  # Memory keeps Ctrl+5
            self.trust_centre.insertTab(backup, memory_panel, "Memory")
        self.persona_picker: PersonaPicker | None = None
        if personas is not None:
            self.persona_picker = PersonaPicker(personas=personas)
            self.persona_picker.setEnabled(choose_persona is not None)
            if choose_persona is None:
                self.persona_picker.setToolTip(NO_SWITCH_TEXT)
            self.persona_picker.sig_persona_chosen.connect(self._on_persona_picker_persona_chosen)
            self.conversation_view.add_header_widget(self.persona_picker)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self._build_layout()
        self._build_status_bar()
        if choose_model is None:
            self.banners.disable_action("no_model", "Adding a model is not available in this session.")
        self.trust_centre.sig_policy_changed.connect(self._on_trust_centre_policy_changed)
        self.conversation_view.sig_ticket_answered.connect(self._on_conversation_ticket_answered)
        self.banners.sig_action_requested.connect(self._on_banners_action_requested)
        if bus_bridge is not None:
            bus_bridge.sig_event_published.connect(self._on_bridge_event_published)
        self._add_shortcuts()
        self._restore_state()
        self.soon = QTimer(self)  # coalesces bursts of policy events into one refresh
        self.soon.setSingleShot(True)
        self.soon.setInterval(SOON_MS)
        self.soon.timeout.connect(self._on_soon_timeout)
        self.refresh()

    def _build_layout(self) -> None:
        """Banners on top; below, the conversation and the trust-centre side panel."""
        self.splitter.addWidget(self.conversation_view)
        self.splitter.addWidget(self.trust_centre)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
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

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.summary = QLabel("")
        self.summary.setObjectName("status_summary")
        bar.addWidget(self.summary, 1)
        self.persona_status = QLabel("")
        self.persona_status.setObjectName("persona_status")
        self.persona_status.setTextFormat(Qt.TextFormat.PlainText)
        self.persona_status.hide()
        bar.addPermanentWidget(self.persona_status)
        self.model_status = QLabel("")
        self.model_status.setObjectName("model_status")
        bar.addPermanentWidget(self.model_status)
        self.panel_button = QToolButton()
        self.panel_button.setText("Trust centre")
        self.panel_button.setToolTip("Show or hide the trust centre (Ctrl+T)")
        self.panel_button.setCheckable(True)
        self.panel_button.setChecked(True)
        self.panel_button.setAutoRaise(True)
        self.panel_button.toggled.connect(self._on_panel_button_toggled)
        bar.addPermanentWidget(self.panel_button)

    # ------------------------------------------------------------------ state

    def refresh(self) -> None:
        """Recompute banners, approvals, grants, audit rows; announce what changed."""
        if self._stopped:
            return
        if STORAGE_FULL in self.banners.flags():
            self._runtime.check_storage()
        self.banners.refresh()
        self.remote_banners.refresh()
        self.trust_centre.refresh()
        tickets = self._runtime.tickets.pending()
        lines = {t.ticket_id: f"{t.request.capability}: {t.request.resource}" for t in tickets}
        for ticket_id, line in self._bus_tickets.items():
            lines.setdefault(ticket_id, line)
        new = [line for ticket_id, line in lines.items() if ticket_id not in self._known_pending]
        self._known_pending = set(lines)
        preset = self._runtime.preset().value
        paused = " · side effects paused" if self._runtime.gate.paused else ""
        self.summary.setText(f"Preset {preset} · {len(lines)} pending approval(s){paused}")
        self.sig_status_changed.emit(len(lines), self.banners.flags())
        if new:
            self.sig_approvals_arrived.emit(new)

    def show_tab(self, index: int) -> None:
        """Show trust-centre tab ``index`` (0-based), opening the side panel if it was hidden."""
        if 0 <= index < self.trust_centre.count():
            self.trust_centre.setCurrentIndex(index)
            self.set_trust_centre_visible(True)

    def bring_to_front(self) -> None:
        """Show the window (from the tray, un-minimised, state otherwise kept), raise it and activate it."""
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def set_trust_centre_visible(self, visible: bool) -> None:
        """Show or hide the trust-centre side panel."""
        self.panel_button.setChecked(visible)  # the toggled slot does the rest

    def choose_model_file(self) -> str | None:
        """Ask for a model file and hand it to ``choose_model``; returns the sentence shown."""
        if self._choose_model is None:
            return None
        path = self._pick_model_file(self)
        if path is None:
            return None
        try:
            message = self._choose_model(path)
        except (OSError, ValueError) as exc:  # a missing or unusable file is the user's to fix
            message = f"Could not use {path.name}: {exc}"
        self.statusBar().showMessage(message, 10_000)
        return message

    def _add_shortcuts(self) -> None:
        bindings = [
            ("Ctrl+Q", self._on_shortcut_quit),
            ("Ctrl+W", self._on_shortcut_hide),
            ("Esc", self._on_shortcut_hide),
            ("F5", self._on_shortcut_refresh),
            ("Ctrl+L", self._on_shortcut_focus_input),
            ("Ctrl+T", self._on_shortcut_toggle_panel),
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
            self.splitter.setSizes([640, 460])
        self.show_tab(stored_tab(self._settings.value(KEY_TAB, 0)))
        panel = self._settings.value(KEY_PANEL, True)
        self.set_trust_centre_visible(str(panel).lower() not in {"false", "0"})

    def save_state(self) -> None:
        """Write geometry, splitter, side panel and current tab to the settings (synced to disk)."""
        self._settings.setValue(KEY_GEOMETRY, self.saveGeometry())
        self._settings.setValue(KEY_SPLITTER, self.splitter.saveState())
        self._settings.setValue(KEY_TAB, self.trust_centre.currentIndex())
        self._settings.setValue(KEY_PANEL, self.panel_button.isChecked())
        self._settings.sync()

    def shutdown(self) -> None:
        """Stop the timers, save the geometry, stop background work. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self.soon.stop()
        self.remote_banners.stop()
        self.conversation_view.transcript.flush_timer.stop()
        self.save_state()
        self.trust_centre.shutdown()

    # ------------------------------------------------------------------ bus events

    def _on_bridge_event_published(self, env: Envelope) -> None:
        payload = env.payload
        if isinstance(payload, TicketOpened):
            self._bus_tickets[payload.ticket_id] = f"{payload.capability}: {payload.resource}"
            self._refresh_soon()
        elif isinstance(payload, TicketAnswered):
            self._bus_tickets.pop(payload.ticket_id, None)
            self._refresh_soon()
        elif isinstance(payload, ModelStatusChanged):
            self._show_model_status(payload)
        elif isinstance(payload, PostureChanged):
            self.banners.set_condition(payload.flag, payload.message if payload.active else None)
        elif isinstance(payload, VoiceStateChanged):
            self._voice_message = payload.message
            self.banners.set_condition("voice", payload.message or None)
        elif isinstance(payload, SpeechHeard) and self._voice_message and not payload.final:
            self.banners.set_condition("voice", f"{self._voice_message}  “{payload.text}”")
        elif isinstance(payload, MemoryStatusChanged):
            degraded = payload.state in ("fts_only", "unavailable")
            self.banners.set_condition("memory", payload.message if degraded else None)
        elif isinstance(payload, (*_POLICY_EVENTS, TurnEnded)):  # a turn may have spent: costs, remote banner
            self._refresh_soon()
        elif isinstance(payload, PersonaActivated | PersonaFailed | PersonaRecovered):
            self._show_persona_event(payload)

    def _show_persona_event(self, payload: PersonaActivated | PersonaFailed | PersonaRecovered) -> None:
        if isinstance(payload, PersonaActivated):
            self.banners.persona_activated(payload)
            self._set_persona_status("")
            if self.persona_picker is not None:
                self.persona_picker.set_active(payload.persona_id)
        elif isinstance(payload, PersonaFailed):
            self.banners.persona_failed(payload)
            if self.persona_picker is not None:
                self.persona_picker.refresh()
        else:
            self.banners.persona_recovered(payload)

    def _show_model_status(self, status: ModelStatusChanged) -> None:
        self.model_status.setText(model_status_text(status))
        if status.status in {"missing", "failed"}:
            self.banners.set_condition("no_model", status.message or NO_MODEL_TEXT)
        elif status.status == "ready":
            self.banners.set_condition("no_model", None)

    def _refresh_soon(self) -> None:
        if not self._stopped and not self.soon.isActive():
            self.soon.start()

    # ------------------------------------------------------------------ events

    def changeEvent(self, event: QEvent) -> None:
        """Refresh when the window becomes active: another process may have changed the policy."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.refresh()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Close (hide) the window; ask the app to quit unless it keeps running in the tray.

        The close is always accepted: Qt 6 cancels ``QApplication.quit()`` when a
        window ignores its close event, and the app (``quitOnLastWindowClosed``
        off when there is a tray) keeps running without a visible window.
        """
        if not self._stopped:
            self.save_state()
        event.accept()
        if not self.keep_in_tray and not self._stopped:
            self.sig_quit_requested.emit()

    def _on_shortcut_quit(self) -> None:
        self.sig_quit_requested.emit()

    def _on_shortcut_hide(self) -> None:
        is_escape = self.sender() is self.shortcuts["Esc"]
        if is_escape and self.conversation_view.cancel_turn():
            return  # Esc first stops a running turn; the next Esc hides the window
        if self.keep_in_tray:
            self.save_state()
            self.hide()
        elif not is_escape:
            self.close()

    def _on_shortcut_refresh(self) -> None:
        self.refresh()

    def _on_shortcut_focus_input(self) -> None:
        self.conversation_view.input.setFocus()

    def _on_shortcut_toggle_panel(self) -> None:
        self.set_trust_centre_visible(not self.panel_button.isChecked())

    def _on_shortcut_tab(self) -> None:
        sender = self.sender()
        if isinstance(sender, QShortcut):
            self.show_tab(int(sender.property("tab")))

    def _on_panel_button_toggled(self, visible: bool) -> None:
        self.trust_centre.setVisible(visible)

    def _set_persona_status(self, text: str) -> None:
        self.persona_status.setText(text)
        self.persona_status.setVisible(bool(text))

    def _on_persona_picker_persona_chosen(self, persona_id: str) -> None:
        picker = self.persona_picker
        if self._choose_persona is None or picker is None:
            return
        row = picker.index_of(persona_id)
        name = (picker.choices[row].name or persona_id) if row >= 0 else persona_id
        try:
            self._choose_persona(persona_id)
        except (OSError, ValueError, KeyError) as exc:  # gone or broken since the list was read
            picker.cancel_pending()
            self._set_persona_status("")
            self.statusBar().showMessage(f"Could not switch to {name}: {exc}", 10_000)
            return
        if picker.pending_id is None:  # back to the active one before the boundary
            self._set_persona_status("")
        else:
            self._set_persona_status(f"Switching to {name} at the next turn boundary…")

    def _on_banners_action_requested(self, flag: str, action: str) -> None:
        if flag == "no_model" and action == CHOOSE_MODEL:
            self.choose_model_file()
        elif flag == STORAGE_FULL and action == CHECK_AGAIN:
            self.check_storage()
        elif flag == STORAGE_FULL and action == COPY_FOLDER:
            self._copy_storage_folder()
        elif flag == REMOTE_ACTIVE and action == OPEN_COSTS:
            self.show_tab(self.trust_centre.indexOf(self.trust_centre.costs))

    def check_storage(self) -> str:
        """Look for room again ("Check again"); refresh, and return the sentence shown in the status bar."""
        resumed = self._runtime.check_storage()
        self.refresh()
        flag = self.banners.posture_flag(STORAGE_FULL)
        if flag is None:
            message = "There is room again: actions are allowed." if resumed else "Storage is fine."
        elif flag.space is not None and not flag.space.enough:
            message = f"Still not enough room. {flag.space.sentence()}."
        else:
            message = "There is room, but actions stay refused: see the banners."
        self.statusBar().showMessage(message, 10_000)
        return message

    def _copy_storage_folder(self) -> None:
        flag = self.banners.posture_flag(STORAGE_FULL)
        if flag is None or flag.space is None:
            return
        QGuiApplication.clipboard().setText(str(flag.space.folder))
        self.statusBar().showMessage(f"Copied {flag.space.folder}", 10_000)

    def _on_soon_timeout(self) -> None:
        self.refresh()

    def _on_trust_centre_policy_changed(self) -> None:
        self.refresh()

    def _on_conversation_ticket_answered(self, ticket_id: str, _text: str) -> None:
        self._bus_tickets.pop(ticket_id, None)
        self.refresh()
