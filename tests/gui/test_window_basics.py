"""The window basics: names follow the persona, nothing is clipped at the smallest size, colour emoji.

A real bus and the scripted conversation; the main window over a real policy runtime
(keys in the opt-in file). Screenshots go to the test's temporary folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_conversation import FakeConversation
from keyring_support import key_file_runtime
from PySide6.QtCore import QPoint, QSettings
from PySide6.QtGui import QColor, QFont, QImage
from PySide6.QtWidgets import QLabel, QWidget
from pytestqt.qtbot import QtBot

from aether_qt.companion import gate_on_bus
from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.core.events import PersonaActivated
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.widgets.main_window import MainWindow
from aether_qt.widgets.quick_talk import QuickTalk
from aether_qt.widgets.startup.shell import StartWindow
from aether_qt.widgets.tray import STATE_TIPS
from aether_qt.widgets.window.state import DEFAULT_SIZE, first_size

TINY = (200, 150)


def pip(name: str = "Pip") -> PersonaActivated:
    return PersonaActivated(
        persona_id=name.lower(),
        name=name,
        tagline="a small helper",
        content_hash=f"sha256:{name.lower()}",
        palette=(("primary", "#3f7fbf"),),
        shape="round",
        trusted=True,
        clamps=(),
    )


@pytest.fixture
def runtime(home: Path) -> Iterator[PolicyRuntime]:
    with key_file_runtime(home) as rt:
        yield rt


@pytest.fixture
def window(
    qtbot: QtBot,
    runtime: PolicyRuntime,
    bus: EventBus,
    bridge: QtBusBridge,
    fake: FakeConversation,
    home: Path,
) -> Iterator[MainWindow]:
    settings = QSettings(str(home / "config" / "aether-qt.ini"), QSettings.Format.IniFormat)
    made = MainWindow(
        runtime=runtime,
        controls=gate_on_bus(runtime, bus),
        settings=settings,
        confirm=lambda *_: True,
        conversation=fake,
        bus_bridge=bridge,
    )
    qtbot.addWidget(made)
    yield made
    made.shutdown()


@pytest.fixture
def quick(qtbot: QtBot, fake: FakeConversation, bridge: QtBusBridge) -> Iterator[QuickTalk]:
    widget = QuickTalk(conversation=fake, bus_bridge=bridge)
    qtbot.addWidget(widget)
    widget.show_near(None)
    qtbot.waitExposed(widget)
    yield widget
    widget.flush_timer.stop()


def visible_texts(widget: QWidget) -> list[str]:
    return [label.text() for label in widget.findChildren(QLabel) if label.isVisibleTo(widget)]


def test_the_input_and_quick_talk_follow_the_persona_name(
    qtbot: QtBot, window: MainWindow, quick: QuickTalk, bus: EventBus
) -> None:
    view = window.conversation_view
    assert view.input.placeholderText() == "Message Aether…"
    bus.publish(pip(), source_layer="L6")
    qtbot.waitUntil(lambda: view.input.placeholderText() == "Message Pip…", timeout=2000)
    assert "Pip" in view.transcript.empty.text() and "Aether" not in view.transcript.empty.text()
    qtbot.waitUntil(lambda: quick.windowTitle() == "Pip · quick talk", timeout=2000)
    assert "Pip · quick talk" in visible_texts(quick)
    assert not any("Aether" in text for text in visible_texts(quick))
    assert "Pip" in quick.input.placeholderText()
    bus.publish(pip("Aether"), source_layer="L6")  # and back
    qtbot.waitUntil(lambda: quick.windowTitle() == "Aether · quick talk", timeout=2000)
    assert view.input.placeholderText() == "Message Aether…"


def inside(child: QWidget, window: QWidget) -> bool:
    top_left = child.mapTo(window, QPoint(0, 0))
    return (
        top_left.x() >= 0
        and top_left.y() >= 0
        and top_left.x() + child.width() <= window.width()
        and top_left.y() + child.height() <= window.height()
    )


def test_the_main_window_cannot_be_made_too_small_to_use(
    qtbot: QtBot, window: MainWindow, tmp_path: Path
) -> None:
    window.show()
    qtbot.waitExposed(window)
    window.set_trust_centre_visible(True)  # the side panel open too
    window.resize(*TINY)
    qtbot.wait(150)
    assert window.width() > TINY[0] and window.height() > TINY[1]
    assert window.width() >= window.minimumWidth() >= 480
    assert window.height() >= window.minimumHeight() >= 360
    view = window.conversation_view
    for part in (
        view.input,
        view.send_button,
        view.avatar,
        window.panel_button,
        window.trust_centre.tabs.tabBar(),
    ):
        assert part.isVisible() and inside(part, window), f"{part.objectName()} is clipped at {window.size()}"
    assert window.grab().save(str(tmp_path / "smallest.png"))


def test_quick_talk_cannot_be_made_too_small_to_use(qtbot: QtBot, quick: QuickTalk) -> None:
    quick.resize(*TINY)
    qtbot.wait(100)
    assert quick.width() > TINY[0] and quick.height() > TINY[1]
    assert quick.minimumWidth() >= 300 and quick.minimumHeight() >= quick.minimumSizeHint().height()
    for part in (quick.input, quick.reply, quick.title, quick.state):
        assert inside(part, quick), f"{part.objectName()} is clipped at {quick.size()}"


def test_the_start_window_cannot_be_made_too_small_to_read(qtbot: QtBot, home: Path) -> None:
    settings = QSettings(str(home / "aether-qt.ini"), QSettings.Format.IniFormat)
    start = StartWindow(settings=settings)
    qtbot.addWidget(start)
    start.show()
    qtbot.waitExposed(start)
    start.resize(*TINY)
    qtbot.wait(100)
    assert start.width() > TINY[0] and start.height() > TINY[1]
    for label in start.findChildren(QLabel):
        assert inside(label, start) and label.width() >= min(label.sizeHint().width(), start.width() - 64)


def colourful_pixels(image: QImage) -> int:
    """Pixels whose colour is far from grey (a text font draws in one colour, a box in black)."""
    count = 0
    for y in range(image.height()):
        for x in range(image.width()):
            colour = QColor(image.pixel(x, y))
            if colour.hsvSaturation() > 80 and colour.value() > 60:
                count += 1
    return count


def test_an_emoji_is_drawn_in_colour_not_as_an_empty_box(qtbot: QtBot, tmp_path: Path) -> None:
    label = QLabel("😀🎉")
    label.setFont(QFont(label.font().family(), 28))
    label.setStyleSheet("color: black; background: white;")
    qtbot.addWidget(label)
    label.show()
    qtbot.waitExposed(label)
    image = label.grab().toImage()
    assert image.save(str(tmp_path / "emoji.png"))
    assert colourful_pixels(image) > 50, "the emoji has no colour: no colour emoji font is installed"


def test_a_first_start_fits_the_screen_at_any_scale() -> None:
    assert first_size((1920, 1040)) == DEFAULT_SIZE
    assert first_size((640, 488)) == (576, 439)  # 1280x1024 at 2x: the window stays on screen


def test_the_tray_says_what_a_person_would() -> None:
    assert STATE_TIPS["idle"] == "Aether: ready"
    assert STATE_TIPS["attention"] == "Aether: waiting for your OK"
    for tip in STATE_TIPS.values():
        assert "side effect" not in tip and "policy" not in tip and "idle" not in tip, tip
