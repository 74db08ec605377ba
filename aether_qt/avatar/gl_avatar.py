"""The OpenGL avatar: a ``QOpenGLWidget`` running the character shader on a full-screen triangle.

``paintGL`` runs only when Qt composes the window, which it never does for a
hidden or minimised one; :class:`~aether_qt.avatar.view.AvatarView` also stops
asking for frames then. A shader the driver rejects leaves the background
colour and a log line, never a crash.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QRectF, QSize
from PySide6.QtOpenGL import QOpenGLShaderProgram, QOpenGLVertexArrayObject
from PySide6.QtOpenGLWidgets import QOpenGLWidget
from PySide6.QtWidgets import QWidget

from aether_qt.avatar.look import Source, canvas_side
from aether_qt.avatar.shader import build_program, set_uniforms

_log = logging.getLogger(__name__)
GL_COLOR_BUFFER_BIT = 0x4000
GL_TRIANGLES = 0x0004


class GlAvatar(QOpenGLWidget):
    """The character drawn by a GLSL fragment shader.

    Attributes:
        paint_count: how many times ``paintGL`` ran (tests check a hidden avatar never paints).
        frame_times: the last ``paintGL`` durations in seconds (for ``aether bench avatar``).
        error: why the shader could not be used ("" when it works).
    """

    def __init__(self, face_size: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.face_size = face_size
        self.source: Source | None = None
        self.paint_count = 0
        self.frame_times: list[float] = []
        self.error = ""
        self._program: QOpenGLShaderProgram | None = None
        self._vao: QOpenGLVertexArrayObject | None = None
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

    def initializeGL(self) -> None:
        """Compile the shader and make the (empty) vertex array core profiles require."""
        context = self.context()
        try:
            self._program = build_program(context.isOpenGLES())
        except RuntimeError as exc:
            self.error = str(exc)
            _log.warning("%s; the avatar shows its background only", exc)
            return
        self._vao = QOpenGLVertexArrayObject(self)
        self._vao.create()

    def paintGL(self) -> None:
        """Clear to the background and draw the character for the current parameters."""
        started = time.perf_counter()
        self.paint_count += 1
        funcs = self.context().functions()
        if self.source is None:
            funcs.glClearColor(0.953, 0.957, 0.965, 1.0)
            funcs.glClear(GL_COLOR_BUFFER_BIT)
            return
        params, background = self.source()
        funcs.glClearColor(*background, 1.0)
        funcs.glClear(GL_COLOR_BUFFER_BIT)
        if self._program is None or self._vao is None:
            return
        ratio = self.devicePixelRatioF()
        face = self.face_rect()
        centre_y = (self.height() - face.center().y()) * ratio  # GL counts rows from the bottom
        self._program.bind()
        set_uniforms(
            self._program,
            params,
            face=(face.center().x() * ratio, centre_y, self.face_size / 2 * ratio),
            background=background,
        )
        self._vao.bind()
        funcs.glDrawArrays(GL_TRIANGLES, 0, 3)
        self._vao.release()
        self._program.release()
        self.frame_times = [*self.frame_times[-599:], time.perf_counter() - started]
