"""The main window: posture banners on top, the companion (avatar and conversation), the trust centre.

The avatar is the centrepiece, beside the conversation in a wide window and above
it in a narrow one (:mod:`~aether_qt.widgets.window.stage`). The trust centre is
a drawer, closed on a first start, opened by Ctrl+T, the View menu, a tab's
Ctrl+<n>, a banner's action or the tray (:mod:`~aether_qt.widgets.window.drawer`).
The menu bar holds every shortcut (:mod:`~aether_qt.widgets.window.menus`);
Settings and "Run setup again" leave through ``sig_settings_requested`` and
``sig_onboarding_requested``. Each banner's action is carried out by
:mod:`~aether_qt.widgets.window.banner_fixes`; bus events by
:mod:`~aether_qt.widgets.window.events` (coalesced refreshes for policy events
and turn ends, model status, voice and persona banners).

Nothing polls: a change made in this window refreshes at once; one made by
another process (``aether policy evaluate`` in a terminal) is seen when the
window is activated, and on F5; each refresh is cheap when nothing changed.
While the "storage full" banner shows, each refresh first asks the runtime to
look for room again, so freeing space clears it without a restart. Geometry,
the panel, its width and tab are remembered (:mod:`~aether_qt.widgets.window.state`).
Closing the window hides it to the tray when the app keeps running there, and
asks the app to quit otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QEvent, QMetaMethod, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QResizeEvent, QShowEvent
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QMainWindow, QSplitter, QVBoxLayout, QWidget

from aether_qt.core.events import Envelope, TicketDescribed
from aether_qt.policy.user_words import explain_error, user_notice
from aether_qt.widgets.conversation.conversation_list import ConversationList
from aether_qt.widgets.conversation.view import ChooseFolder, ConversationView, choose_folder
from aether_qt.widgets.persona_picker import ListPersonas, PersonaPicker
from aether_qt.widgets.trust.backup_tab import ChooseFile, choose_file
from aether_qt.widgets.trust.banners import STORAGE_FULL, BannerArea
from aether_qt.widgets.trust.centre import TrustCentre
from aether_qt.widgets.trust.confirm import Confirm, ask_user
from aether_qt.widgets.trust.passphrase_dialog import AskPassphrase, ask_passphrase
from aether_qt.widgets.trust.remote_banners import RemoteBanners
from aether_qt.widgets.window.banner_fixes import BannerFixes, inform_user
from aether_qt.widgets.window.drawer import TrustDrawer
from aether_qt.widgets.window.events import ChoosePersona, WindowEvents, approval_line
from aether_qt.widgets.window.host import Inform
from aether_qt.widgets.window.menus import WindowMenus
from aether_qt.widgets.window.stage import CompanionArea
from aether_qt.widgets.window.state import (
    DEFAULT_SIZE,
    KEY_CONVERSATIONS,
    KEY_TAB,
    WindowState,
    first_size,
    read_state,
    stored_flag,
    stored_tab,
    write_state,
)
from aether_qt.widgets.window.status import StatusWidgets
from aether_qt.widgets.window.voice_banners import LIVE, MUTED, MUTED_NOTE, MUTED_TEXT

if TYPE_CHECKING:
    from aether_qt.core.bus import QtBusBridge
    from aether_qt.policy.runtime import PolicyRuntime
    from aether_qt.storage.conversations import StoredMessage
    from aether_qt.widgets.ports import Conversation, Conversations, Costs, DataSafety, PolicyControls
    from aether_qt.widgets.window.ports import MicrophoneSwitch

__all__ = [
    "KEY_TAB",
    "MIN_SIZE",
    "ChooseModel",
    "ChoosePersona",
    "MainWindow",
    "PickModelFile",
    "pick_gguf",
    "stored_tab",
]
SOON_MS = 60
MIN_SIZE: Final = (560, 460)
"""The smallest window without banners (a banner adds its height)."""
BODY_MARGINS: Final = 30  # the layouts' spacing and margins around the banners and the body, rounded up
ChooseModel = Callable[[Path], str]
"""Adds a model file and returns a sentence for the user (it must return at once)."""
PickModelFile = Callable[[QWidget], Path | None]
"""Asks the user for a model file; ``None`` when cancelled."""
NO_SWITCH_TEXT: Final = "Switching personas is not available in this session."


def pick_gguf(parent: QWidget) -> Path | None:
    """The default model picker: a file dialog for ``*.gguf`` files."""
    name, _ = QFileDialog.getOpenFileName(
        parent, "Choose a model", str(Path.home()), "GGUF models (*.gguf);;All files (*)"
    )
    return Path(name) if name else None


def status_summary(preset: str, waiting: int, *, paused: bool) -> str:
    """The status bar's words: "Assistant preset · 1 approval waiting · actions paused"."""
    parts = [f"{preset} preset"]
    if waiting:
        parts.append("1 approval waiting" if waiting == 1 else f"{waiting} approvals waiting")
    if paused:
        parts.append("actions paused")
    return " · ".join(parts)


