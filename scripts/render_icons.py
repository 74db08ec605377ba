#!/usr/bin/env python3
"""Render the app icon's PNGs from resources/icons/aether.svg with QtSvg.

The PNGs are committed (the desktop entry, the wheel and the bundle ship them);
run this again after changing the SVG:

    .venv/bin/python scripts/render_icons.py            # writes resources/icons/hicolor/<N>x<N>/aether.png
    .venv/bin/python scripts/render_icons.py --check    # exit 1 if a committed PNG is missing or stale

Sizes up to 24 px come from aether-small.svg (the same face, simplified), and
everything below 128 px is rendered 4x larger and scaled down smoothly, which
keeps the eyes and the smile readable at 16 px.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SVG = ROOT / "resources" / "icons" / "aether.svg"
SMALL_SVG = ROOT / "resources" / "icons" / "aether-small.svg"  # for SMALL_UP_TO px and below
SMALL_UP_TO = 24
OUT = ROOT / "resources" / "icons" / "hicolor"
SIZES = (16, 22, 24, 32, 48, 64, 128, 256, 512)
_SUPERSAMPLE = 4


def render(size: int) -> object:
    """The icon as a ``QImage`` of ``size`` x ``size`` pixels (ARGB)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    source = SMALL_SVG if size <= SMALL_UP_TO else SVG
    renderer = QSvgRenderer(str(source))
    if not renderer.isValid():
        raise SystemExit(f"{source}: not a valid SVG")
    big = size * (_SUPERSAMPLE if size < 128 else 1)
    image = QImage(big, big, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        renderer.render(painter)
    finally:
        painter.end()
    if big != size:
        image = image.scaled(
            size, size, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation
        )
    return image.convertToFormat(QImage.Format.Format_ARGB32)


def target(size: int) -> Path:
    return OUT / f"{size}x{size}" / "aether.png"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare with the committed PNGs")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication, QImage

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    stale = []
    for size in SIZES:
        image = render(size)
        path = target(size)
        if args.check:
            committed = QImage(str(path))
            if committed.isNull() or committed.convertToFormat(image.format()) != image:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(path), "PNG"):
            raise SystemExit(f"cannot write {path}")
        print(path.relative_to(ROOT))
    del app
    if stale:
        print("stale or missing (run scripts/render_icons.py):", *map(str, stale), sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
