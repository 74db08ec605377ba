"""What the main window remembers between runs: geometry, the trust-centre panel, its width and tab.

Everything lives in the ``QSettings`` file the window is given (the user's to
edit, so every value read back is checked and a bad one falls back to the
default). The trust centre is closed on a first start; once the user opens or
closes it, that choice is kept. The splitter between the companion and the
panel is remembered as the panel's width (the companion takes the rest), not as
the splitter's saved state: a state saved while the panel was hidden holds a
zero width, and one restored before the window has its size is redistributed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from PySide6.QtCore import QByteArray, QSettings

KEY_GEOMETRY: Final = "main_window/geometry"
KEY_TAB: Final = "main_window/tab"
KEY_PANEL: Final = "main_window/trust_centre_visible"
KEY_PANEL_WIDTH: Final = "main_window/trust_centre_width"
KEY_CONVERSATIONS: Final = "main_window/conversations_visible"
DEFAULT_SIZE: Final = (1120, 720)
DEFAULT_PANEL_WIDTH: Final = 460
MIN_PANEL_WIDTH: Final = 300
MAX_PANEL_WIDTH: Final = 4000
_MAX_DIGITS: Final = 4


def first_size(available: tuple[int, int]) -> tuple[int, int]:
    """The window's size on a first start: :data:`DEFAULT_SIZE`, or less on a small screen.

    ``available`` is the screen's free area in logical pixels: at 2x scale a
    1280x1024 screen offers 640x512, and a window larger than that is cut off.
    """
    width, height = available
    return min(DEFAULT_SIZE[0], width * 9 // 10), min(DEFAULT_SIZE[1], height * 9 // 10)


def stored_int(value: object, default: int = 0) -> int:
    """A small decimal number kept in the settings file, or ``default`` when it is not one.

    The file is the user's to edit, so the value may be anything ``QSettings``
    reads: text, a list, digits ``int`` refuses ("²") or more digits than it parses.
    """
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS else default


def stored_tab(value: object) -> int:
    """The tab index kept in the settings file, or 0 when it is not a plain decimal number."""
    return stored_int(value, 0)


def stored_flag(value: object, default: bool) -> bool:
    """A yes/no kept in the settings file ("true"/"false" as ``QSettings`` writes it)."""
    text = str(value).strip().lower() if isinstance(value, bool | int | str) else ""
    if text in {"true", "1"}:
        return True
    if text in {"false", "0"}:
        return False
    return default


@dataclass(frozen=True, slots=True)
class WindowState:
    """The remembered state, as read back (defaults where the file says nothing usable)."""

    geometry: QByteArray | None
    tab: int
    panel_open: bool
    panel_width: int


def _bytes(value: object) -> QByteArray | None:
    return value if isinstance(value, QByteArray) and not value.isEmpty() else None


def read_state(settings: QSettings) -> WindowState:
    """Read the window's state from ``settings``."""
    width = stored_int(settings.value(KEY_PANEL_WIDTH, DEFAULT_PANEL_WIDTH), DEFAULT_PANEL_WIDTH)
    return WindowState(
        geometry=_bytes(settings.value(KEY_GEOMETRY)),
        tab=stored_tab(settings.value(KEY_TAB, 0)),
        panel_open=stored_flag(settings.value(KEY_PANEL, False), False),
        panel_width=max(MIN_PANEL_WIDTH, min(MAX_PANEL_WIDTH, width)),
    )


def write_state(settings: QSettings, state: WindowState) -> None:
    """Write ``state`` to ``settings`` and sync it to disk."""
    if state.geometry is not None:
        settings.setValue(KEY_GEOMETRY, state.geometry)
    settings.setValue(KEY_TAB, state.tab)
    settings.setValue(KEY_PANEL, state.panel_open)
    settings.setValue(KEY_PANEL_WIDTH, state.panel_width)
    settings.sync()
