"""The memory panel's undo bar: what was just forgotten, and a button to bring it back.

A forgotten memory is hidden at once and its words are erased for good after a
grace period (a week). Until then the bar under the list names the newest memory
forgotten (in the panel, or in a conversation while the panel was open) and offers
Undo (also Ctrl+Z in the panel). The panel
fills it after every reload with the memories that can still be restored, so
after the purge the bar disappears by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from aether_qt.engines.memory.items import MemoryItem

MAX_QUOTE: Final = 80  # characters of the forgotten memory quoted in the bar
BAR_STYLE: Final = (
    "QFrame#memory_undo_bar { background: #eef3fb; border: 1px solid #b8c9e6; border-radius: 6px; }"
    "QFrame#memory_undo_bar QLabel { color: #1d3557; background: transparent; }"
)


def quote(text: str) -> str:
    """``text`` in curly quotes, shortened to :data:`MAX_QUOTE` characters."""
    short = text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 1].rstrip() + "…"
    return f"“{short}”"


class UndoBar(QFrame):
    """Names the newest memory that can still be brought back (hidden when there is none).

    Attributes:
        text: the sentence.
        undo_button: brings the named memory back (the panel runs it).
        close_button: hides the bar until the next forget.
        item: the memory Undo brings back, or None.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("memory_undo_bar")
        self.setAccessibleName("Recently forgotten")
        self.setStyleSheet(BAR_STYLE)
        self.item: MemoryItem | None = None
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 4, 4, 4)
        self.text = QLabel("")
        self.text.setTextFormat(Qt.TextFormat.PlainText)
        self.text.setWordWrap(True)
        self.undo_button = QPushButton("Undo")
        self.undo_button.setToolTip(
            "Bring this memory back exactly as it was (Ctrl+Z). Possible until its words are erased "
            "for good, a week after you forgot it."
        )
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setAccessibleName("Hide")
        self.close_button.setToolTip("Hide this message (the memory stays forgotten)")
        self.close_button.clicked.connect(self.hide)
        row.addWidget(self.text, 1)
        row.addWidget(self.undo_button)
        row.addWidget(self.close_button)
        self.hide()

    def show_restorable(self, items: Sequence[MemoryItem], *, reveal: bool) -> None:
        """Offer the last of ``items`` (oldest first); hide when empty. ``reveal`` shows a hidden bar."""
        self.item = items[-1] if items else None
        if self.item is None:
            self.hide()
            return
        more = len(items) - 1
        tail = f" ({more} more can be brought back with Undo.)" if more else ""
        self.text.setText(
            f"Forgotten: {quote(self.item.text)}. Its words are erased for good in a week.{tail}"
        )
        if reveal:
            self.show()
