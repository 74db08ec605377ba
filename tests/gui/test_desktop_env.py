"""The headless desktop of ``make test`` really works: OpenGL, tray, screenshots, microphone.

These tests check the harness (scripts/with-desktop.sh), not Aether: when one fails, the
app's GUI tests cannot be trusted either. Outside the harness they skip.
"""

from __future__ import annotations

import array
import math
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QBuffer, QIODevice, QPoint
from PySide6.QtGui import QAction, QColor, QIcon, QImage, QPixmap, QSurfaceFormat, QVector4D
from PySide6.QtOpenGL import QOpenGLShader, QOpenGLShaderProgram, QOpenGLVertexArrayObject
from PySide6.QtOpenGLWidgets import QOpenGLWidget
from PySide6.QtWidgets import QMainWindow, QMenu, QSystemTrayIcon
from pytestqt.qtbot import QtBot

GL_COLOR_BUFFER_BIT = 0x4000
GL_TRIANGLES = 0x0004
GL_VENDOR, GL_RENDERER, GL_VERSION = 0x1F00, 0x1F01, 0x1F02

CLEAR = QColor("#003399")  # (0.0, 0.2, 0.6): exact in 8 bits
FILL = QColor("#33cc66")  # (0.2, 0.8, 0.4): set through a uniform

# A triangle around the centre, positions from gl_VertexID: no vertex buffer needed
VERTEX_SHADER = """#version 330 core
const vec2 corners[3] = vec2[3](vec2(-0.6, -0.6), vec2(0.6, -0.6), vec2(0.0, 0.6));
void main() { gl_Position = vec4(corners[gl_VertexID], 0.0, 1.0); }
"""
FRAGMENT_SHADER = """#version 330 core
uniform vec4 fill;
out vec4 colour;
void main() { colour = fill; }
"""


class ShaderWidget(QOpenGLWidget):
    """Clears to CLEAR and draws a FILL triangle with a GLSL 3.30 program."""

    def __init__(self) -> None:
        super().__init__()
        self.gl_info: dict[str, str] = {}
        self.errors: list[str] = []
        self.painted = 0

    def initializeGL(self) -> None:
        ctx = self.context()
        funcs = ctx.functions()
        self.gl_info = {
            "vendor": str(funcs.glGetString(GL_VENDOR)),
            "renderer": str(funcs.glGetString(GL_RENDERER)),
            "version": str(funcs.glGetString(GL_VERSION)),
            "major": str(ctx.format().majorVersion()),
            "profile": ctx.format().profile().name,
        }
        self.program = QOpenGLShaderProgram(self)
        for kind, source in (
            (QOpenGLShader.ShaderTypeBit.Vertex, VERTEX_SHADER),
            (QOpenGLShader.ShaderTypeBit.Fragment, FRAGMENT_SHADER),
        ):
            if not self.program.addShaderFromSourceCode(kind, source):
                self.errors.append(self.program.log())
        if not self.program.link():
            self.errors.append(self.program.log())
        self.fill_location = self.program.uniformLocation("fill")
        self.vao = QOpenGLVertexArrayObject(self)  # core profile draws need a bound VAO
        self.vao.create()

    def paintGL(self) -> None:
        funcs = self.context().functions()
        funcs.glClearColor(CLEAR.redF(), CLEAR.greenF(), CLEAR.blueF(), 1.0)
        funcs.glClear(GL_COLOR_BUFFER_BIT)
        if self.errors:
            return
        self.program.bind()
        self.program.setUniformValue(
            self.fill_location, QVector4D(FILL.redF(), FILL.greenF(), FILL.blueF(), 1.0)
        )
        self.vao.bind()
        funcs.glDrawArrays(GL_TRIANGLES, 0, 3)
        self.vao.release()
        self.program.release()
        self.painted += 1


def _pixel(image: QImage, x: int, y: int) -> str:
    return QColor(image.pixel(x, y)).name()


@pytest.fixture
def gl_window(qtbot: QtBot, x11: str) -> tuple[QMainWindow, ShaderWidget]:
    window = QMainWindow()
    widget = ShaderWidget()
    window.setCentralWidget(widget)
    window.resize(240, 180)
    window.move(60, 120)  # clear of trayer (top right)
    qtbot.addWidget(window)
    with qtbot.waitSignal(widget.frameSwapped, timeout=5000):
        window.show()
    qtbot.waitExposed(window)
    assert not widget.errors, "\n".join(widget.errors)
    return window, widget


def test_harness_environment_is_private(desktop_dir: Path) -> None:
    runtime = Path(os.environ["XDG_RUNTIME_DIR"])
    assert runtime.is_relative_to(desktop_dir)
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
    assert runtime.stat().st_uid == os.getuid()
    assert Path(os.environ["HOME"]).is_relative_to(desktop_dir)
    assert os.environ["DISPLAY"].startswith(":")
    assert os.environ["EXPECT_SECRET_SERVICE"] == "1"
    info = subprocess.run(["pactl", "info"], check=True, capture_output=True, text=True, timeout=10).stdout
    assert "Default Sink: vsink" in info
    assert "Default Source: vmic" in info


