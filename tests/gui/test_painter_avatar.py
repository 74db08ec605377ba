"""The QPainter avatar (no OpenGL): picked on the offscreen platform, same looks, no crash.

The checks run on ``grab()`` images; they use the painter canvas on every platform, and
the factory's choice is checked where there is no OpenGL.
"""

from __future__ import annotations

import pytest
from avatar_support import (
    EMBER_PALETTE,
    centre_colour,
    colours,
    face_image,
    frame,
    mouth_region,
    near,
    persona,
)
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from aether_qt.avatar.factory import make_avatar, opengl_available
from aether_qt.avatar.painter_avatar import PainterAvatar
from aether_qt.avatar.view import AvatarView
from aether_qt.engines.presence.frame import Behaviour


@pytest.fixture
def avatar(qtbot: QtBot) -> AvatarView:
    view = make_avatar(opengl=False)
    qtbot.addWidget(view)
    view.resize(400, 84)
    view.set_persona(persona())
    return view


def test_without_opengl_the_factory_picks_the_painter(qtbot: QtBot) -> None:
    if QGuiApplication.platformName() != "offscreen":
        pytest.skip("the offscreen platform is the one without OpenGL")
    assert not opengl_available()
    view = make_avatar()
    qtbot.addWidget(view)
    assert isinstance(view.canvas, PainterAvatar) and not view.uses_opengl
    small = make_avatar(small=True)
    qtbot.addWidget(small)
    assert isinstance(small.canvas, PainterAvatar) and not small.words


def test_the_palette_is_drawn(avatar: AvatarView) -> None:
    image = avatar.grab().toImage()
    assert {"#7fb7ff", "#b69cff", "#2b3a55"} <= colours(face_image(avatar, image))
    assert centre_colour(avatar, image) == "#7fb7ff"


def test_the_mouth_follows_mouth_open(avatar: AvatarView) -> None:
    avatar.show_frame(frame(Behaviour.SPEAKING, mouth_open=0.0))
    closed = mouth_region(face_image(avatar, avatar.grab().toImage()))
    avatar.show_frame(frame(Behaviour.SPEAKING, seq=2, mouth_open=1.0))
    wide = mouth_region(face_image(avatar, avatar.grab().toImage()))
    assert closed != wide


def test_listening_and_thinking_look_different(avatar: AvatarView) -> None:
    avatar.show_frame(frame(Behaviour.LISTENING))
    listening = face_image(avatar, avatar.grab().toImage())
    avatar.show_frame(frame(Behaviour.THINKING, seq=2))
    thinking = face_image(avatar, avatar.grab().toImage())
    assert listening != thinking


def test_switching_persona_changes_the_colours(avatar: AvatarView) -> None:
    before = colours(face_image(avatar, avatar.grab().toImage()))
    avatar.set_persona(persona("ember", EMBER_PALETTE, shape="droplet"))
    after = colours(face_image(avatar, avatar.grab().toImage()))
    assert "#e8743b" in after and "#e8743b" not in before


def test_approval_ring_and_offline_badge(avatar: AvatarView) -> None:
    avatar.show_frame(frame(Behaviour.AWAITING_APPROVAL))
    assert near(colours(avatar.grab().toImage()), "#ffb300", 60)
    avatar.set_state("Unavailable", "Offline")
    assert near(colours(face_image(avatar, avatar.grab().toImage())), "#646b78", 3)
    assert avatar.caption == "Offline"


def test_a_hidden_window_never_paints(qtbot: QtBot) -> None:
    host = QWidget()
    qtbot.addWidget(host)
    view = make_avatar(opengl=False)
    QVBoxLayout(host).addWidget(view)
    host.show()
    qtbot.waitExposed(host)
    qtbot.waitUntil(lambda: view.canvas.paint_count > 0)
    with qtbot.waitSignal(view.sig_visibility_changed, timeout=2000) as hidden:
        host.hide()
    assert hidden.args == [False]
    painted = view.canvas.paint_count
    for seq in range(30):
        view.show_frame(frame(Behaviour.SPEAKING, seq=seq, mouth_open=(seq % 10) / 10))
    qtbot.wait(100)
    assert view.canvas.paint_count == painted
    assert view.frames_skipped >= 30
    host.show()
    qtbot.waitUntil(lambda: view.canvas.paint_count > painted, timeout=2000)


def test_every_state_and_shape_paints_without_error(avatar: AvatarView) -> None:
    for shape in ("round", "soft-square", "droplet", "unknown"):
        avatar.set_persona(persona(palette=EMBER_PALETTE, shape=shape, trusted=shape != "round"))
        for behaviour in Behaviour:
            avatar.show_frame(frame(behaviour, blink=1.0, head_tilt=0.3, breath=1.0))
            assert not avatar.grab().toImage().isNull()
    avatar.set_state("NoSuchState")
    assert avatar.caption == "NoSuchState"
