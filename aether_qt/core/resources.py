"""Where the shipped resources (icons, shaders, the desktop entry) are: ``resources/`` and ``packaging/``.

In a wheel (and the PyInstaller bundle) the folder travels inside the package as
``aether_qt/_data/resources``; in a source checkout that path is a symlink to the
top-level folder, and the repository's own ``resources/`` is the fallback when
symlinks were not checked out.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Final

__all__ = ["DESKTOP_ID", "ICON_NAME", "ICON_SIZES", "desktop_file", "resource_path", "resources_dir"]

# the freedesktop application id: desktop entry file name (packaging/<id>.desktop), AppStream id,
# the icon's installed name and QGuiApplication.desktopFileName (Wayland app id, startup notification)
DESKTOP_ID: Final = "io.github.aether.Aether"
ICON_NAME: Final = "aether"  # the file name in resources/icons
ICON_SIZES: Final = (16, 22, 24, 32, 48, 64, 128, 256, 512)  # resources/icons/hicolor/<N>x<N>/aether.png


def resources_dir() -> Path:
    """The folder holding ``icons/`` and ``shaders/``."""
    shipped = resources.files("aether_qt") / "_data" / "resources"
    if shipped.is_dir():
        return Path(str(shipped))
    return Path(__file__).resolve().parents[2] / "resources"


def resource_path(*parts: str) -> Path:
    """A file under the resources folder, e.g. ``resource_path("shaders", "avatar.frag")``."""
    return resources_dir().joinpath(*parts)


def desktop_file(suffix: str) -> Path:
    """The shipped ``<DESKTOP_ID><suffix>`` (``.desktop``, ``.metainfo.xml``) from ``packaging/``.

    The wheel carries the two files as ``aether_qt/_data/desktop`` (links in a checkout).
    """
    name = f"{DESKTOP_ID}{suffix}"
    shipped = resources.files("aether_qt") / "_data" / "desktop" / name
    if shipped.is_file():
        return Path(str(shipped))
    return Path(__file__).resolve().parents[2] / "packaging" / name