def test_opengl_shader_renders_with_llvmpipe(gl_window: tuple[QMainWindow, ShaderWidget]) -> None:
    _, widget = gl_window
    assert QSurfaceFormat.defaultFormat().majorVersion() == 3  # set by tests/conftest.py
    assert widget.painted >= 1
    info = widget.gl_info
    assert "llvmpipe" in info["renderer"], info
    assert int(info["major"]) >= 3, info
    assert info["profile"] == "CoreProfile", info
    image = widget.grabFramebuffer()
    w, h = image.width(), image.height()
    assert (w, h) == (widget.width(), widget.height())
    assert _pixel(image, w // 2, h // 2) == FILL.name(), info
    assert _pixel(image, 2, 2) == CLEAR.name()
    assert _pixel(image, w - 3, h - 3) == CLEAR.name()


def test_root_screenshot_shows_the_gl_colour(
    qtbot: QtBot, gl_window: tuple[QMainWindow, ShaderWidget], screenshot: Callable[[], QImage]
) -> None:
    _, widget = gl_window
    centre = widget.mapToGlobal(widget.rect().center())
    corner = widget.mapToGlobal(QPoint(2, 2))
    seen: list[str] = []

    def shows_gl() -> bool:  # the X server may lag the swap by a moment: poll
        image = screenshot()
        seen[:] = [_pixel(image, centre.x(), centre.y()), _pixel(image, corner.x(), corner.y())]
        return seen == [FILL.name(), CLEAR.name()]

    qtbot.waitUntil(shows_gl, timeout=5000)


def test_tray_menu_opens_on_right_click_and_action_triggers(
    qtbot: QtBot, x11: str, xdotool: Callable[..., None]
) -> None:
    assert QSystemTrayIcon.isSystemTrayAvailable(), "no tray host on the display (trayer)"
    pixmap = QPixmap(22, 22)
    pixmap.fill(QColor("#cc3333"))
    tray = QSystemTrayIcon(QIcon(pixmap))
    menu = QMenu()
    action = QAction("Harness check", menu)
    menu.addAction(action)
    tray.setContextMenu(menu)
    tray.show()
    try:
        qtbot.waitUntil(lambda: tray.geometry().width() > 0, timeout=5000)
        qtbot.wait(200)  # the XEmbed icon window is mapped into trayer asynchronously
        centre = tray.geometry().center()

        def menu_opens() -> bool:
            if not menu.isVisible():
                xdotool("mousemove", centre.x(), centre.y(), "click", "3")
                qtbot.wait(150)
            return menu.isVisible()

        qtbot.waitUntil(menu_opens, timeout=5000)
        target = menu.mapToGlobal(menu.actionGeometry(action).center())
        with qtbot.waitSignal(action.triggered, timeout=5000):
            xdotool("mousemove", target.x(), target.y(), "click", "1")
        qtbot.waitUntil(lambda: not menu.isVisible(), timeout=3000)
    finally:
        tray.hide()
        menu.hide()


# Writes raw s16le 16 kHz mono into the FIFO at real-time pace (20 ms chunks), as a
# microphone would deliver it. argv: RAW_FILE FIFO
PACED_FEED = """
import sys, time
data = open(sys.argv[1], "rb").read()
chunk = 640
with open(sys.argv[2], "wb", buffering=0) as fifo:
    t0 = time.monotonic()
    for i in range(0, len(data), chunk):
        fifo.write(data[i:i + chunk])
        delay = t0 + (i + chunk) / 32000 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
"""


def _settled(buffer: QBuffer, expected: int) -> Callable[[], bool]:
    """True once ``expected`` bytes arrived, or the size stopped growing for 300 ms."""
    last = [buffer.size(), time.monotonic()]

    def check() -> bool:
        size = buffer.size()
        if size != last[0]:
            last[:] = [size, time.monotonic()]
        return size >= expected or time.monotonic() - last[1] > 0.3

    return check


def test_qaudiosource_captures_speech_from_virtual_mic(
    qtbot: QtBot, qapp: object, vmic: Path, tmp_path: Path
) -> None:
    # lazy: QtMultimedia needs libpulse; a missing library fails this test, not the module
    from PySide6.QtMultimedia import QAudioFormat, QAudioSource, QMediaDevices

    for tool in ("espeak-ng", "sox"):
        assert shutil.which(tool), f"{tool} is not installed"
    wav, raw = tmp_path / "speech.wav", tmp_path / "speech.raw"
    subprocess.run(["espeak-ng", "-w", str(wav), "aether microphone check"], check=True, timeout=30)
    subprocess.run(
        ["sox", str(wav), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed", "-t", "raw", str(raw)],
        check=True,
        timeout=30,
    )
    fed = raw.read_bytes()
    assert len(fed) > 16000  # > 0.5 s of speech

    device = next((d for d in QMediaDevices.audioInputs() if bytes(d.id().data()) == b"vmic"), None)
    assert device is not None, [bytes(d.id().data()) for d in QMediaDevices.audioInputs()]
    assert bytes(QMediaDevices.defaultAudioInput().id().data()) == b"vmic"
    fmt = QAudioFormat()
    fmt.setSampleRate(16000)
    fmt.setChannelCount(1)
    fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
    assert device.isFormatSupported(fmt)

    source = QAudioSource(device, fmt)
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    source.start(buffer)
    feeder = subprocess.Popen([sys.executable, "-c", PACED_FEED, str(raw), str(vmic)])
    try:
        # keep the Qt event loop running while recording: a blocking wait loses audio
        qtbot.waitUntil(lambda: feeder.poll() is not None, timeout=len(fed) // 32 + 10_000)
        qtbot.waitUntil(_settled(buffer, len(fed)), timeout=3000)
    finally:
        source.stop()
        if feeder.poll() is None:
            feeder.kill()
        feeder.wait(5)
    assert feeder.returncode == 0
    got = buffer.data().data()
    assert 0.95 <= len(got) / len(fed) <= 1.05, (len(got), len(fed))
    samples = array.array("h", got)
    rms = math.sqrt(sum(s * s for s in samples) / len(samples))
    assert rms > 500, f"captured audio is (near) silent: rms={rms:.0f}"
