"""The start-up window: shown within a few hundred milliseconds, before the app is built.

Importing the engines and opening the encrypted database take about a second
on a small machine; a window that appears only afterwards feels broken. So the
composition root shows :class:`StartWindow` first, right after the
``QApplication`` exists, and waits (:func:`show_painted`) until it has really
been drawn. It imports nothing but Qt: the app's own modules are imported after
it is on screen. It takes the main window's remembered place and size (the same
``QSettings`` key), so when the main window is ready it appears where this one
was and this one closes (:meth:`StartWindow.hand_over`).

:class:`PaintWatch` records when a widget was first painted: the composition
root keeps those times in :class:`StartTimes`, which ``aether bench turn``
reports (cold start to window visible).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QByteArray, QEvent, QEventLoop, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

KEY_GEOMETRY: Final = "main_window/geometry"  # the main window's key: the same place on screen
DEFAULT_SIZE: Final = (1120, 720)
MIN_SIZE: Final = (480, 320)
"""Small enough for any screen, large enough that the two sentences are never cut off."""
PAINT_WAIT_S: Final = 1.0
TITLE: Final = "Aether is starting…"
DETAIL: Final = "The conversation opens in a moment. The language model keeps loading in the background."


@dataclass(slots=True)
class StartTimes:
    """When the start-up milestones happened (``time.perf_counter()`` seconds; None: not yet).

    Attributes:
        shell_painted: the start-up window was first drawn (the user sees a window).
        window_painted: the main window was first drawn (the user can type).
    """

    shell_painted: float | None = None
    window_painted: float | None = None


class PaintWatch(QObject):
    """Records the first paint of the widgets it watches (an event filter; it never consumes events).

    Signals:
        sig_painted(): a watched widget was painted for the first time.
    """

    sig_painted = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.painted: dict[int, float] = {}

    def watch(self, widget: QWidget) -> None:
        """Start watching ``widget``."""
        widget.installEventFilter(self)

    def first_paint(self, widget: QWidget) -> float | None:
        """When ``widget`` was first painted, or None."""
        return self.painted.get(id(widget))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Note the first paint event of a watched widget, then stop watching it."""
        if event.type() == QEvent.Type.Paint and id(watched) not in self.painted:
            self.painted[id(watched)] = time.perf_counter()
            watched.removeEventFilter(self)
            self.sig_painted.emit()
        return False


class StartWindow(QWidget):
    """A calm window saying Aether is starting, where the main window will appear."""

    def __init__(self, *, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("start_window")
        self.setWindowTitle("Aether")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet("QWidget#start_window { background: #f3f4f6; }")
        self.setMinimumSize(*MIN_SIZE)  # a remembered tiny geometry must not cut the words off
        layout = QVBoxLayout(self)
        layout.setContentsMargins(32, 32, 32, 32)
        layout.addStretch(2)
        title = QLabel(TITLE)
        title.setObjectName("start_title")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        title.setStyleSheet("font-size: 16pt; font-weight: 600; color: #1f2328;")
        detail = QLabel(DETAIL)
        detail.setObjectName("start_detail")
        detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        detail.setWordWrap(True)
        detail.setStyleSheet("color: #5f6670;")
        layout.addWidget(title)
        layout.addWidget(detail)
        layout.addStretch(3)
        geometry = settings.value(KEY_GEOMETRY)
        remembered = isinstance(geometry, QByteArray) and not geometry.isEmpty()
        if not (remembered and self.restoreGeometry(geometry)):
            self.resize(*DEFAULT_SIZE)

    def hand_over(self) -> None:
        """Close for good: the main window (shown by now, same remembered geometry) takes over."""
        self.close()
        self.deleteLater()


def show_painted(widget: QWidget, watch: PaintWatch, *, wait_s: float = PAINT_WAIT_S) -> float:
    """Show ``widget`` and run a local event loop until it has been painted (at most ``wait_s``).

    The app's own event loop does not run yet: this one only lets the window
    system map and draw the window before the composition root blocks again.

    Returns:
        When it was first painted (``time.perf_counter()``), or the time the wait gave up.
    """
    watch.watch(widget)
    widget.show()
    if watch.first_paint(widget) is None:
        loop = QEventLoop()
        watch.sig_painted.connect(loop.quit)
        QTimer.singleShot(int(wait_s * 1000), loop.quit)
        loop.exec()
        watch.sig_painted.disconnect(loop.quit)
    painted = watch.first_paint(widget)
    return painted if painted is not None else time.perf_counter()
