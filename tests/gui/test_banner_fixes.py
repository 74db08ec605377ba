"""Every banner that names a problem carries the action that fixes or explains it.

Real runtimes in the states that raise each banner (keys in a file, no keys at all, a
rolled-back audit log, a paused gate); the bus conditions (voice unavailable, persona
error, no OpenGL) are published on a real bus. Each action is clicked like a user would;
what it does is checked: the signal the app connects to its settings or setup assistant,
the tab it opens, the explanation it shows, the audited acknowledgement of a lost log.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from keyring_support import no_keyring
from PySide6.QtCore import QSettings
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from aether_qt.companion import gate_on_bus
from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.core.events import PersonaFailed, PostureChanged, VoiceStateChanged
from aether_qt.core.paths import resolve_paths
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.widgets.main_window import MainWindow
from aether_qt.widgets.trust.banners import (
    ACKNOWLEDGE,
    COPY_PATH,
    EXPLAIN,
    RESUME,
    SET_UP_KEYS,
    SHOW_ERROR,
    VERIFY_AUDIT,
    VOICE_SETTINGS,
    Banner,
)
from aether_qt.widgets.window.banner_fixes import NOTHING_CONNECTED, OPENGL_TEXT

Shown = list[tuple[str, str]]


@pytest.fixture
def keyless() -> Iterator[None]:
    with no_keyring():
        yield


def open_runtime(home: Path, *, key_file: bool = True) -> PolicyRuntime:
    return PolicyRuntime.open(resolve_paths(home), allow_key_file=key_file)


@contextmanager
def opened(
    qtbot: QtBot, home: Path, shown: Shown, *, key_file: bool = True, **kwargs: Any
) -> Iterator[tuple[PolicyRuntime, MainWindow]]:
    """A runtime over ``home`` and a window over it; the window stops before the runtime closes."""
    runtime = open_runtime(home, key_file=key_file)
    try:
        window = make_window(qtbot, runtime, home, shown, **kwargs)
        try:
            yield runtime, window
        finally:
            window.shutdown()
    finally:
        runtime.close()


def make_window(qtbot: QtBot, runtime: PolicyRuntime, home: Path, shown: Shown, **kwargs: Any) -> MainWindow:
    settings = QSettings(str(home / "aether-qt.ini"), QSettings.Format.IniFormat)
    window = MainWindow(
        runtime=runtime,
        controls=gate_on_bus(runtime, EventBus()),
        settings=settings,
        confirm=lambda *_: True,
        inform=lambda _parent, title, text: shown.append((title, text)),
        **kwargs,
    )
    qtbot.addWidget(window)
    window.show()
    return window


def banner(window: MainWindow, flag: str) -> Banner:
    found = window.banners.banner(flag)
    assert found is not None, f"no {flag} banner in {window.banners.flags()}"
    return found


def test_keys_on_disk_offers_a_keyring_through_the_setup_assistant(
    qtbot: QtBot, home: Path, keyless: None
) -> None:
    shown: Shown = []
    with opened(qtbot, home, shown) as (_, window):
        button = banner(window, "keys_on_disk").buttons[SET_UP_KEYS]
        assert button.text() == "Set up a keyring…"
        assert not button.isEnabled() and button.toolTip() == NOTHING_CONNECTED  # nothing listens yet
        asked: list[str] = []
        window.sig_onboarding_requested.connect(lambda: asked.append("setup"))
        window.refresh()
        banner(window, "keys_on_disk").buttons[SET_UP_KEYS].click()
        assert asked == ["setup"]


def test_locked_data_explains_what_to_do(qtbot: QtBot, home: Path, keyless: None) -> None:
    shown: Shown = []
    with opened(qtbot, home, shown, key_file=False) as (_, window):  # no keyring, no key file: locked
        assert window.banners.flags() == ["data_locked"]
        banner(window, "data_locked").buttons[EXPLAIN].click()
        assert shown[-1][0] == "Your data is locked" and "Nothing has been changed" in shown[-1][1]


def roll_back_the_log(home: Path, tmp_path: Path) -> None:
    """Restore an older copy of the audit log after a later session moved its anchor on."""
    open_runtime(home).close()
    shutil.copy(home / "data" / "audit.db", tmp_path / "old.db")
    open_runtime(home).close()
    shutil.copy(tmp_path / "old.db", home / "data" / "audit.db")
    for suffix in ("-wal", "-shm"):
        (home / "data" / f"audit.db{suffix}").unlink(missing_ok=True)


def test_a_rolled_back_log_is_verified_explained_and_acknowledged_through_the_audited_path(
    qtbot: QtBot, home: Path, keyless: None, tmp_path: Path
) -> None:
    roll_back_the_log(home, tmp_path)
    shown: Shown = []
    with opened(qtbot, home, shown) as (_, window):
        broken = banner(window, "audit_broken")
        assert [b.text() for b in broken.buttons.values()] == ["Verify…", "Acknowledge…", "What to do…"]
        broken.buttons[EXPLAIN].click()
        assert shown[-1][0] == "The audit log" and "aether audit acknowledge" in shown[-1][1]
        banner(window, "audit_broken").buttons[VERIFY_AUDIT].click()
        centre = window.trust_centre
        assert centre.isVisible() and centre.currentWidget() is centre.audit
        qtbot.waitUntil(centre.audit.verify_button.isEnabled, timeout=10_000)
        banner(window, "audit_broken").buttons[ACKNOWLEDGE].click()
        assert shown[-1][0] == "The audit log"
        assert "Acknowledged" in shown[-1][1] and "start it again" in shown[-1][1]
    again = open_runtime(home)  # the restart the message asks for
    try:
        assert "audit_broken" not in [f.flag for f in again.posture()]
        assert again.audit is not None
        assert "audit_epoch" in [row.decision for row in again.audit.rows()]
    finally:
        again.close()


def test_acknowledge_is_disabled_when_the_log_is_not_lost(qtbot: QtBot, home: Path, keyless: None) -> None:
    shown: Shown = []
    with opened(qtbot, home, shown) as (_, window):
        window.banners.set_condition("audit_broken", "The audit log could not be written.")  # not a lost log
        window.refresh()
        button = banner(window, "audit_broken").buttons[ACKNOWLEDGE]
        assert not button.isEnabled() and "Nothing to acknowledge" in button.toolTip()


def test_paused_offers_resume_through_the_policy_controls(qtbot: QtBot, home: Path, keyless: None) -> None:
    shown: Shown = []
    with opened(qtbot, home, shown) as (runtime, window):
        runtime.gate.pause(True)
        window.refresh()
        banner(window, "paused").buttons[RESUME].click()
        assert not runtime.gate.paused and "paused" not in window.banners.flags()


def test_bus_conditions_carry_their_fixes(
    qtbot: QtBot, home: Path, keyless: None, bus: EventBus, bridge: QtBusBridge
) -> None:
    shown: Shown = []
    with opened(qtbot, home, shown, bus_bridge=bridge) as (_, window):
        settings: list[str] = []
        setup: list[str] = []
        window.sig_settings_requested.connect(lambda: settings.append("settings"))
        window.sig_onboarding_requested.connect(lambda: setup.append("setup"))

        def publish(payload: Any, flag: str) -> Banner:
            bus.publish(payload, source_layer="test", change_id=None)
            qtbot.waitUntil(lambda: flag in window.banners.flags())
            window.refresh()
            return banner(window, flag)

        voice = VoiceStateChanged(
            state="unavailable", message="Voice input is off (no speech model); typing works."
        )
        publish(voice, "voice_unavailable").buttons[VOICE_SETTINGS].click()
        assert settings == ["settings"]
        failed = PersonaFailed(
            path="/home/me/personas/ember.toml", line=3, column=7, reason="expected a number"
        )
        publish(failed, "persona_error").buttons[SHOW_ERROR].click()
        assert shown[-1][0] == "Persona file error" and "expected a number" in shown[-1][1]
        banner(window, "persona_error").buttons[COPY_PATH].click()
        assert QGuiApplication.clipboard().text() == "/home/me/personas/ember.toml"
        no_gl = PostureChanged(flag="no_opengl", active=True, message="OpenGL is not available.")
        publish(no_gl, "no_opengl").buttons[EXPLAIN].click()
        assert shown[-1] == ("No OpenGL", OPENGL_TEXT)
        degraded = PostureChanged(flag="policy_degraded", active=True, message="Keys unavailable: no keyring")
        publish(degraded, "policy_degraded").buttons[SET_UP_KEYS].click()
        assert setup == ["setup"]
        banner(window, "policy_degraded").buttons[EXPLAIN].click()
        assert shown[-1][0] == "Keys unavailable" and "keyring" in shown[-1][1]
