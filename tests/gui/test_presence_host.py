"""Presence in the app: the worker on its thread drives the main window's avatar."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from aether_qt.avatar.factory import make_avatar
from aether_qt.avatar.view import AvatarView
from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.core.events import TurnStateChanged
from aether_qt.engines.persona.registry import MINIMUM_TRUST
from aether_qt.engines.presence.frame import BehaviorFrame, Behaviour
from aether_qt.services.presence.host import PresenceHost


@pytest.fixture
def driven(
    qtbot: QtBot, bus: EventBus, bridge: QtBusBridge
) -> Iterator[tuple[PresenceHost, AvatarView, QWidget]]:
    holder = QWidget()
    qtbot.addWidget(holder)
    avatar = make_avatar(holder)
    holder.resize(200, 200)
    holder.show()
    qtbot.waitExposed(holder)
    host = PresenceHost(visual=MINIMUM_TRUST.visual, bridge=bridge)
    host.drive(avatar)
    host.start()
    try:
        yield host, avatar, holder
    finally:
        host.stop()


def test_frames_follow_the_turn_state(
    qtbot: QtBot, bus: EventBus, driven: tuple[PresenceHost, AvatarView, QWidget]
) -> None:
    _, avatar, _ = driven
    qtbot.waitUntil(lambda: avatar.live, timeout=3_000)
    bus.publish(TurnStateChanged("t1", "Thinking", 1.0), source_layer="L1")
    qtbot.waitUntil(lambda: avatar.frame.behaviour is Behaviour.THINKING, timeout=1_000)
    bus.publish(TurnStateChanged("t1", "Listening", 2.0), source_layer="L1")
    qtbot.waitUntil(lambda: avatar.frame.behaviour is Behaviour.LISTENING, timeout=1_000)


def test_a_hidden_avatar_gets_no_frames(
    qtbot: QtBot, driven: tuple[PresenceHost, AvatarView, QWidget]
) -> None:
    _, avatar, holder = driven
    qtbot.waitUntil(lambda: avatar.live, timeout=3_000)
    holder.hide()
    qtbot.wait(200)  # frames already queued may still arrive
    last: BehaviorFrame = avatar.frame
    qtbot.wait(500)
    assert avatar.frame.seq == last.seq, "the worker pauses while the avatar cannot be seen"
    holder.show()
    qtbot.waitExposed(holder)
    qtbot.waitUntil(lambda: avatar.frame.seq > last.seq, timeout=2_000)
