"""The app icon: every shipped size reaches the QIcon, and the committed PNGs match the SVG."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from PySide6.QtCore import QSize
from PySide6.QtGui import QColor

from aether_qt.core.resources import ICON_SIZES
from aether_qt.widgets.icons import app_icon

REPO = Path(__file__).resolve().parents[2]


def test_app_icon_has_every_size_and_a_face(qapp: object) -> None:
    icon = app_icon()
    assert not icon.isNull()
    assert {s.width() for s in icon.availableSizes()} == set(ICON_SIZES)
    image = icon.pixmap(QSize(256, 256)).toImage()
    assert image.width() == 256
    assert image.pixelColor(1, 1).alpha() == 0  # rounded corners stay transparent
    face = QColor(image.pixel(128, 80))
    assert face.blue() > face.red() + 40  # the blue face fills the middle


def test_committed_pngs_are_rendered_from_the_svg(qapp: object) -> None:
    spec = importlib.util.spec_from_file_location("render_icons", REPO / "scripts" / "render_icons.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--check"]) == 0, "run scripts/render_icons.py after changing the SVG"


def test_the_tray_shows_the_app_face_in_the_state_colour(qapp: object) -> None:
    from aether_qt.widgets.tray import FACE_INK, STATE_COLOURS, state_pixmap

    for state in ("idle", "attention"):
        image = state_pixmap(state, 64).toImage()
        assert QColor(image.pixel(32, 20)).name() == STATE_COLOURS[state]  # the forehead
        assert QColor(image.pixel(22, 26)).name() == FACE_INK  # an eye
        assert QColor(image.pixel(32, 48)).name() == FACE_INK  # the smile
