"""The persona surfaces: the avatar's look and name, the error banner, and the picker.

Persona events are published on a real bus and reach the widgets through the bridge,
as the persona service publishes them; the picker lists what a ``personas()`` callable
returns and hands the chosen id to ``choose_persona``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from desktop_support import in_desktop_env
from fake_conversation import FakeConversation
from keyring_support import key_file_runtime
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from aether_qt.avatar.factory import make_avatar
from aether_qt.avatar.view import AvatarView
from aether_qt.companion import gate_on_bus
from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.core.events import Payload, PersonaActivated, PersonaFailed, PersonaRecovered, PostureChanged
from aether_qt.engines.persona.registry import PersonaChoice
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.widgets.conversation.view import ConversationView
from aether_qt.widgets.main_window import MainWindow
from aether_qt.widgets.persona_picker import UNTRUSTED_MARK, PersonaPicker
from aether_qt.widgets.trust.banners import PERSONA_ERROR

AETHER_PALETTE = (
    ("primary", "#7fb7ff"),
    ("secondary", "#b69cff"),
    ("accent", "#2b3a55"),
    ("background", "#eef4ff"),
)
EMBER_PALETTE = (
    ("primary", "#e8743b"),
    ("secondary", "#8c2f1b"),
    ("accent", "#fff1d6"),
    ("background", "#2a1d1a"),
)
BROKEN_ERROR = "/home/u/.config/aether/personas/sage.yaml:7:3: unknown key 'wamth' <b>not bold</b>"


def activated(
    persona_id: str = "aether",
    name: str = "Aether",
    palette: tuple[tuple[str, str], ...] = AETHER_PALETTE,
    *,
    shape: str = "round",
    trusted: bool = True,
    tagline: str = "a calm local companion",
) -> PersonaActivated:
    return PersonaActivated(
        persona_id=persona_id,
        name=name,
        tagline=tagline,
        content_hash=f"sha256:{persona_id}",
        palette=palette,
        shape=shape,
        trusted=trusted,
        clamps=(),
    )


CHOICES = [
    PersonaChoice("aether", "Aether", "a calm local companion", trusted=True, ok=True, error="", active=True),
    PersonaChoice("ember", "Ember", "warm and quick", trusted=True, ok=True, error="", active=False),
    PersonaChoice("sage", "", "", trusted=True, ok=False, error=BROKEN_ERROR, active=False),
    PersonaChoice("card", "Captain Card", "from a card", trusted=False, ok=True, error="", active=False),
]


def publish(qtbot: QtBot, bus: EventBus, bridge: QtBusBridge, payload: Payload) -> None:
    """Publish on the real bus and wait until the bridge delivered it on the GUI thread."""
    with qtbot.waitSignal(
        bridge.sig_event_published, timeout=2000, check_params_cb=lambda env: env.payload == payload
    ):
        bus.publish(payload, source_layer="L6")


def face_centre_colour(avatar: AvatarView) -> str:
    image = avatar.grab().toImage()
    ratio = image.width() / avatar.width()
    centre = avatar.face_rect().center()
    return QColor(image.pixel(int(centre.x() * ratio), int(centre.y() * ratio))).name()


# ---------------------------------------------------------------- the window over a real runtime


@pytest.fixture
def runtime(home: Path) -> Iterator[PolicyRuntime]:
    with key_file_runtime(home) as rt:
        yield rt


@pytest.fixture
def chosen() -> list[str]:
    return []


@pytest.fixture
def window(
    qtbot: QtBot, runtime: PolicyRuntime, home: Path, bridge: QtBusBridge, chosen: list[str]
) -> Iterator[MainWindow]:
    made = make_window(
        qtbot, runtime, home, bus_bridge=bridge, personas=lambda: CHOICES, choose_persona=chosen.append
    )
    yield made
    made.shutdown()


def make_window(qtbot: QtBot, runtime: PolicyRuntime, home: Path, **kwargs: Any) -> MainWindow:
    settings = QSettings(str(home / "config" / "aether-qt.ini"), QSettings.Format.IniFormat)
    kwargs.setdefault("controls", gate_on_bus(runtime, EventBus()))  # policy events are not watched here
    made = MainWindow(runtime=runtime, settings=settings, confirm=lambda *_: True, **kwargs)
    qtbot.addWidget(made)
    made.resize(1120, 720)
    made.show()
    qtbot.waitExposed(made)
    return made


def picker_of(window: MainWindow) -> PersonaPicker:
    assert window.persona_picker is not None
    return window.persona_picker


def test_activation_repaints_the_avatar_in_the_new_primary_colour(
    qtbot: QtBot, bus: EventBus, bridge: QtBusBridge, window: MainWindow
) -> None:
    avatar = window.conversation_view.avatar
    publish(qtbot, bus, bridge, activated())
    assert face_centre_colour(avatar) == "#7fb7ff"
    assert avatar.name == "Aether"
    publish(
        qtbot, bus, bridge, activated("ember", "Ember", EMBER_PALETTE, shape="soft-square", tagline="warm")
    )
    assert face_centre_colour(avatar) == "#e8743b"
    assert (avatar.name, avatar.tagline) == ("Ember", "warm")
    assert avatar.accessibleName() == "Ember"


def test_palette_background_and_outline_are_painted(qtbot: QtBot) -> None:
    avatar = make_avatar()
    qtbot.addWidget(avatar)
    avatar.resize(400, 84)
    avatar.set_persona(activated("ember", "Ember", EMBER_PALETTE))
    image = avatar.grab().toImage()
    ratio = image.width() / avatar.width()
    face = avatar.face_rect()
    corner = QColor(image.pixel(int((avatar.width() - 6) * ratio), int(6 * ratio))).name()
    assert corner == "#2a1d1a"  # the card takes the background colour
    edge = {
        QColor(image.pixel(int(x * ratio), int(face.center().y() * ratio))).name()
        for x in range(int(face.left()), int(face.left()) + 4)
    }
    assert "#8c2f1b" in edge  # the outline is the secondary colour


@pytest.mark.parametrize("shape", ["round", "soft-square", "droplet"])
def test_each_shape_fills_its_centre_with_the_primary(qtbot: QtBot, shape: str) -> None:
    avatar = make_avatar()
    qtbot.addWidget(avatar)
    avatar.resize(400, 84)
    avatar.set_persona(activated(palette=EMBER_PALETTE, shape=shape))
    assert face_centre_colour(avatar) == "#e8743b"


def test_shapes_are_drawn_differently(qtbot: QtBot) -> None:
    avatar = make_avatar()
    qtbot.addWidget(avatar)
    avatar.resize(400, 84)
    faces = set()
    for shape in ("round", "soft-square", "droplet"):
        avatar.set_persona(activated(palette=EMBER_PALETTE, shape=shape))
        image = avatar.grab().toImage()
        rect = avatar.face_rect().toRect()
        faces.add(image.copy(rect).bits().tobytes())
    assert len(faces) == 3


def test_untrusted_persona_wears_a_badge(qtbot: QtBot) -> None:
    avatar = make_avatar()
    qtbot.addWidget(avatar)
    avatar.resize(400, 84)
    avatar.set_persona(activated(palette=EMBER_PALETTE))
    trusted = avatar.grab().toImage()
    avatar.set_persona(activated(palette=EMBER_PALETTE, trusted=False))
    untrusted = avatar.grab().toImage()
    rect = avatar.face_rect().toRect()
    assert trusted.copy(rect) != untrusted.copy(rect)
    assert "untrusted" in avatar.toolTip()
    assert "untrusted" in avatar.accessibleName()


def test_header_follows_the_persona_without_a_conversation(
    qtbot: QtBot, bus: EventBus, bridge: QtBusBridge
) -> None:
    view = ConversationView(conversation=None, bus_bridge=bridge)
    qtbot.addWidget(view)
    publish(qtbot, bus, bridge, activated("ember", "Ember", EMBER_PALETTE))
    assert view.avatar.name == "Ember"
    assert view.avatar.caption == "Conversation unavailable"


# ---------------------------------------------------------------- the error banner


def test_broken_persona_file_shows_a_banner_until_it_recovers(
    qtbot: QtBot, bus: EventBus, bridge: QtBusBridge, window: MainWindow
) -> None:
    publish(qtbot, bus, bridge, activated())
    failed = PersonaFailed(path="/tmp/personas/aether.yaml", line=12, column=5, reason="unknown key 'wamth'")
    publish(qtbot, bus, bridge, failed)
    banner = window.banners.banner(PERSONA_ERROR)
    assert banner is not None
    qtbot.waitUntil(banner.isVisible, timeout=2000)  # the layout shows a new child on the next loop
    text = banner.message.text()
    assert "/tmp/personas/aether.yaml:12:5: unknown key 'wamth'" in text
    assert text.startswith("Persona file broken:") and text.endswith("keeping Aether")
    assert window.banners.flags() == ["keys_on_disk", PERSONA_ERROR]
    publish(qtbot, bus, bridge, PersonaRecovered(persona_id="aether"))
    assert window.banners.banner(PERSONA_ERROR) is None
    assert window.banners.flags() == ["keys_on_disk"]


def test_activating_the_same_persona_again_clears_the_banner(
    qtbot: QtBot, bus: EventBus, bridge: QtBusBridge, window: MainWindow
) -> None:
    publish(qtbot, bus, bridge, activated())
    publish(qtbot, bus, bridge, PersonaFailed(path="aether.yaml", line=1, column=1, reason="bad"))
    publish(qtbot, bus, bridge, PersonaRecovered(persona_id="someone-else"))
    assert PERSONA_ERROR in window.banners.flags()
    publish(qtbot, bus, bridge, activated())
    assert PERSONA_ERROR not in window.banners.flags()


def test_persona_error_ranks_below_voice_and_above_no_opengl(
    qtbot: QtBot, bus: EventBus, bridge: QtBusBridge, window: MainWindow
) -> None:
    publish(qtbot, bus, bridge, PostureChanged(flag="no_opengl", active=True, message="software avatar"))
    publish(qtbot, bus, bridge, PersonaFailed(path="a.yaml", line=2, column=3, reason="bad"))
    publish(qtbot, bus, bridge, PostureChanged(flag="voice_unavailable", active=True, message="text only"))
    publish(qtbot, bus, bridge, PostureChanged(flag="microphone_live", active=True, message="listening"))
    flags = window.banners.flags()
    assert flags == ["keys_on_disk", "microphone_live", "voice_unavailable", PERSONA_ERROR, "no_opengl"]
    banner = window.banners.banner(PERSONA_ERROR)
    assert banner is not None
    assert banner.message.text().endswith("keeping the last good persona")  # none active yet


def test_banner_shows_markup_in_the_reason_as_plain_text(
    qtbot: QtBot, bus: EventBus, bridge: QtBusBridge, window: MainWindow
) -> None:
    publish(qtbot, bus, bridge, PersonaFailed(path="a.yaml", line=2, column=3, reason="<b>bold</b>"))
    banner = window.banners.banner(PERSONA_ERROR)
    assert banner is not None
    assert banner.message.textFormat() == Qt.TextFormat.PlainText
    assert "<b>bold</b>" in banner.message.text()


# ---------------------------------------------------------------- the picker


def test_picker_lists_the_personas_with_broken_and_untrusted_marked(window: MainWindow) -> None:
    picker = picker_of(window)
    assert picker.isVisible() and picker.isEnabled()
    texts = [picker.itemText(row) for row in range(picker.count())]
    assert texts[0] == "Aether — a calm local companion"
    assert texts[1] == "Ember — warm and quick"
    assert texts[2].startswith("sage")
    assert texts[3] == f"Captain Card — from a card {UNTRUSTED_MARK}"
    assert picker.currentIndex() == 0  # the active one
    assert [picker.is_enabled_at(row) for row in range(4)] == [True, True, False, True]
    tooltip = str(picker.itemData(2, Qt.ItemDataRole.ToolTipRole))
    assert "sage.yaml:7:3: unknown key" in tooltip
    assert "&lt;b&gt;not bold&lt;/b&gt;" in tooltip  # shown as text, never as markup


def test_choosing_a_persona_asks_for_it_and_waits_for_the_boundary(
    qtbot: QtBot, bus: EventBus, bridge: QtBusBridge, window: MainWindow, chosen: list[str]
) -> None:
    picker = picker_of(window)
    picker.activated.emit(1)
    assert chosen == ["ember"]
    assert window.persona_status.isVisible()
    assert "next turn boundary" in window.persona_status.text()
    assert "Ember" in window.persona_status.text()
    picker.activated.emit(2)  # the broken file cannot be chosen
    picker.activated.emit(1)  # already pending: asked once
    assert chosen == ["ember"]
    publish(qtbot, bus, bridge, activated("ember", "Ember", EMBER_PALETTE))
    assert not window.persona_status.isVisible()
    assert picker.currentIndex() == 1
    assert window.conversation_view.avatar.name == "Ember"


def test_choosing_by_mouse_calls_choose_persona(qtbot: QtBot, window: MainWindow, chosen: list[str]) -> None:
    picker = picker_of(window)
    picker.showPopup()
    view = picker.view()
    qtbot.waitUntil(view.isVisible, timeout=2000)
    rect = view.visualRect(view.model().index(3, 0))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert chosen == ["card"]


def test_picker_rereads_the_list_on_persona_events(
    qtbot: QtBot, runtime: PolicyRuntime, home: Path, bus: EventBus, bridge: QtBusBridge
) -> None:
    listed = [CHOICES[:2]]
    made = make_window(
        qtbot, runtime, home, bus_bridge=bridge, personas=lambda: listed[0], choose_persona=print
    )
    try:
        picker = picker_of(made)
        assert picker.count() == 2
        listed[0] = CHOICES
        publish(qtbot, bus, bridge, PersonaFailed(path="sage.yaml", line=7, column=3, reason="bad"))
        assert picker.count() == 4
        listed[0] = CHOICES[:3]
        publish(qtbot, bus, bridge, activated())
        assert picker.count() == 3
    finally:
        made.shutdown()


def test_a_failed_switch_is_reported_and_the_active_one_stays_selected(
    qtbot: QtBot, runtime: PolicyRuntime, home: Path, bridge: QtBusBridge
) -> None:
    def refuse(persona_id: str) -> None:
        raise ValueError(f"no persona {persona_id!r}")

    made = make_window(
        qtbot, runtime, home, bus_bridge=bridge, personas=lambda: CHOICES, choose_persona=refuse
    )
    try:
        picker = picker_of(made)
        picker.setCurrentIndex(1)
        picker.activated.emit(1)
        assert picker.currentIndex() == 0
        assert not made.persona_status.isVisible()
        assert "Could not switch to Ember" in made.statusBar().currentMessage()
    finally:
        made.shutdown()


def test_without_persona_collaborators_there_is_no_picker_or_a_disabled_one(
    qtbot: QtBot, runtime: PolicyRuntime, home: Path
) -> None:
    plain = make_window(qtbot, runtime, home)
    read_only = make_window(qtbot, runtime, home, personas=lambda: CHOICES)
    try:
        assert plain.persona_picker is None
        picker = picker_of(read_only)
        assert not picker.isEnabled()
        assert "not available" in picker.toolTip()
    finally:
        plain.shutdown()
        read_only.shutdown()


def test_screenshot_with_a_persona_palette_and_the_picker(
    qtbot: QtBot,
    runtime: PolicyRuntime,
    home: Path,
    bus: EventBus,
    bridge: QtBusBridge,
    fake: FakeConversation,
    tmp_path: Path,
) -> None:
    made = make_window(
        qtbot,
        runtime,
        home,
        conversation=fake,
        bus_bridge=bridge,
        personas=lambda: CHOICES,
        choose_persona=print,
    )
    try:
        palette = activated("ember", "Ember", EMBER_PALETTE, shape="droplet", tagline="warm and quick")
        publish(qtbot, bus, bridge, palette)
        broken = PersonaFailed(
            path="~/.config/aether/personas/ember.yaml", line=14, column=7, reason="unknown key 'wamth'"
        )
        publish(qtbot, bus, bridge, broken)
        fake.tokens = ("Hi! I'm Ember now: ", "same rules, ", "warmer colours.")
        view = made.conversation_view
        qtbot.keyClicks(view.input, "hello")
        qtbot.keyClick(view.input, Qt.Key.Key_Return)
        qtbot.waitUntil(
            lambda: "turn_1" in view.transcript.bubbles and view.transcript.bubbles["turn_1"].ended
        )
        qtbot.wait(150)  # layout and the coalesced repaint
        image = made.grab().toImage()
        target = Path("docs/screenshots") if in_desktop_env() else tmp_path
        target.mkdir(parents=True, exist_ok=True)
        assert image.save(str(target / "personas.png"))
        avatar = view.avatar
        ratio = image.width() / made.width()
        centre = avatar.mapTo(made, avatar.face_rect().center().toPoint())
        assert QColor(image.pixel(int(centre.x() * ratio), int(centre.y() * ratio))).name() == "#e8743b"
        picker = picker_of(made)
        middle = picker.mapTo(made, QPoint(picker.width() // 2, picker.height() // 2))
        assert picker.isVisible() and made.rect().contains(middle)
    finally:
        made.shutdown()
