"""The companion area: the avatar as the centrepiece, the conversation beside it or below it.

The avatar grows with the window (see :class:`~aether_qt.avatar.view.AvatarView`'s
stage mode). A wide area puts the conversation on the right of the avatar; a
narrow or tall one puts it below, so the transcript always keeps a readable width.
The direction flips in ``resizeEvent`` only when the shape crosses the line, so a
resize does not rebuild anything; the transcript is never repainted for an
avatar frame because the two never overlap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QBoxLayout, QHBoxLayout, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from aether_qt.widgets.conversation.view import ConversationView

WIDE_RATIO: Final = 1.15
"""Wider than this many times its height (and :data:`WIDE_MIN_WIDTH`): side by side."""
WIDE_MIN_WIDTH: Final = 720
STAGE_SHARE: Final = 2
CONVERSATION_SHARE: Final = 3


def is_wide(width: int, height: int) -> bool:
    """Whether an area of this size shows the avatar beside the conversation (else above it)."""
    return width >= WIDE_MIN_WIDTH and width >= WIDE_RATIO * height


class CompanionArea(QWidget):
    """The stage (the avatar, and under it the persona picker when there is one) and the conversation.

    Signals:
        sig_arrangement_changed(bool): True when the avatar moved beside the conversation, False above it.
    """

    sig_arrangement_changed = Signal(bool)

    def __init__(self, conversation: ConversationView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("companion_area")
        self.conversation = conversation
        self.avatar = conversation.avatar
        self.stage = QWidget()
        self.stage.setObjectName("companion_stage")
        stage_layout = QVBoxLayout(self.stage)
        stage_layout.setContentsMargins(0, 0, 0, 0)
        stage_layout.setSpacing(6)
        stage_layout.addWidget(self.avatar, 1)
        self._extras = QHBoxLayout()
        self._extras.setContentsMargins(0, 0, 0, 0)
        stage_layout.addLayout(self._extras)
        self.box = QBoxLayout(QBoxLayout.Direction.LeftToRight, self)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.box.setSpacing(10)
        self.box.addWidget(self.stage, STAGE_SHARE)
        self.box.addWidget(conversation, CONVERSATION_SHARE)

    @property
    def wide(self) -> bool:
        """Whether the avatar is beside the conversation now (else above it)."""
        return self.box.direction() is QBoxLayout.Direction.LeftToRight

    def add_stage_widget(self, widget: QWidget) -> None:
        """Put ``widget`` (the persona picker) under the avatar, centred."""
        self._extras.addWidget(widget, 0, Qt.AlignmentFlag.AlignHCenter)

    def resizeEvent(self, event: QResizeEvent) -> None:
        """Side by side when wide, stacked when narrow or tall."""
        super().resizeEvent(event)
        wanted = (
            QBoxLayout.Direction.LeftToRight
            if is_wide(event.size().width(), event.size().height())
            else QBoxLayout.Direction.TopToBottom
        )
        if wanted is not self.box.direction():
            self.box.setDirection(wanted)
            self.sig_arrangement_changed.emit(self.wide)
