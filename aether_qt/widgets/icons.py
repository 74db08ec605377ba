"""The app icon as a ``QIcon``: the window, the tray, the wizard and the desktop entry show the same face.

The pixmaps are the PNGs in ``resources/icons/hicolor`` (rendered from the SVG by
``scripts/render_icons.py``; the 16-24 px ones are a simplified drawing), so Qt
picks the drawing made for each size instead of scaling one picture. The icon
theme is not asked: a theme's unrelated "aether" icon must not replace the face.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtGui import QIcon

from aether_qt.core.resources import ICON_NAME, ICON_SIZES, resource_path

__all__ = ["app_icon"]


@cache
def app_icon() -> QIcon:
    """Aether's icon at every shipped size (needs a ``QGuiApplication``; built once)."""
    icon = QIcon()
    for size in ICON_SIZES:
        path = resource_path("icons", "hicolor", f"{size}x{size}", f"{ICON_NAME}.png")
        if path.is_file():
            icon.addFile(str(path))
    return icon
