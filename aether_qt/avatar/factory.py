"""Choose the avatar for this machine: OpenGL when a context can be made, else QPainter.

The ``offscreen`` and ``minimal`` platforms never have OpenGL (DESIGN.md §13: no
OpenGL -> QPainter avatar); elsewhere a throw-away :class:`QOpenGLContext` is
created to find out.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtGui import QGuiApplication, QOpenGLContext
from PySide6.QtWidgets import QWidget

from aether_qt.avatar.gl_avatar import GlAvatar
from aether_qt.avatar.painter_avatar import PainterAvatar
from aether_qt.avatar.view import AvatarView

NO_GL_PLATFORMS: Final = frozenset({"offscreen", "minimal", "vnc", "linuxfb"})
FACE_SIZE: Final = 64
SMALL_FACE_SIZE: Final = 30


def opengl_available() -> bool:
    """Whether an OpenGL context can be created on this platform (needs a QGuiApplication)."""
    if QGuiApplication.platformName() in NO_GL_PLATFORMS:
        return False
    context = QOpenGLContext()
    return bool(context.create())


def make_avatar(
    parent: QWidget | None = None, *, small: bool = False, stage: bool = False, opengl: bool | None = None
) -> AvatarView:
    """The avatar view: the GL character when OpenGL works (or ``opengl`` says so), else QPainter.

    Args:
        parent: the owning widget.
        small: a small character without words (quick talk); else the header with name and state.
        stage: the main window's centrepiece: the character scales with the widget, words under it.
        opengl: force the choice (tests and benchmarks); None probes the platform.
    """
    use_gl = opengl_available() if opengl is None else opengl
    size = SMALL_FACE_SIZE if small else FACE_SIZE
    canvas: GlAvatar | PainterAvatar = GlAvatar(size) if use_gl else PainterAvatar(size)
    return AvatarView(canvas, words=not small, stage=stage and not small, parent=parent)
