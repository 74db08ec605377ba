"""The GLSL program that draws the character, shared by the widget and the snapshot renderer.

One full-screen triangle; the fragment shader composes the character from
signed-distance functions in face units (the face spans -1 .. 1, y up):
halo and approval ring, face (round, soft-square or droplet) with its outline
and cheeks, eyes with gaze and blink, the mouth (a smile line or an opening
driven by ``mouth_open``), thinking dots and the offline / untrusted badges.
The GLSL lives in ``resources/shaders/avatar.vert`` and ``avatar.frag``.
"""

from __future__ import annotations

from functools import cache
from typing import Final

from PySide6.QtGui import QVector2D, QVector3D
from PySide6.QtOpenGL import QOpenGLShader, QOpenGLShaderProgram

from aether_qt.avatar.look import FaceParams
from aether_qt.core.resources import resource_path

_VERTEX_FILE: Final = "avatar.vert"
_FRAGMENT_FILE: Final = "avatar.frag"


@cache
def shader_source(name: str) -> str:
    """The GLSL source of ``name`` in ``resources/shaders`` (read once), without a ``#version`` line."""
    return resource_path("shaders", name).read_text(encoding="utf-8")


def _header(es: bool) -> str:
    return "#version 300 es\nprecision highp float;\nprecision highp int;\n" if es else "#version 330 core\n"


def build_program(es: bool) -> QOpenGLShaderProgram:
    """Compile and link the avatar program for desktop GL 3.3 core or GLES 3.0.

    Raises:
        RuntimeError: the driver rejected the shaders (the log says why).
    """
    program = QOpenGLShaderProgram()
    ok = program.addShaderFromSourceCode(
        QOpenGLShader.ShaderTypeBit.Vertex, _header(es) + shader_source(_VERTEX_FILE)
    )
    ok = ok and program.addShaderFromSourceCode(
        QOpenGLShader.ShaderTypeBit.Fragment, _header(es) + shader_source(_FRAGMENT_FILE)
    )
    if not (ok and program.link()):
        raise RuntimeError(f"avatar shader failed: {program.log()}")
    return program


def set_uniforms(
    program: QOpenGLShaderProgram,
    params: FaceParams,
    *,
    face: tuple[float, float, float],
    background: tuple[float, float, float],
) -> None:
    """Load one frame's parameters; ``face`` is centre x, y (bottom-left origin) and radius in pixels."""
    where = program.uniformLocation
    program.setUniformValue(where("uFace"), QVector3D(*face))
    for name, colour in (
        ("uPrimary", params.primary),
        ("uSecondary", params.secondary),
        ("uAccent", params.accent),
        ("uBackground", background),
        ("uTint", params.tint),
    ):
        program.setUniformValue(where(name), QVector3D(*colour))
    program.setUniformValue1i(where("uShape"), params.shape)
    program.setUniformValue(where("uGaze"), QVector2D(*params.gaze))
    for name, value in (
        ("uScale", params.scale),
        ("uTilt", params.tilt),
        ("uEyeOpen", params.eye_open),
        ("uMouth", params.mouth_open),
        ("uSmile", params.smile),
        ("uGlow", params.glow),
        ("uDots", params.thinking_dots),
        ("uRing", params.ring),
        ("uOffline", 1.0 if params.offline else 0.0),
        ("uUntrusted", 1.0 if params.untrusted else 0.0),
        ("uTime", params.t % 1000.0),
    ):
        program.setUniformValue1f(where(name), value)
