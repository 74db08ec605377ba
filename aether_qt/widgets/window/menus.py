"""The main window's menu bar: Aether, Conversation, View and Help, with every shortcut of the window.

Each shortcut is a ``QAction`` (in a menu, or on the window for Esc), so the
menus show the keys and the Help menu's list of shortcuts is read from the same
actions. Settings and "Run setup again" belong to other parts of the app: they
emit the window's signals, and are disabled with a tooltip while nothing is
connected to them (checked each time a menu opens).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

if TYPE_CHECKING:
    from aether_qt.widgets.window.host import WindowHost

NOTHING_CONNECTED: Final = "Not available in this session."
ABOUT_TEXT: Final = (
    "<b>Aether</b><br>A companion that runs on your computer. It asks before it acts, keeps a signed "
    "log of everything it does, and your conversations stay on this machine unless you choose a remote "
    "model."
)


def _plain(text: str) -> str:
    """A menu text without its mnemonic ampersand."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


class WindowMenus:
    """Builds the menu bar of ``window`` and keeps its actions.

    Attributes:
        shortcuts: every action with a shortcut, by its key text (``"Ctrl+T"``).
        settings_action, onboarding_action, panel_action, choose_model_action, stop_action: the actions
            the window updates.
    """

    def __init__(self, window: WindowHost) -> None:
        self._window = window
        self.shortcuts: dict[str, QAction] = {}
        bar = window.menuBar()
        app = bar.addMenu("&Aether")
        self.settings_action = self._add(app, "&Settings…", "Ctrl+,", window.request_settings)
        self.onboarding_action = self._add(app, "&Run setup again…", None, window.request_onboarding)
        app.addSeparator()
        self._add(app, "&Hide window", "Ctrl+W", window.hide_window)
        self._add(app, "&Quit Aether", "Ctrl+Q", window.sig_quit_requested.emit)
        talk = bar.addMenu("&Conversation")
        self._add(talk, "&Type a message", "Ctrl+L", window.focus_input)
        self.stop_action = self._add(talk, "&Stop the reply", None, window.conversation_view.cancel_turn)
        self.list_action: QAction | None = None
        listing = window.conversation_list
        if listing is not None:  # the list's own actions, so their keys show here and in Help
            talk.addSeparator()
            for action in (
                listing.new_action,
                listing.search_action,
                listing.rename_action,
                listing.delete_action,
            ):
                talk.addAction(action)
                self.shortcuts[action.shortcut().toString()] = action
        talk.addSeparator()
        self.choose_model_action = self._add(talk, "Choose a &model…", None, window.choose_model_file)
        view = bar.addMenu("&View")
        self.panel_action = self._add(view, "&Trust centre", "Ctrl+T", window.toggle_trust_centre)
        self.panel_action.setCheckable(True)
        if listing is not None:
            self.list_action = self._add(
                view, "&Conversation list", "Ctrl+Shift+L", window.toggle_conversation_list
            )
            self.list_action.setCheckable(True)
            self.list_action.setChecked(True)
            self.list_action.setToolTip("Show or hide the list of conversations")
        view.addSeparator()
        centre = window.trust_centre
        for index in range(centre.count()):
            title = _plain(centre.tabText(index)).split(" (")[0]
            action = self._add(view, title, f"Ctrl+{index + 1}", self._tab_opener(index))
            action.setToolTip(f"Open the {title} tab of the trust centre")
        view.addSeparator()
        self._add(view, "&Refresh", "F5", window.refresh)
        help_menu = bar.addMenu("&Help")
        self._add(help_menu, "&Keyboard shortcuts", "F1", self.show_shortcuts)
        self._add(help_menu, "&About Aether", None, self.show_about)
        escape = QAction("Stop the reply, then hide the window", window.window())
        escape.setShortcut(QKeySequence("Esc"))
        escape.triggered.connect(window.escape_pressed)
        window.addAction(escape)
        self.shortcuts["Esc"] = escape
        for menu in (app, talk, view, help_menu):
            menu.setToolTipsVisible(True)
            menu.aboutToShow.connect(self.update_actions)
        self.update_actions()

    def _add(self, menu: QMenu, text: str, keys: str | None, slot: Callable[[], object]) -> QAction:
        action = menu.addAction(text)
        action.triggered.connect(lambda _checked=False: slot())
        if keys is not None:
            action.setShortcut(QKeySequence(keys))
            self.shortcuts[keys] = action
        return action

    def _tab_opener(self, index: int) -> Callable[[], None]:
        return lambda: self._window.show_tab(index)

    def update_actions(self) -> None:
        """Enable what can work now; say why the rest cannot (Settings, setup, model, Stop)."""
        window = self._window
        for action, connected in (
            (self.settings_action, window.settings_connected()),
            (self.onboarding_action, window.onboarding_connected()),
            (self.choose_model_action, window.can_choose_model()),
        ):
            action.setEnabled(connected)
            action.setToolTip("" if connected else NOTHING_CONNECTED)
        self.stop_action.setEnabled(window.conversation_view.running())
        self.panel_action.setChecked(window.trust_centre_open())

    def shortcut_lines(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every shortcut, in menu order."""
        return [
            (action.shortcut().toString(QKeySequence.SequenceFormat.NativeText), _plain(action.text()))
            for action in self.shortcuts.values()
        ]

    def show_shortcuts(self) -> None:
        """Help → Keyboard shortcuts: every key of the window and what it does."""
        rows = "".join(
            f"<tr><td><b>{keys}</b>&nbsp;&nbsp;</td><td>{what}</td></tr>"
            for keys, what in self.shortcut_lines()
        )
        ptt = "<p>Push-to-talk: hold the key chosen in the settings while you speak.</p>"
        self._window.inform(self._window.window(), "Keyboard shortcuts", f"<table>{rows}</table>{ptt}")

    def show_about(self) -> None:
        """Help → About Aether."""
        self._window.inform(self._window.window(), "About Aether", ABOUT_TEXT)
