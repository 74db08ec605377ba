"""Render one avatar frame to a QImage, without a window (``aether avatar snapshot``).

With OpenGL the same shader as the widget draws into a framebuffer object on an
offscreen surface; without it the QPainter twin draws into the image. Either
way the picture is what the app would show for that frame.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QSize
from PySide6.QtGui import QColor, QGuiApplication, QImage, QOffscreenSurface, QOpenGLContext, QPainter
from PySide6.QtOpenGL import (
    QOpenGLFramebufferObject,
    QOpenGLFramebufferObjectFormat,
    QOpenGLVertexArrayObject,
)

from aether_qt.avatar.factory import opengl_available
from aether_qt.avatar.gl_avatar import GL_COLOR_BUFFER_BIT, GL_TRIANGLES
from aether_qt.avatar.look import AvatarLook, face_params
from aether_qt.avatar.painter_avatar import paint_character
from aether_qt.avatar.shader import build_program, set_uniforms
from aether_qt.engines.presence.frame import BehaviorFrame

SNAPSHOT_BACKGROUND = "#f3f4f6"
CANVAS_PER_FACE = 1.32  # the canvas leaves room around the face for the halo, ring and dots


def _background(look: AvatarLook) -> QColor:
    colour = QColor(look.background)
    return colour if colour.alpha() >= 128 else QColor(SNAPSHOT_BACKGROUND)


def render_painter(look: AvatarLook, frame: BehaviorFrame, size: int) -> QImage:
    """Draw the frame with QPainter into a ``size`` x ``size`` image."""
    image = QImage(size, size, QImage.Format.Format_RGB32)
    image.fill(_background(look))
    painter = QPainter(image)
    try:
        paint_character(
            painter, face_params(look, frame), QPointF(size / 2, size / 2), size / CANVAS_PER_FACE / 2
        )
    finally:
        painter.end()
    return image


def render_gl(look: AvatarLook, frame: BehaviorFrame, size: int) -> QImage:
    """Draw the frame with the GLSL shader into a framebuffer object and read it back.

    Raises:
        RuntimeError: no OpenGL context, surface or framebuffer, or the shader failed.
    """
    context = QOpenGLContext()
    if not context.create():
        raise RuntimeError("no OpenGL context")
    surface = QOffscreenSurface()
    surface.setFormat(context.format())
    surface.create()
    if not context.makeCurrent(surface):
        raise RuntimeError("the OpenGL context could not be made current")
    try:
        fbo_format = QOpenGLFramebufferObjectFormat()
        fbo = QOpenGLFramebufferObject(QSize(size, size), fbo_format)
        if not fbo.isValid() or not fbo.bind():
            raise RuntimeError("no OpenGL framebuffer object")
        funcs = context.functions()
        funcs.glViewport(0, 0, size, size)
        background = _background(look)
        funcs.glClearColor(background.redF(), background.greenF(), background.blueF(), 1.0)
        funcs.glClear(GL_COLOR_BUFFER_BIT)
        program = build_program(context.isOpenGLES())
        vao = QOpenGLVertexArrayObject()
        vao.create()
        program.bind()
        set_uniforms(
            program,
            face_params(look, frame),
            face=(size / 2, size / 2, size / CANVAS_PER_FACE / 2),
            background=(background.redF(), background.greenF(), background.blueF()),
        )
        vao.bind()
        funcs.glDrawArrays(GL_TRIANGLES, 0, 3)
        funcs.glFinish()
        vao.release()
        program.release()
        image = fbo.toImage().convertToFormat(QImage.Format.Format_RGB32)
        fbo.release()
        vao.destroy()
        del fbo, program
    finally:
        context.doneCurrent()
    return image


def render_snapshot(
    look: AvatarLook, frame: BehaviorFrame, *, size: int = 256, opengl: bool | None = None
) -> tuple[QImage, str]:
    """One frame as an image and the renderer used (``opengl`` or ``qpainter``).

    Needs a QGuiApplication. ``opengl`` None uses OpenGL when this platform has it and
    falls back to QPainter if the GL path fails.
    """
    assert QGuiApplication.instance() is not None, "render_snapshot needs a QGuiApplication"
    use_gl = opengl_available() if opengl is None else opengl
    if use_gl:
        try:
            return render_gl(look, frame, size), "opengl"
        except RuntimeError:
            if opengl:
                raise
    return render_painter(look, frame, size), "qpainter"
