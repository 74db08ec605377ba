"""What the parts of the main window need from it: :class:`WindowHost`, a protocol.

The parts (:mod:`~aether_qt.widgets.window.banner_fixes`,
:mod:`~aether_qt.widgets.window.drawer`, :mod:`~aether_qt.widgets.window.events`,
:mod:`~aether_qt.widgets.window.menus`) are built by
:class:`~aether_qt.widgets.main_window.MainWindow` and act on it. They name it
through this protocol rather than importing it, so the import graph keeps no
cycle (not even under ``TYPE_CHECKING``); ``MainWindow`` satisfies it
structurally, and mypy checks that where it hands ``self`` to a part. This
module imports none of the parts: :data:`Inform` lives here for that reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from PySide6.QtWidgets import QWidget

if TYPE_CHECKING:
    from PySide6.QtCore import Qt, SignalInstance
    from PySide6.QtGui import QAction, QScreen
    from PySide6.QtWidgets import QLabel, QMenuBar, QSplitter, QStatusBar

    from aether_qt.policy.runtime import PolicyRuntime
    from aether_qt.widgets.conversation.conversation_list import ConversationList
    from aether_qt.widgets.conversation.view import ConversationView
    from aether_qt.widgets.persona_picker import PersonaPicker
    from aether_qt.widgets.ports import PolicyControls
    from aether_qt.widgets.trust.banners import BannerArea
    from aether_qt.widgets.trust.centre import TrustCentre
    from aether_qt.widgets.trust.confirm import Confirm
    from aether_qt.widgets.window.ports import MicrophoneSwitch
    from aether_qt.widgets.window.stage import CompanionArea

Inform = Callable[[QWidget, str, str], None]
"""Shows ``(parent, title, text)`` to the user and returns when it is read (tests pass a recorder)."""


class WindowHost(Protocol):
    """The main window as its parts see it: its widgets, collaborators, actions and window methods.

    The attributes are read-only here: a part reads them, only the window assigns them.
    """

    # ------------------------------------------------------------------ collaborators and widgets

    @property
    def runtime(self) -> PolicyRuntime:
        """The policy runtime the window reads."""
        ...

    @property
    def controls(self) -> PolicyControls:
        """Every change to the policy goes through these."""
        ...

    @property
    def confirm(self) -> Confirm:
        """Asks the user a yes/no question."""
        ...

    @property
    def inform(self) -> Inform:
        """Shows the user a message."""
        ...

    @property
    def microphone(self) -> MicrophoneSwitch | None:
        """The app's microphone mute switch, when voice input exists."""
        ...

    @property
    def banners(self) -> BannerArea:
        """The posture banners on top of the window."""
        ...

    @property
    def trust_centre(self) -> TrustCentre:
        """The trust-centre side panel."""
        ...

    @property
    def companion(self) -> CompanionArea:
        """The avatar and the conversation."""
        ...

    @property
    def splitter(self) -> QSplitter:
        """Between the companion and the trust centre."""
        ...

    @property
    def conversation_view(self) -> ConversationView:
        """The conversation (transcript, input, running turn)."""
        ...

    @property
    def conversation_list(self) -> ConversationList | None:
        """The list of conversations beside the companion, when conversations are kept."""
        ...

    @property
    def persona_picker(self) -> PersonaPicker | None:
        """The persona picker under the avatar, when the app lists personas."""
        ...

    @property
    def persona_status(self) -> QLabel:
        """The status-bar label of a pending persona switch."""
        ...

    @property
    def model_status(self) -> QLabel:
        """The status-bar label of the language model."""
        ...

    @property
    def sig_quit_requested(self) -> SignalInstance:
        """Asks the app to quit."""
        ...

    # ------------------------------------------------------------------ the window's own actions

    def refresh(self) -> None:
        """Recompute banners, approvals, grants, audit rows."""

    def refresh_soon(self) -> None:
        """Refresh after a short delay, once for a burst of events."""

    def show_tab(self, index: int) -> None:
        """Show trust-centre tab ``index``, opening the side panel."""

    def request_settings(self) -> None:
        """Ask the app for the settings dialog."""

    def request_onboarding(self) -> None:
        """Ask the app for the setup assistant."""

    def settings_connected(self) -> bool:
        """Whether anything listens for the settings request."""
        ...

    def onboarding_connected(self) -> bool:
        """Whether anything listens for the setup-assistant request."""
        ...

    def request_new_conversation(self) -> None:
        """Ask the app for a new, empty conversation."""

    def new_conversation_connected(self) -> bool:
        """Whether anything listens for the new-conversation request."""
        ...

    def can_choose_model(self) -> bool:
        """Whether "Choose a model…" can add a model in this session."""
        ...

    def choose_model_file(self) -> str | None:
        """Ask for a model file and add it; the sentence shown, or ``None``."""
        ...

    def focus_input(self) -> None:
        """Put the cursor in the message box."""

    def hide_window(self) -> None:
        """Hide to the tray, or close."""

    def escape_pressed(self) -> None:
        """Stop a running turn, else hide to the tray."""

    def toggle_trust_centre(self) -> None:
        """Open or close the side panel."""

    def toggle_conversation_list(self) -> None:
        """Show or hide the conversation list."""

    def trust_centre_open(self) -> bool:
        """Whether the side panel is open."""
        ...

    # ------------------------------------------------------------------ QMainWindow methods the parts call

    def window(self) -> QWidget:
        """The window as a widget: the parent of dialogs and of the parts' Qt objects (``QWidget.window``)."""
        ...

    def menuBar(self) -> QMenuBar:
        """The window's menu bar."""
        ...

    def statusBar(self) -> QStatusBar:
        """The window's status bar."""
        ...

    def addAction(self, action: QAction, /) -> None:
        """Add a window-wide action (its shortcut works anywhere in the window)."""

    def width(self) -> int:
        """The window's width (pixels)."""
        ...

    def height(self) -> int:
        """The window's height (pixels)."""
        ...

    def resize(self, w: int, h: int, /) -> None:
        """Resize the window."""

    def screen(self) -> QScreen:
        """The screen the window is on."""
        ...

    def windowState(self) -> Qt.WindowState:
        """Maximised, full screen, minimised or none."""
        ...
