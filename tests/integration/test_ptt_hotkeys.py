"""Push-to-talk backends on the real X server of ``make test``: one press and one release per hold.

``xdotool keydown``/``keyup`` send real X key events to the display; X repeats
a held key (even a synthetic one), which must not produce extra presses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time

import pytest

from aether_qt.engines.media.hotkeys import (
    HotkeyUnavailable,
    InWindowBackend,
    PressTracker,
    X11GrabBackend,
    open_backend,
)

needs_x = pytest.mark.skipif(
    os.environ.get("AETHER_DESKTOP_ENV") != "1" or not shutil.which("xdotool"),
    reason="needs the X server and xdotool of scripts/with-desktop.sh",
)


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []
        self.changed = threading.Condition()

    def press(self) -> None:
        with self.changed:
            self.events.append("press")
            self.changed.notify_all()

    def release(self) -> None:
        with self.changed:
            self.events.append("release")
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 3.0) -> list[str]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.events) >= count, timeout)
            return list(self.events)


def xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True, timeout=10)


def test_the_tracker_drops_repeated_presses_and_stray_releases() -> None:
    rec = Recorder()
    tracker = PressTracker(rec.press, rec.release)
    tracker.release()
    for _ in range(5):
        tracker.press()
    tracker.release()
    tracker.release()
    assert rec.events == ["press", "release"]


@needs_x
@pytest.mark.parametrize("hold_s", [0.1, 1.2])  # 1.2 s: long enough for X auto-repeat to start
def test_x11_grab_sees_one_press_and_one_release_per_hold(hold_s: float) -> None:
    rec = Recorder()
    backend = X11GrabBackend("F9", rec.press, rec.release)
    try:
        xdotool("keydown", "F9")
        assert rec.wait_for(1) == ["press"]
        time.sleep(hold_s)
        assert rec.events == ["press"]  # still held: no release, no repeat press
        xdotool("keyup", "F9")
        assert rec.wait_for(2) == ["press", "release"]
        time.sleep(0.2)
        assert rec.events == ["press", "release"]
    finally:
        backend.stop()


@needs_x
def test_x11_grabs_a_combination_with_its_modifiers_and_leaves_its_key_alone() -> None:
    rec = Recorder()
    backend = X11GrabBackend("Ctrl+Alt+Space", rec.press, rec.release)
    try:
        xdotool("key", "space")  # Space alone is not grabbed: it types
        xdotool("key", "ctrl+space")  # one modifier short
        xdotool("key", "ctrl+alt+shift+space")  # one too many
        time.sleep(0.3)
        assert rec.events == []
        xdotool("keydown", "ctrl+alt+space")
        assert rec.wait_for(1) == ["press"]
        xdotool("keyup", "ctrl+alt")  # the modifiers let go first: the hold goes on
        time.sleep(0.3)
        assert rec.events == ["press"]
        xdotool("keyup", "space")  # ends with the main key
        assert rec.wait_for(2) == ["press", "release"]
        xdotool("keydown", "ctrl+alt+space")  # and again, released in the usual order
        assert rec.wait_for(3) == ["press", "release", "press"]
        xdotool("keyup", "ctrl+alt+space")
        assert rec.wait_for(4) == ["press", "release", "press", "release"]
    finally:
        backend.stop()


@needs_x
@pytest.mark.parametrize(("stored", "keys"), [("Meta+F8", "super+F8"), ("Scroll_Lock", "Scroll_Lock")])
def test_x11_grabs_super_combinations_and_older_single_key_values(stored: str, keys: str) -> None:
    rec = Recorder()
    backend = X11GrabBackend(stored, rec.press, rec.release)
    try:
        xdotool("keydown", keys)
        assert rec.wait_for(1) == ["press"]
        xdotool("keyup", keys)
        assert rec.wait_for(2) == ["press", "release"]
    finally:
        backend.stop()


@needs_x
def test_x11_refuses_a_combination_another_client_holds_in_words() -> None:
    holder = X11GrabBackend("Ctrl+Alt+Space", lambda: None, lambda: None)
    try:
        with pytest.raises(HotkeyUnavailable, match=r"^another application has grabbed Ctrl\+Alt\+Space$"):
            X11GrabBackend("Ctrl+Alt+Space", lambda: None, lambda: None)
        X11GrabBackend("Ctrl+Space", lambda: None, lambda: None).stop()  # other modifiers: free
    finally:
        holder.stop()


def test_a_stored_key_that_does_not_parse_is_unavailable_not_a_crash() -> None:
    with pytest.raises(HotkeyUnavailable, match="only work together with another key"):
        X11GrabBackend("Ctrl+Alt", lambda: None, lambda: None)


@needs_x
def test_auto_picks_a_global_backend_on_x11() -> None:
    rec = Recorder()
    backend, notes = open_backend("F10", rec.press, rec.release)
    try:
        assert backend.name == "x11", notes
    finally:
        backend.stop()


def test_without_a_display_the_in_window_backend_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    rec = Recorder()
    backend, notes = open_backend("F9", rec.press, rec.release)
    assert isinstance(backend, InWindowBackend) and "Wayland" in backend.reason and notes
    backend.tracker.press()
    backend.tracker.release()
    assert rec.events == ["press", "release"]
