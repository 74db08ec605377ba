"""Posture banners: one area on top of the main window, most urgent condition first.

A banner mirrors one :class:`~aether_qt.policy.runtime.PostureFlag`. Banners are
never dismissed by the user: one clears only when :meth:`BannerArea.refresh` finds
its condition gone (DESIGN.md §11).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

if TYPE_CHECKING:
    from aether_qt.policy.runtime import PolicyRuntime, PostureFlag

# flag -> (background, text colour, short title)
SEVERITY: Final[dict[str, tuple[str, str, str]]] = {
    "audit_broken": ("#c62828", "#ffffff", "Audit broken"),
    "policy_degraded": ("#ef6c00", "#ffffff", "Policy degraded"),
    "keys_on_disk": ("#f9d34c", "#3a2f00", "Keys on disk"),
    "paused": ("#f9d34c", "#3a2f00", "Paused"),
}
_FALLBACK: Final = ("#90a4ae", "#102027", "Notice")


def banner_colours(flag: str) -> tuple[str, str]:
    """Background and text colour of the banner for ``flag``."""
    background, text, _ = SEVERITY.get(flag, _FALLBACK)
    return background, text


class Banner(QFrame):
    """One coloured strip: a short title and the runtime's sentence."""

    def __init__(self, flag: PostureFlag, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.flag = flag.flag
        background, text, title = SEVERITY.get(flag.flag, _FALLBACK)
        self.setObjectName(f"banner_{flag.flag}")
        self.setStyleSheet(
            f"QFrame#{self.objectName()} {{ background: {background}; border-radius: 6px; }}"
            f"QLabel {{ color: {text}; background: transparent; }}"
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 7, 12, 7)
        layout.setSpacing(10)
        heading = QLabel(f"<b>{title}</b>")
        heading.setTextFormat(Qt.TextFormat.RichText)
        self.message = QLabel(flag.message)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(heading)
        layout.addWidget(self.message, 1)


class BannerArea(QWidget):
    """The stack of posture banners, rebuilt when the set of conditions changes.

    Signals:
        sig_posture_changed(list[str]): the flags now shown, most urgent first.
    """

    sig_posture_changed = Signal(list)

    def __init__(self, *, runtime: PolicyRuntime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runtime = runtime
        self._shown: tuple[tuple[str, str], ...] = ()
        self._banners: list[Banner] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(10, 8, 10, 0)
        self._layout.setSpacing(6)
        self.refresh()

    def flags(self) -> list[str]:
        """The flags currently shown, most urgent first."""
        return [flag for flag, _ in self._shown]

    def banners(self) -> list[Banner]:
        """The banner widgets currently shown, in order."""
        return list(self._banners)

    def refresh(self) -> None:
        """Recompute the posture; rebuild only when a condition appeared or cleared."""
        posture = sorted(self._runtime.posture(), key=lambda f: f.priority)
        wanted = tuple((f.flag, f.message) for f in posture)
        if wanted == self._shown:
            return
        for old in self._banners:
            self._layout.removeWidget(old)
            old.hide()
            old.deleteLater()
        self._banners = [Banner(flag, self) for flag in posture]
        for banner in self._banners:
            self._layout.addWidget(banner)
        self._shown = wanted
        self.setVisible(bool(posture))
        self.sig_posture_changed.emit(self.flags())
