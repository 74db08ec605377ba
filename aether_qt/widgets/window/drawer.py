"""The trust centre as a drawer: the width it opens at, and room for it in a narrow window.

The splitter between the companion and the trust centre is remembered as the
panel's width, taken each time the panel closes (and when the window saves its
state). Opening the panel gives it that width back; a window too narrow for the
companion and the panel side by side grows (within the screen) instead of
squeezing the companion below its minimum. A maximised or full-screen window
never changes size: the panel takes what is left.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from PySide6.QtCore import Qt

if TYPE_CHECKING:
    from aether_qt.widgets.window.host import WindowHost

CHROME_GUESS: Final = 24
"""The window's margins around the splitter, before its first layout."""


class TrustDrawer:
    """Places the trust-centre panel of one main window.

    Attributes:
        width: the panel's width the next time it opens (pixels).
    """

    def __init__(self, window: WindowHost, *, width: int) -> None:
        self._window = window
        self.width = width

    def remember_width(self) -> None:
        """Keep the open panel's current width for the next time it opens."""
        panel = self._window.trust_centre
        if panel.isVisible() and panel.width() > 0:
            self.width = panel.width()

    def make_room(self) -> None:
        """Give the opened panel its width; widen a narrow window rather than squeeze the companion."""
        window = self._window
        splitter = window.splitter
        panel = max(self.width, window.trust_centre.minimumSizeHint().width())
        companion = window.companion.minimumSizeHint().width()
        handle = splitter.handleWidth()
        chrome = window.width() - splitter.width() if splitter.width() > 0 else CHROME_GUESS
        wanted = companion + handle + panel + chrome
        fixed = Qt.WindowState.WindowMaximized | Qt.WindowState.WindowFullScreen
        screen = window.screen()
        room = screen.availableGeometry().width() if screen is not None else wanted
        if not window.windowState() & fixed and window.width() < wanted:
            window.resize(min(wanted, room), window.height())
        total = max(0, window.width() - chrome)
        width = min(panel, max(0, total - companion - handle))
        splitter.setSizes([max(0, total - handle - width), width])
