"""The Settings dialog: a page list on the left, the chosen page on the right.

Every change applies as soon as the user makes it (the page shows the outcome
next to the field), so there is no OK/Cancel: Close (or Escape) closes. The
keyboard reaches everything: the page list takes the arrow keys, Ctrl+Page
Down / Ctrl+Page Up move between pages from anywhere, Tab walks the fields,
each label has a mnemonic, and Enter in a text field runs that field's button
(no button is the dialog's default, so Enter never closes it by surprise).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QListWidget,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from aether_qt.widgets.settings.page import SettingsPage
from aether_qt.widgets.settings.pages_basic import GeneralPage, MemoryPage, VoicePage
from aether_qt.widgets.settings.pages_model import ModelPage, ProvidersPage
from aether_qt.widgets.settings.pages_policy import CostsPage, PermissionsPage
from aether_qt.widgets.settings.ports import SettingsPorts

SHORTCUT = QKeySequence.StandardKey.Preferences  # Ctrl+, on Linux and Windows, Cmd+, on macOS


class SettingsDialog(QDialog):
    """Every setting, one page per subject (see the module docstring).

    Args:
        ports: what each page changes (built by the composition root).
        parent: the main window.
    """

    def __init__(self, *, ports: SettingsPorts, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settings_dialog")
        self.setWindowTitle("Aether settings")
        self.resize(820, 660)
        self.page_list = QListWidget()
        self.page_list.setObjectName("settings_pages")
        self.page_list.setAccessibleName("Settings pages")
        self.page_list.setFixedWidth(150)
        # after the page list: Tab goes from the list into the page, then to Close
        self.pages: list[SettingsPage] = [
            GeneralPage(port=ports.general),
            VoicePage(port=ports.voice),
            ModelPage(port=ports.model),
            ProvidersPage(port=ports.providers),
            PermissionsPage(port=ports.permissions),
            MemoryPage(port=ports.memory),
            CostsPage(port=ports.costs),
        ]
        self.stack = QStackedWidget()
        for page in self.pages:
            self.page_list.addItem(page.title)
            self.stack.addWidget(page)
        self.page_list.currentRowChanged.connect(self._on_page_list_row_changed)
        body = QHBoxLayout()
        body.addWidget(self.page_list)
        body.addWidget(self.stack, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(body, 1)
        layout.addWidget(buttons)
        for key, step in (("Ctrl+PgDown", 1), ("Ctrl+PgUp", -1)):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda step=step: self.step_page(step))
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)
            button.setDefault(False)
        self.page_list.setCurrentRow(0)
        self.page_list.setFocus()

    def done(self, result: int) -> None:
        """Close: the pages stop their background work first (a provider test on its way)."""
        self.shutdown()
        super().done(result)

    def shutdown(self) -> None:
        """Stop every page's background work (idempotent)."""
        for page in self.pages:
            page.shutdown()

    def show_page(self, title: str) -> SettingsPage:
        """Open the page called ``title`` (a banner's "Open settings" may point at one)."""
        for row, page in enumerate(self.pages):
            if page.title == title:
                self.page_list.setCurrentRow(row)
                return page
        raise KeyError(title)

    def step_page(self, step: int) -> None:
        """Move ``step`` pages down (negative: up), wrapping around; the page list takes the focus,
        so Tab then walks the new page from its first field."""
        self.page_list.setCurrentRow((self.page_list.currentRow() + step) % len(self.pages))
        self.page_list.setFocus()

    def _on_page_list_row_changed(self, row: int) -> None:
        if 0 <= row < len(self.pages):
            self.pages[row].refresh()  # another window or a command may have changed it
            self.stack.setCurrentIndex(row)
