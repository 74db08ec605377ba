"""The QPainter avatar: the same character as the GLSL one, for machines without OpenGL.

It draws from the same :class:`~aether_qt.avatar.look.FaceParams` in the same
face units (the face spans -1 .. 1, y up), so both look alike; only the
soft halo is simpler. It paints only when Qt asks it to, which Qt never does
for a hidden widget.
"""

from __future__ import annotations

import math
import time

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPen, QRadialGradient, QTransform
from PySide6.QtWidgets import QWidget

from aether_qt.avatar.look import RGB, FaceParams, Source, canvas_side

AMBER = QColor("#ffb300")
OFFLINE_GREY = QColor("#646b78")
UNTRUSTED_ORANGE = QColor("#e65100")


def qcolour(colour: RGB, alpha: float = 1.0) -> QColor:
    """A float RGB triple as a QColor."""
    return QColor.fromRgbF(colour[0], colour[1], colour[2], alpha)


def face_outline(shape: int) -> QPainterPath:
    """The face outline in face units (y up), matching the shader's ``faceSd``."""
    path = QPainterPath()
    if shape == 1:  # soft-square
        path.addRoundedRect(QRectF(-0.9375, -0.9375, 1.875, 1.875), 0.56, 0.56)
    elif shape == 2:  # droplet: the hull of a circle and a tip above it
        centre_y, radius, tip_y = -0.26, 0.72, 0.97
        k = radius / (tip_y - centre_y)
        angle = math.degrees(math.asin(k))  # the tangent points' angle above the horizontal
        path.moveTo(0.0, tip_y)
        path.lineTo(radius * math.sqrt(1 - k * k), centre_y + radius * k)
        rect = QRectF(-radius, centre_y - radius, 2 * radius, 2 * radius)
        # arcTo puts angle a at (cx + r cos a, cy - r sin a): with y up the angles mirror
        path.arcTo(rect, -angle, 180 + 2 * angle)
        path.closeSubpath()
    else:
        path.addEllipse(QPointF(0.0, 0.0), 0.97, 0.97)
    return path


