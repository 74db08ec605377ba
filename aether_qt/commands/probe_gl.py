"""Probe OpenGL through Qt without showing a window (for ``aether doctor``)."""

from __future__ import annotations

from typing import Any


def probe_opengl() -> dict[str, Any]:
    """Make a GL context on an offscreen surface and report vendor, renderer and version."""
    from PySide6.QtGui import QGuiApplication, QOffscreenSurface, QOpenGLContext

    if QGuiApplication.instance() is None:
        QGuiApplication([])
    platform = QGuiApplication.platformName()
    if platform in ("offscreen", "minimal"):
        return {"ok": None, "detail": f"platform {platform} has no OpenGL: QPainter avatar"}
    ctx = QOpenGLContext()
    if not ctx.create():
        return {"ok": False, "detail": "no OpenGL context: the QPainter avatar will be used"}
    surface = QOffscreenSurface()
    surface.setFormat(ctx.format())
    surface.create()
    if not ctx.makeCurrent(surface):
        return {"ok": False, "detail": "OpenGL context could not be made current"}
    funcs = ctx.functions()
    gl_vendor, gl_renderer, gl_version = 0x1F00, 0x1F01, 0x1F02
    info = {
        "vendor": funcs.glGetString(gl_vendor),
        "renderer": funcs.glGetString(gl_renderer),
        "version": funcs.glGetString(gl_version),
    }
    ctx.doneCurrent()
    fmt = ctx.format()
    return {
        "ok": True,
        "detail": f"{info['renderer']} (OpenGL {fmt.majorVersion()}.{fmt.minorVersion()})",
        **info,
    }
