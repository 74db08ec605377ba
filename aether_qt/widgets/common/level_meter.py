"""A live microphone level meter: a horizontal bar on a decibel scale with a falling peak mark.

A microphone's RMS (0..1 of full scale) is tiny for speech (about 0.01-0.1)
and spans orders of magnitude, so the bar shows decibels from
:data:`FLOOR_DB` (empty) to 0 dB (full): quiet speech fills a third, a shout
nearly all. The peak mark falls back slowly, so a short word stays visible.
The widget only draws what it is told (:meth:`LevelMeter.set_level`); it opens
no device. Screen readers get the level as the accessible description.
"""

from __future__ import annotations

import math
from typing import Final

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

FLOOR_DB: Final = -60.0  # the bar is empty at and below this
PEAK_FALL: Final = 0.02  # of the bar's width per update: the peak mark falls back slowly
LOUD_ENOUGH: Final = 0.35  # a bar past this share is speech at a usable level
_GREEN, _AMBER, _RED = QColor("#3a9d5d"), QColor("#d9a520"), QColor("#c8463c")


def level_fraction(rms: float) -> float:
    """``rms`` (0..1 of full scale) as a share of the bar (0..1) on the decibel scale."""
    if rms <= 0.0 or math.isnan(rms):
        return 0.0
    db = 20.0 * math.log10(min(rms, 1.0))
    return max(0.0, min(1.0, (db - FLOOR_DB) / -FLOOR_DB))


class LevelMeter(QWidget):
    """A horizontal level bar (see the module docstring).

    Attributes:
        level: the current share of the bar (0..1).
        peak: the peak mark's share (0..1), falling back by :data:`PEAK_FALL` per update.
        updates: how many levels it has been given since :meth:`reset` (tests and the page
            use it to know the meter is live).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("level_meter")
        self.setAccessibleName("Microphone level")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # it shows, it is not operated
        self.level = 0.0
        self.peak = 0.0
        self.updates = 0
        self._describe()

    def sizeHint(self) -> QSize:
        """Wide and short, like a level meter."""
        return QSize(240, 18)

    def set_level(self, rms: float) -> None:
        """Show a new measurement (``rms`` 0..1 of full scale)."""
        self.level = level_fraction(rms)
        self.peak = max(self.level, self.peak - PEAK_FALL)
        self.updates += 1
        self._describe()
        self.update()

    def reset(self) -> None:
        """Empty the bar (the microphone test stopped)."""
        self.level = self.peak = 0.0
        self.updates = 0
        self._describe()
        self.update()

    def _describe(self) -> None:
        self.setAccessibleDescription(f"{round(self.level * 100)} percent")

    def paintEvent(self, _event: QPaintEvent) -> None:
        """The trough, the bar (green, amber near the top, red at the top) and the peak mark."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        palette = self.palette()
        painter.setPen(palette.color(QPalette.ColorRole.Mid))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(rect, 3, 3)
        inner = rect.adjusted(2, 2, -2, -2)
        if self.level > 0:
            colour = _GREEN if self.level < 0.75 else _AMBER if self.level < 0.92 else _RED
            bar = QRectF(inner.left(), inner.top(), inner.width() * self.level, inner.height())
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            painter.drawRoundedRect(bar, 2, 2)
        if self.peak > 0:
            x = inner.left() + inner.width() * self.peak
            painter.setPen(palette.color(QPalette.ColorRole.Text))
            painter.drawLine(int(x), int(inner.top()), int(x), int(inner.bottom()))
        painter.end()