class MainWindow(QMainWindow):
    """The "Aether" window over one policy runtime, its controls and, when given, one conversation.

    The runtime is read (tickets, grants, audit rows, posture); every change goes
    through ``controls`` (:class:`~aether_qt.widgets.ports.PolicyControls`).

    Signals:
        sig_quit_requested(): Ctrl+Q, or the window was closed with no tray to keep the app.
        sig_status_changed(int, list[str]): after each refresh: pending approvals, posture flags.
        sig_approvals_arrived(list[str]): one line per approval ticket new since the last refresh.
        sig_settings_requested(): the user asked for the settings (menu, Ctrl+, or a banner).
        sig_onboarding_requested(): the user asked for the setup assistant (menu or a banner).
        sig_new_conversation_requested(): Conversation → New conversation (Ctrl+N).
    """

    sig_quit_requested = Signal()
    sig_status_changed = Signal(int, list)
    sig_approvals_arrived = Signal(list)
    sig_settings_requested = Signal()
    sig_onboarding_requested = Signal()
    sig_new_conversation_requested = Signal()

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
        microphone: MicrophoneSwitch | None = None,
        inform: Inform = inform_user,
        conversations: Conversations | None = None,
        choose_folder: ChooseFolder = choose_folder,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.runtime = runtime
        self.controls = controls
        self.confirm = confirm
        self.inform = inform
        self.microphone = microphone
        self._settings = settings
        self._choose_model = choose_model
        self._pick_model_file = pick_model_file
        self._choose_persona = choose_persona
        self._known_pending: set[str] = set()
        self._stopped = False
        self._placed = False  # the panel gets its width at the first show, once the window has its size
        self.keep_in_tray = keep_in_tray
        self.setWindowTitle("Aether")
        self.banners = BannerArea(runtime=runtime)
        self.conversation_view = ConversationView(
            conversation=conversation, bus_bridge=bus_bridge, stage=True, choose_folder=choose_folder
        )
        self.companion = CompanionArea(self.conversation_view)
        self.conversation_list = (
            ConversationList(conversations=conversations, confirm=confirm, bus_bridge=bus_bridge)
            if conversations is not None and self.conversation_view.available
            else None
        )
        # no fixed minimum on the window: the layout's grows with the banners, so nothing is cut off
        self.companion.setMinimumWidth(MIN_SIZE[0] - 20)  # its height: what the stage and the input need
        self.banners.sig_posture_changed.connect(self._on_banners_posture_changed)
        self.companion.sig_arrangement_changed.connect(self._fit_minimum_height)
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
        self.fixes = BannerFixes(self, inform=inform)
        self.events = WindowEvents(self, choose_persona=choose_persona)
        self.memory_panel = memory_panel
        if memory_panel is not None:  # a tab of the side panel, with its own Ctrl+<n>
            backup = self.trust_centre.indexOf(self.trust_centre.backup)  # Memory keeps Ctrl+5
            self.trust_centre.insertTab(backup, memory_panel, "Memory")
        self.persona_picker = self._persona_picker(personas, can_switch=choose_persona is not None)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.drawer = TrustDrawer(self, width=read_state(settings).panel_width)
        self._build_layout()
        status = StatusWidgets.build(self.statusBar())
        self.summary, self.persona_status, self.model_status = status.summary, status.persona, status.model
        self.panel_button = status.panel_button
        self.panel_button.toggled.connect(self._on_panel_button_toggled)
        self.menus = WindowMenus(self)
        self.shortcuts = self.menus.shortcuts
        if choose_model is None:
            self.banners.disable_action("no_model", "Adding a model is not available in this session.")
        self._connect(bus_bridge, microphone)
        self._restore_state()
        self.soon = QTimer(self, singleShot=True, interval=SOON_MS)  # one refresh for a burst of events
        self.soon.timeout.connect(self._on_soon_timeout)
        self.refresh()
        if self.conversation_list is not None:
            self.conversation_list.resume()  # the conversation opened last, with its messages

    def _connect(self, bus_bridge: QtBusBridge | None, microphone: MicrophoneSwitch | None) -> None:
        self.trust_centre.sig_policy_changed.connect(self._on_trust_centre_policy_changed)
        self.conversation_view.sig_ticket_answered.connect(self._on_conversation_ticket_answered)
        self.conversation_view.sig_state_changed.connect(self._on_conversation_view_state_changed)
        self.banners.sig_action_requested.connect(self.fixes.run)
        if self.conversation_list is not None:
            self.conversation_list.sig_conversation_opened.connect(self._on_conversation_list_opened)
            self.sig_new_conversation_requested.connect(self.conversation_list.start_new)
            self.menus.update_actions()  # New conversation is enabled once the list listens
        if bus_bridge is not None:
            bus_bridge.sig_event_published.connect(self.events.on_event)
            bus_bridge.sig_event_published.connect(self._on_bridge_event_published)
        if microphone is not None:
            microphone.sig_muted_changed.connect(self._on_microphone_muted_changed)
            self._on_microphone_muted_changed(microphone.muted)

    def _persona_picker(self, personas: ListPersonas | None, *, can_switch: bool) -> PersonaPicker | None:
        """The persona picker under the avatar, when the app lists personas."""
        if personas is None:
            return None
        picker = PersonaPicker(personas=personas)
        picker.setEnabled(can_switch)
        picker.setToolTip("" if can_switch else NO_SWITCH_TEXT)
        picker.sig_persona_chosen.connect(self.events.on_persona_chosen)
        self.companion.add_stage_widget(picker)
        return picker

    def _build_layout(self) -> None:
        """Banners on top; below, the companion and the trust-centre side panel."""
        self.splitter.addWidget(self.companion)
        self.splitter.addWidget(self.trust_centre)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setChildrenCollapsible(False)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.banners)
        body = QHBoxLayout()
        body.setContentsMargins(10, 0, 10, 4)
        if self.conversation_list is not None:  # beside the splitter: the drawer's sizes stay two
            body.addWidget(self.conversation_list)
        body.addWidget(self.splitter, 1)
        layout.addLayout(body, 1)
        self.setCentralWidget(central)

    # ------------------------------------------------------------------ state

    def refresh(self) -> None:
        """Recompute banners, approvals, grants, audit rows; announce what changed."""
        if self._stopped:
            return
        if STORAGE_FULL in self.banners.flags():
            self.runtime.check_storage()
        self.banners.refresh()
        self.remote_banners.refresh()
        self.fixes.update_availability()
        self.trust_centre.refresh()
        tickets = self.runtime.tickets.pending()
        lines = {t.ticket_id: approval_line(t.request.capability, t.request.resource) for t in tickets}
        for ticket_id, line in self.events.tickets.items():
            lines.setdefault(ticket_id, line)
        new = [line for ticket_id, line in lines.items() if ticket_id not in self._known_pending]
        self._known_pending = set(lines)
        preset = self.runtime.preset().value
        self.summary.setText(status_summary(preset, len(lines), paused=self.runtime.gate.paused))
        self.sig_status_changed.emit(len(lines), self.banners.flags())
        if new:
            self.sig_approvals_arrived.emit(new)

    def show_tab(self, index: int) -> None:
        """Show trust-centre tab ``index`` (0-based), opening the side panel if it was hidden."""
        if 0 <= index < self.trust_centre.count():
            self.trust_centre.setCurrentIndex(index)
            self.set_trust_centre_visible(True)

    def show_approvals(self) -> None:
        """Bring the window to the front with the trust centre open on the Approvals tab."""
        self.bring_to_front()
        self.show_tab(self.trust_centre.indexOf(self.trust_centre.approvals))

    def bring_to_front(self) -> None:
        """Show the window (from the tray, un-minimised, state otherwise kept), raise it and activate it."""
        self.show()
        self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def trust_centre_open(self) -> bool:
        """Whether the trust-centre side panel is open (even while the window is hidden)."""
        return self.panel_button.isChecked()

    def set_trust_centre_visible(self, visible: bool) -> None:
        """Open or close the trust-centre side panel (it keeps the width the user gave it)."""
        self.panel_button.setChecked(visible)  # the toggled slot does the rest

    def toggle_trust_centre(self) -> None:
        """Ctrl+T: open the side panel when closed, close it when open."""
        self.set_trust_centre_visible(not self.trust_centre_open())

    def settings_connected(self) -> bool:
        """Whether anything listens to ``sig_settings_requested`` (else Settings is disabled)."""
        return self.isSignalConnected(QMetaMethod.fromSignal(self.sig_settings_requested))

    def onboarding_connected(self) -> bool:
        """Whether anything listens to ``sig_onboarding_requested`` (else setup is disabled)."""
        return self.isSignalConnected(QMetaMethod.fromSignal(self.sig_onboarding_requested))

    def new_conversation_connected(self) -> bool:
        """Whether anything listens to ``sig_new_conversation_requested`` (else the menu item is disabled)."""
        return self.isSignalConnected(QMetaMethod.fromSignal(self.sig_new_conversation_requested))

    def request_new_conversation(self) -> None:
        """Ctrl+N: ask the app for a new conversation (nothing happens when nothing is connected)."""
        if self.new_conversation_connected():
            self.sig_new_conversation_requested.emit()

    def can_choose_model(self) -> bool:
        """Whether "Choose a model…" can add a model in this session."""
        return self._choose_model is not None

    def request_settings(self) -> None:
        """Ask the app for the settings dialog (nothing happens when nothing is connected)."""
        if self.settings_connected():
            self.sig_settings_requested.emit()

    def request_onboarding(self) -> None:
        """Ask the app for the setup assistant (nothing happens when nothing is connected)."""
        if self.onboarding_connected():
            self.sig_onboarding_requested.emit()

    def toggle_conversation_list(self) -> None:
        """Ctrl+Shift+L: show or hide the list of conversations."""
        listing = self.conversation_list
        if listing is None:
            return
        listing.setVisible(listing.isHidden())
        if self.menus.list_action is not None:
            self.menus.list_action.setChecked(not listing.isHidden())
        self._fit_minimum_height()

    def focus_input(self) -> None:
        """Ctrl+L: put the cursor in the message box."""
        self.conversation_view.input.setFocus()

    def hide_window(self) -> None:
        """Ctrl+W: hide to the tray when the app keeps running there, else close (and quit)."""
        if self.keep_in_tray:
            self.save_state()
            self.hide()
        else:
            self.close()

    def escape_pressed(self) -> None:
        """Esc: leave an edit, else stop a running turn; the next Esc hides the window to the tray."""
        if not self.conversation_view.escape() and self.keep_in_tray:
            self.save_state()
            self.hide()

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
            why = explain_error(exc, where=path.name) if isinstance(exc, OSError) else user_notice(str(exc))
            message = f"Could not use {path.name}: {why}"
        self.statusBar().showMessage(message, 10_000)
        return message

    # ------------------------------------------------------------------ remembered state

    def _restore_state(self) -> None:
        state = read_state(self._settings)
        if state.geometry is not None:
            self.restoreGeometry(state.geometry)
        else:
            screen = self.screen()
            area = screen.availableGeometry() if screen is not None else None
            self.resize(*first_size((area.width(), area.height()) if area is not None else DEFAULT_SIZE))
        if 0 <= state.tab < self.trust_centre.count():
            self.trust_centre.setCurrentIndex(state.tab)
        self.set_trust_centre_visible(state.panel_open)
        self._on_panel_button_toggled(state.panel_open)  # closed by default: toggled did not fire
        if self.conversation_list is not None and not stored_flag(
            self._settings.value(KEY_CONVERSATIONS), True
        ):
            self.toggle_conversation_list()  # shown unless the user hid it
        self._fold_list_on_a_narrow_screen()

    def _fold_list_on_a_narrow_screen(self) -> None:
        """Hide the conversation list when the screen is too narrow for it beside the companion
        (a small screen, or a large scale factor); Ctrl+Shift+L still shows it."""
        listing, screen = self.conversation_list, self.screen()
        if listing is None or listing.isHidden() or screen is None:
            return
        needed = self.splitter.minimumSizeHint().width() + listing.width() + BODY_MARGINS
        if max(MIN_SIZE[0], needed) > screen.availableGeometry().width():
            self.toggle_conversation_list()
            self._fit_minimum_height()
            area = screen.availableGeometry()
            self.resize(min(self.width(), area.width()), min(self.height(), area.height()))

    def save_state(self) -> None:
        """Write geometry, splitter, side panel (open, width) and current tab to the settings."""
        self.drawer.remember_width()
        state = WindowState(
            geometry=self.saveGeometry(),
            tab=self.trust_centre.currentIndex(),
            panel_open=self.trust_centre_open(),
            panel_width=self.drawer.width,
        )
        write_state(self._settings, state)
        if self.conversation_list is not None:
            self._settings.setValue(KEY_CONVERSATIONS, not self.conversation_list.isHidden())

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

    # ------------------------------------------------------------------ events

    def changeEvent(self, event: QEvent) -> None:
        """Refresh when the window becomes active: another process may have changed the policy."""
        super().changeEvent(event)
        if event.type() == QEvent.Type.ActivationChange and self.isActiveWindow():
            self.refresh()

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Keep the window tall enough for its banners (wrapped at this width) and the companion."""
        super().resizeEvent(event)
        self._fit_minimum_height()

    def _fit_minimum_height(self) -> None:
        """The layout's own minimum counts a wrapped sentence as one line; measure the banners instead."""
        wrapped = self.banners.heightForWidth(self.width())  # -1 until the new banners are laid out
        banners = (
            0 if self.banners.isHidden() else wrapped if wrapped >= 0 else self.banners.sizeHint().height()
        )
        needed = (
            self.menuBar().sizeHint().height()
            + max(0, banners)
            + self.companion.minimumSizeHint().height()
            + self.statusBar().sizeHint().height()
            + BODY_MARGINS
        )
        listing = self.conversation_list
        beside = listing.width() if listing is not None and not listing.isHidden() else 0
        wide = max(MIN_SIZE[0], self.splitter.minimumSizeHint().width() + beside + BODY_MARGINS)
        if (wide, needed) != (self.minimumWidth(), self.minimumHeight()):
            self.setMinimumSize(wide, needed)

    def _on_banners_posture_changed(self, _flags: list[str]) -> None:
        QTimer.singleShot(0, self._fit_minimum_height)  # once the new banners have their layout

    def showEvent(self, event: QShowEvent) -> None:
        """Place a panel left open last time; re-check which actions work (the app connects them late)."""
        super().showEvent(event)
        if not self._placed and self.trust_centre_open():
            self.drawer.make_room()
        self._placed = True
        self.fixes.update_availability()
        self.menus.update_actions()

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

    def _on_panel_button_toggled(self, visible: bool) -> None:
        if not visible:
            self.drawer.remember_width()
        self.trust_centre.setVisible(visible)
        if visible:
            self.drawer.make_room()
        self.menus.panel_action.setChecked(visible)

    def _on_microphone_muted_changed(self, muted: bool) -> None:
        self.banners.set_condition(MUTED, MUTED_TEXT if muted else None)
        self.conversation_view.avatar.set_note(MUTED_NOTE if muted else "")
        if muted:
            self.banners.set_condition(LIVE, None)

    def _on_conversation_view_state_changed(self, _state: str) -> None:
        self.menus.update_actions()  # Stop, Regenerate, Edit, Continue follow the turn

    def refresh_soon(self) -> None:
        """Refresh after a short delay, once for a burst of events."""
        if not self._stopped and not self.soon.isActive():
            self.soon.start()

    def _on_soon_timeout(self) -> None:
        self.refresh()

    def _on_trust_centre_policy_changed(self) -> None:
        self.refresh()

    def _on_conversation_list_opened(
        self, conversation_id: str, messages: list[StoredMessage], at_message: str
    ) -> None:
        self.conversation_view.show_conversation(conversation_id, messages, at_message=at_message)
        self.focus_input()

    def _on_bridge_event_published(self, env: Envelope) -> None:
        if isinstance(env.payload, TicketDescribed):  # the side panel's card shows what will happen too
            self.trust_centre.approvals.describe(env.payload)

    def _on_conversation_ticket_answered(self, ticket_id: str, _text: str) -> None:
        self.events.tickets.pop(ticket_id, None)
        self.refresh()
