"""The OpenGL avatar on the real X server with Mesa: pixels from the framebuffer, not just no crash."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from avatar_support import (
    EMBER_PALETTE,
    centre_colour,
    colours,
    frame,
    mouth_region,
    near,
    persona,
)
from PySide6.QtWidgets import QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from aether_qt.avatar.factory import make_avatar, opengl_available
from aether_qt.avatar.gl_avatar import GlAvatar
from aether_qt.avatar.view import AvatarView
from aether_qt.engines.presence.frame import Behaviour


@pytest.fixture
def window(qtbot: QtBot, x11: str) -> Iterator[tuple[QWidget, AvatarView]]:
    host = QWidget()
    qtbot.addWidget(host)
    avatar = make_avatar()
    QVBoxLayout(host).addWidget(avatar)
    host.resize(420, 120)
    host.show()
    qtbot.waitExposed(host)
    yield host, avatar


def framebuffer(qtbot: QtBot, avatar: AvatarView) -> AvatarView:
    qtbot.wait(30)
    return avatar


def grab_face(avatar: AvatarView):  # type: ignore[no-untyped-def]
    canvas = avatar.canvas
    assert isinstance(canvas, GlAvatar)
    image = canvas.grabFramebuffer()
    rect = canvas.face_rect().toRect()
    ratio = image.width() / canvas.width()
    return image.copy(
        int(rect.x() * ratio), int(rect.y() * ratio), int(rect.width() * ratio), int(rect.height() * ratio)
    )


def test_the_factory_picks_opengl_on_the_x_server(window: tuple[QWidget, AvatarView]) -> None:
    _, avatar = window
    assert opengl_available()
    assert avatar.uses_opengl and isinstance(avatar.canvas, GlAvatar)
    assert avatar.canvas.error == ""


def test_framebuffer_holds_the_persona_palette(qtbot: QtBot, window: tuple[QWidget, AvatarView]) -> None:
    _, avatar = window
    avatar.set_persona(persona())
    face = grab_face(avatar)
    found = colours(face)
    assert {"#7fb7ff", "#b69cff", "#2b3a55"} <= found  # primary fill, secondary outline, accent eyes
    assert centre_colour(avatar, avatar.grab().toImage()) == "#7fb7ff"


def test_the_mouth_follows_mouth_open(qtbot: QtBot, window: tuple[QWidget, AvatarView]) -> None:
    _, avatar = window
    avatar.set_persona(persona())
    avatar.show_frame(frame(Behaviour.SPEAKING, mouth_open=0.0))
    closed = mouth_region(grab_face(avatar))
    avatar.show_frame(frame(Behaviour.SPEAKING, seq=2, mouth_open=1.0))
    wide = mouth_region(grab_face(avatar))
    assert closed != wide
    accent = sum(
        1
        for c in [wide.pixelColor(x, y).name() for y in range(wide.height()) for x in range(wide.width())]
        if c == "#2b3a55"
    )
    accent_closed = sum(
        1
        for c in [
            closed.pixelColor(x, y).name() for y in range(closed.height()) for x in range(closed.width())
        ]
        if c == "#2b3a55"
    )
    assert accent > 3 * accent_closed  # an open mouth shows much more of it


def test_listening_and_thinking_look_different(qtbot: QtBot, window: tuple[QWidget, AvatarView]) -> None:
    _, avatar = window
    avatar.set_persona(persona())
    avatar.show_frame(frame(Behaviour.LISTENING))
    listening = avatar.canvas.grabFramebuffer()  # type: ignore[union-attr]
    avatar.show_frame(frame(Behaviour.THINKING, seq=2))
    thinking = avatar.canvas.grabFramebuffer()  # type: ignore[union-attr]
    assert listening != thinking
    assert "#43a047" not in colours(thinking)


def test_switching_persona_changes_the_colours(qtbot: QtBot, window: tuple[QWidget, AvatarView]) -> None:
    _, avatar = window
    avatar.set_persona(persona())
    before = colours(grab_face(avatar))
    avatar.set_persona(persona("ember", EMBER_PALETTE, shape="droplet"))
    after = colours(grab_face(avatar))
    assert "#e8743b" in after and "#e8743b" not in before
    assert "#7fb7ff" in before and "#7fb7ff" not in after


def test_awaiting_approval_and_degraded_have_their_marks(
    qtbot: QtBot, window: tuple[QWidget, AvatarView]
) -> None:
    _, avatar = window
    avatar.set_persona(persona())
    avatar.show_frame(frame(Behaviour.AWAITING_APPROVAL))
    approval = colours(avatar.canvas.grabFramebuffer())  # type: ignore[union-attr]
    assert near(approval, "#ffb300", 60)  # the amber ring
    avatar.set_state("Unavailable", "Offline")
    degraded = colours(grab_face(avatar))
    assert near(degraded, "#646b78", 3)  # the grey offline badge


def test_a_hidden_window_never_paints(qtbot: QtBot, window: tuple[QWidget, AvatarView]) -> None:
    host, avatar = window
    canvas = avatar.canvas
    with qtbot.waitSignal(avatar.sig_visibility_changed, timeout=2000) as hidden:
        host.hide()
    assert hidden.args == [False]
    painted = canvas.paint_count
    for seq in range(30):
        avatar.show_frame(frame(Behaviour.SPEAKING, seq=seq, mouth_open=(seq % 10) / 10))
        qtbot.wait(5)
    qtbot.wait(100)
    assert canvas.paint_count == painted
    with qtbot.waitSignal(avatar.sig_visibility_changed, timeout=2000) as shown:
        host.show()
    assert shown.args == [True]
    qtbot.waitUntil(lambda: canvas.paint_count > painted, timeout=2000)


def test_a_minimised_window_stops_painting(qtbot: QtBot, window: tuple[QWidget, AvatarView]) -> None:
    host, avatar = window
    with qtbot.waitSignal(avatar.sig_visibility_changed, timeout=2000) as minimised:
        host.showMinimized()
    assert minimised.args == [False]
    qtbot.wait(100)  # a paint queued before minimising may still land
    painted = avatar.canvas.paint_count
    for seq in range(10):
        avatar.show_frame(frame(Behaviour.LISTENING, seq=seq))
    qtbot.wait(100)
    assert avatar.canvas.paint_count == painted


def test_frames_are_drawn_while_visible(qtbot: QtBot, window: tuple[QWidget, AvatarView]) -> None:
    _, avatar = window
    painted = avatar.canvas.paint_count
    for seq in range(5):
        avatar.show_frame(frame(Behaviour.LISTENING, seq=seq, blink=seq / 4))
        qtbot.wait(40)
    assert avatar.canvas.paint_count >= painted + 3