def paint_character(painter: QPainter, params: FaceParams, centre: QPointF, radius: float) -> None:
    """Draw the character centred on ``centre`` with face radius ``radius`` pixels."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.translate(centre)
    painter.scale(radius, -radius)
    unit = 1.0 / radius  # one pixel in face units
    outline = face_outline(params.shape)
    if params.glow > 0:
        gradient = QRadialGradient(QPointF(0, 0), 1.3)
        gradient.setColorAt(0.72, qcolour(params.tint, 0.6 * params.glow))
        gradient.setColorAt(1.0, qcolour(params.tint, 0.0))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(gradient)
        painter.drawEllipse(QPointF(0, 0), 1.3, 1.3)
    if params.ring > 0:
        pulse = 0.8 + 0.2 * math.sin(params.t * 4.0)
        painter.setPen(QPen(QColor(AMBER.red(), AMBER.green(), AMBER.blue(), int(255 * pulse)), 0.09))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(_grown(params.shape, 0.13))
    if params.thinking_dots > 0:
        painter.setPen(Qt.PenStyle.NoPen)
        for i in range(3):
            wave = 0.6 + 0.4 * math.sin(params.t * 5.0 - i * 1.2)
            painter.setBrush(qcolour(params.tint, params.thinking_dots * wave))
            size = 0.05 + 0.018 * i
            painter.drawEllipse(QPointF(0.8 + 0.15 * i, 0.92 + 0.11 * i), size, size)
    painter.save()
    pivot = QPointF(0.0, -0.95)
    painter.translate(pivot)
    painter.rotate(math.degrees(params.tilt))
    painter.scale(params.scale, params.scale)
    painter.translate(-pivot)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(qcolour(params.primary))
    painter.drawPath(outline)
    _paint_cheeks(painter, params)
    _paint_eyes(painter, params)
    _paint_mouth(painter, params)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(QPen(qcolour(params.secondary), 2.5 * unit))
    painter.drawPath(_grown(params.shape, -1.25 * unit))
    painter.restore()
    _paint_badges(painter, params)
    painter.restore()


def _grown(shape: int, by: float) -> QPainterPath:
    """The outline moved outwards by ``by`` face units (inwards when negative)."""
    path = face_outline(shape)
    factor = (1.0 + by) if shape != 2 else (1.0 + by / 0.9)
    pivot = QPointF(0.0, -0.26) if shape == 2 else QPointF(0.0, 0.0)
    return _scaled(path, factor, pivot)


def _scaled(path: QPainterPath, factor: float, pivot: QPointF) -> QPainterPath:
    transform = QTransform().translate(pivot.x(), pivot.y()).scale(factor, factor)
    transform.translate(-pivot.x(), -pivot.y())
    return transform.map(path)


def _paint_cheeks(painter: QPainter, params: FaceParams) -> None:
    blush = tuple(p + (s - p) * 0.3 for p, s in zip(params.primary, params.secondary, strict=True))
    painter.setBrush(qcolour((blush[0], blush[1], blush[2]), 0.8))
    for side in (-1.0, 1.0):
        painter.drawEllipse(QPointF(0.56 * side, -0.2), 0.13, 0.13)


def _paint_eyes(painter: QPainter, params: FaceParams) -> None:
    ink = qcolour(params.accent)
    glint = qcolour(tuple(a + (1.0 - a) * 0.85 for a in params.accent))  # type: ignore[arg-type]
    for side in (-1.0, 1.0):
        centre = QPointF(0.34 * side + params.gaze[0], 0.12 + params.gaze[1])
        if params.eye_open < 0.22:
            pen = QPen(ink, 0.044, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            arc = QPainterPath(QPointF(centre.x() - 0.11, centre.y() + 0.015))
            arc.quadTo(
                QPointF(centre.x(), centre.y() - 0.085), QPointF(centre.x() + 0.11, centre.y() + 0.015)
            )
            painter.drawPath(arc)
            painter.setPen(Qt.PenStyle.NoPen)
            continue
        painter.setBrush(ink)
        painter.drawEllipse(centre, 0.1, 0.135 * params.eye_open)
        painter.setBrush(glint)
        painter.drawEllipse(centre + QPointF(0.035, 0.045 * params.eye_open), 0.028, 0.028)


def _paint_mouth(painter: QPainter, params: FaceParams) -> None:
    ink = qcolour(params.accent)
    centre = QPointF(0.0, -0.42)
    if params.mouth_open < 0.04:
        width, dip = 0.22, 0.1 * params.smile
        line = QPainterPath(QPointF(-width, centre.y() + 0.03 * params.smile))
        line.quadTo(
            QPointF(0.0, centre.y() + 0.03 * params.smile - 2 * dip),
            QPointF(width, line.currentPosition().y()),
        )
        painter.setPen(QPen(ink, 0.06, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(line)
        painter.setPen(Qt.PenStyle.NoPen)
        return
    rx, ry = 0.12 + 0.08 * params.mouth_open, 0.03 + 0.17 * params.mouth_open
    mouth = QPainterPath()
    mouth.addEllipse(centre, rx, ry)
    painter.setBrush(ink)
    painter.drawPath(mouth)
    if params.mouth_open > 0.3:
        tongue = QPainterPath()
        tongue.addEllipse(QPointF(0.0, centre.y() - ry), rx * 0.75, rx * 0.75)
        pink = tuple(a + (p - a) * 0.65 for a, p in zip(params.accent, (0.93, 0.42, 0.45), strict=True))
        painter.setBrush(qcolour((pink[0], pink[1], pink[2]), min(1.0, (params.mouth_open - 0.3) * 5)))
        painter.drawPath(tongue.intersected(mouth))


def _paint_badges(painter: QPainter, params: FaceParams) -> None:
    white = QColor("#ffffff")
    for shown, colour, centre in (
        (params.offline, OFFLINE_GREY, QPointF(-0.74, -0.74)),
        (params.untrusted, UNTRUSTED_ORANGE, QPointF(0.74, -0.74)),
    ):
        if not shown:
            continue
        painter.setPen(QPen(white, 0.04))
        painter.setBrush(colour)
        painter.drawEllipse(centre, 0.25, 0.25)
        painter.setPen(QPen(white, 0.056, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if colour is OFFLINE_GREY:
            painter.drawEllipse(centre, 0.12, 0.12)
            painter.drawLine(centre + QPointF(-0.09, 0.09), centre + QPointF(0.09, -0.09))
        else:
            painter.drawLine(centre + QPointF(0.0, 0.11), centre + QPointF(0.0, -0.02))
            painter.drawPoint(centre + QPointF(0.0, -0.1))


class PainterAvatar(QWidget):
    """The character drawn with QPainter; same interface as :class:`~aether_qt.avatar.gl_avatar.GlAvatar`.

    Attributes:
        paint_count: how many times it painted (tests check a hidden avatar never paints).
        frame_times: the last paint durations in seconds (for ``aether bench avatar``).
    """

    def __init__(self, face_size: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.face_size = face_size
        self.source: Source | None = None
        self.paint_count = 0
        self.frame_times: list[float] = []
        self.set_face_size(face_size)

    def set_face_size(self, face_size: int) -> None:
        """Draw the face ``face_size`` pixels across; the canvas takes the size around it."""
        self.face_size = face_size
        side = canvas_side(face_size)
        self.setFixedSize(QSize(side, side))

    def set_source(self, source: Source) -> None:
        """Where each paint takes its parameters and background from (asked only when painting)."""
        self.source = source

    def face_rect(self) -> QRectF:
        """Where the face is, in widget coordinates."""
        left = (self.width() - self.face_size) / 2
        top = (self.height() - self.face_size) / 2
        return QRectF(left, top, self.face_size, self.face_size)

    def paintEvent(self, event: QPaintEvent) -> None:
        """Fill the background and draw the character."""
        started = time.perf_counter()
        self.paint_count += 1
        painter = QPainter(self)
        try:
            if self.source is None:
                painter.fillRect(self.rect(), QColor("#f3f4f6"))
            else:
                params, background = self.source()
                painter.fillRect(self.rect(), qcolour(background))
                paint_character(painter, params, self.face_rect().center(), self.face_size / 2)
        finally:
            painter.end()
        self.frame_times = [*self.frame_times[-599:], time.perf_counter() - started]
