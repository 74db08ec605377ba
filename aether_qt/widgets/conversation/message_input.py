"""The message input: one line that grows to a few, Enter sends, long pastes are held aside.

A ``QPlainTextEdit`` rather than a ``QLineEdit`` (which caps text at 32,767
characters). A paste longer than :data:`LONG_PASTE_CHARS` is not put into the
editor at all, because laying out a megabyte of text would freeze the GUI
thread: it is emitted as :attr:`MessageInput.sig_long_paste_held` and the owner
keeps it as an attachment that is sent with the message.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QPlainTextEdit, QSizePolicy, QWidget

LONG_PASTE_CHARS: Final = 20_000
MAX_LINES: Final = 6


class MessageInput(QPlainTextEdit):
    """A one-line-looking editor that grows with its text up to ``max_lines``.

    Enter or Ctrl+Enter sends, Shift+Enter starts a new line, Esc asks to cancel, Up in the
    empty editor asks to edit the last message.

    Signals:
        sig_send_requested(): Enter or Ctrl+Enter.
        sig_escape_pressed(): Esc reached the editor.
        sig_long_paste_held(str): a paste too long to edit; the full text.
        sig_edit_last_requested(): Up in the empty editor.
    """

    sig_send_requested = Signal()
    sig_escape_pressed = Signal()
    sig_long_paste_held = Signal(str)
    sig_edit_last_requested = Signal()

    def __init__(
        self,
        *,
        placeholder: str = "Message Aether…",
        max_lines: int = MAX_LINES,
        long_paste_chars: int = LONG_PASTE_CHARS,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("message_input")
        self._max_lines = max_lines
        self._long_paste_chars = long_paste_chars
        self.setPlaceholderText(placeholder)
        self.setTabChangesFocus(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setStyleSheet(
            "QPlainTextEdit#message_input { background: #ffffff; color: #1f2328;"
            " border: 1px solid #c9ced6; border-radius: 10px; padding: 4px 6px; }"
            "QPlainTextEdit#message_input:focus { border: 1px solid #3d8bfd; }"
        )
        self.document().documentLayout().documentSizeChanged.connect(self._on_document_size_changed)
        self._fit_height()

    def text(self) -> str:
        """The typed text."""
        return self.toPlainText()

    def sizeHint(self) -> QSize:
        """As tall as the text, between one and ``max_lines`` lines."""
        return QSize(super().sizeHint().width(), self._wanted_height())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter sends, Shift+Enter is a new line, Esc is passed to the owner."""
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
            else:
                self.sig_send_requested.emit()
            event.accept()
            return
        if key == Qt.Key.Key_Escape:
            self.sig_escape_pressed.emit()
            event.accept()
            return
        if key == Qt.Key.Key_Up and not self.toPlainText():
            self.sig_edit_last_requested.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def insertFromMimeData(self, source: QMimeData) -> None:
        """Paste and drop: plain text only; a very long text is held aside, not edited."""
        if not source.hasText():
            return
        text = source.text()
        if len(text) > self._long_paste_chars:
            self.sig_long_paste_held.emit(text)
            return
        self.insertPlainText(text)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        """Only text can be pasted or dropped."""
        return source.hasText()

    def _wanted_height(self) -> int:
        lines = int(self.document().documentLayout().documentSize().height()) or 1
        shown = min(max(lines, 1), self._max_lines)
        margins = self.contentsMargins()
        document_margin = int(self.document().documentMargin() * 2)
        return (
            shown * self.fontMetrics().lineSpacing() + document_margin + margins.top() + margins.bottom() + 10
        )

    def _fit_height(self) -> None:
        self.setFixedHeight(self._wanted_height())

    def _on_document_size_changed(self) -> None:
        self._fit_height()
