"""Push-to-talk hotkey backends: hold the key to talk, release to send (DESIGN.md §8).

A backend calls ``on_press`` once when the key goes down and ``on_release``
once when it comes up, from its own thread; held-key auto-repeat is ignored
(X repeats even synthetic key presses, as a release and a press with the same
timestamp). Backends, in the order they are tried (see
:func:`~.portal_protocol.plan_backends`):

- ``portal``: on Wayland, the desktop portal's GlobalShortcuts
  (:mod:`.portal_shortcuts`); it binds asynchronously, so :func:`open_backend`
  leaves it to its owner (the voice host) and is called again if it fails.
  Never tried on X11 unless asked for.
- ``x11``: a passive grab of the key on the root window (python-xlib), so it
  works while another application has focus; Num Lock and Caps Lock variants
  are grabbed too.
- ``pynput``: a keyboard listener (X11 record extension, Windows, macOS).
  pynput's ``GlobalHotKeys`` has no release callback, so the plain listener is used.
- ``in-window``: no global backend works (Wayland without the portal, no
  display): the main window handles the key itself while focused
  (:class:`InWindowBackend` is a marker; the window's event filter calls it).

The key is the stored text of :mod:`.hotkey_spec` (``"Ctrl+Alt+Space"``,
``"F9"``, or an older X key name such as ``"Scroll_Lock"``). A combination goes
down when its main key is pressed while exactly its modifiers are held, and
comes up when the main key is released: letting go of a modifier first does
not end the hold (people release keys in any order), and a modifier pressed
during the hold does not either.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from aether_qt.engines.media.hotkey_spec import HotkeySpec, describe_hotkey, parse_hotkey
from aether_qt.engines.media.portal_protocol import plan_backends

_log = logging.getLogger(__name__)
DEFAULT_KEY = "F9"
Callback = Callable[[], None]


class HotkeyUnavailable(Exception):
    """A backend cannot run here; the message says why (shown by ``aether doctor``)."""


class HotkeyBackend(Protocol):
    """A running push-to-talk backend."""

    name: str

    def stop(self) -> None:
        """Stop listening (idempotent)."""
        ...


@dataclass
class PressTracker:
    """Turns raw key events into one press and one release per hold.

    ``press`` while already down is auto-repeat and is dropped; a release
    followed within ``repeat_window_ms`` by a press (X's auto-repeat pair) is
    dropped too, by :meth:`release_pending` deciding later.
    """

    on_press: Callback
    on_release: Callback
    down: bool = False

    def press(self) -> None:
        """The key went down (maybe a repeat)."""
        if not self.down:
            self.down = True
            self.on_press()

    def release(self) -> None:
        """The key really went up."""
        if self.down:
            self.down = False
            self.on_release()


class X11GrabBackend:
    """A passive X key grab on the root window, read by a daemon thread."""

    name = "x11"

    def __init__(
        self, key: str, on_press: Callback, on_release: Callback, *, display: str | None = None
    ) -> None:
        spec = spec_of(key)
        try:
            from Xlib import XK, X
            from Xlib import display as xdisplay
            from Xlib.error import DisplayError
        except ImportError as exc:
            raise HotkeyUnavailable(f"python-xlib is not installed: {exc}") from None
        name = display or os.environ.get("DISPLAY", "")
        if not name:
            raise HotkeyUnavailable("no X display (DISPLAY is not set)")
        try:
            self._display: Any = xdisplay.Display(name)
        except (DisplayError, OSError, Exception) as exc:  # Xlib raises several types for a bad display
            raise HotkeyUnavailable(f"cannot open the X display {name}: {exc}") from None
        keysym = XK.string_to_keysym(spec.key)
        keycode = self._display.keysym_to_keycode(keysym) if keysym else 0
        if not keycode:
            self._display.close()
            raise HotkeyUnavailable(f"the key {describe_hotkey(spec)} is not on this keyboard")
        self._x = X
        self._keycode = keycode
        self._mask = self._modifier_mask(spec.modifiers)
        self._root = self._display.screen().root
        self._tracker = PressTracker(on_press, on_release)
        self._stop = threading.Event()
        self._grab(describe_hotkey(spec))
        self._thread = threading.Thread(target=self._run, name="aether-ptt-x11", daemon=True)
        self._thread.start()

    def _modifier_mask(self, modifiers: frozenset[str]) -> int:
        """The X modifier mask of ``modifiers``: Alt and Super are looked up in the server's modifier map."""
        x = self._x
        mask = (x.ControlMask if "Ctrl" in modifiers else 0) | (x.ShiftMask if "Shift" in modifiers else 0)
        if "Alt" in modifiers:
            mask |= self._mod_holding(("Alt_L", "Alt_R")) or x.Mod1Mask
        if "Super" in modifiers:
            mask |= self._mod_holding(("Super_L", "Super_R")) or x.Mod4Mask
        return mask

    def _mod_holding(self, names: tuple[str, ...]) -> int:
        """The mask of the Mod1..Mod5 modifier one of the keys ``names`` sets (0: none does)."""
        from Xlib import XK

        codes = {self._display.keysym_to_keycode(XK.string_to_keysym(name)) for name in names} - {0}
        for index, held in enumerate(self._display.get_modifier_mapping()):
            if index >= 3 and codes & set(held):  # 0 Shift, 1 Lock, 2 Control, 3..7 Mod1..Mod5
                return int(1 << index)
        return 0

    def _grab(self, key: str) -> None:
        from Xlib.error import CatchError

        x = self._x
        catch = CatchError()
        for extra in (0, x.Mod2Mask, x.LockMask, x.Mod2Mask | x.LockMask):  # Num Lock, Caps Lock
            self._root.grab_key(
                self._keycode, self._mask | extra, True, x.GrabModeAsync, x.GrabModeAsync, onerror=catch
            )
        self._display.sync()
        if catch.get_error():
            self._display.close()
            raise HotkeyUnavailable(f"another application has grabbed {key}")

    def _run(self) -> None:
        x, display = self._x, self._display
        fd = display.fileno()
        pending_release: float | None = None
        while not self._stop.is_set():
            timeout = 0.05 if pending_release is None else 0.01
            if display.pending_events() == 0:
                with contextlib.suppress(OSError, ValueError):
                    select.select([fd], [], [], timeout)
            now = time.monotonic()
            if pending_release is not None and now - pending_release > 0.03 and display.pending_events() == 0:
                pending_release = None
                self._tracker.release()  # no press followed: a real release
            while display.pending_events():
                event = display.next_event()
                if getattr(event, "detail", None) != self._keycode:
                    continue
                if event.type == x.KeyPress:
                    if pending_release is not None:
                        pending_release = None  # release + press pair: auto-repeat
                        continue
                    self._tracker.press()
                elif event.type == x.KeyRelease:
                    pending_release = time.monotonic()
        with contextlib.suppress(Exception):
            self._root.ungrab_key(self._keycode, x.AnyModifier)
            display.close()

    def stop(self) -> None:
        """Ungrab the key and end the thread."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=1.0)


@dataclass
class ComboTracker:
    """Key events in, one press and one release per hold of a combination out (see the module docstring).

    Keys are named as :mod:`.hotkey_spec` names them: a modifier (``"Ctrl"``,
    ``"Alt"``, ``"Shift"``, ``"Super"``) or an X keysym name.
    """

    spec: HotkeySpec
    tracker: PressTracker
    held: set[str] = field(default_factory=set)

    def down(self, key: str) -> None:
        """``key`` went down: the hold starts if it is the main key and exactly the modifiers are held."""
        if key in MODIFIER_NAMES:
            self.held.add(key)
        elif key == self.spec.key and self.held == self.spec.modifiers:
            self.tracker.press()  # while down: auto-repeat, dropped by the tracker

    def up(self, key: str) -> None:
        """``key`` went up: the hold ends with its main key."""
        self.held.discard(key)
        if key == self.spec.key:
            self.tracker.release()


MODIFIER_NAMES = frozenset({"Ctrl", "Alt", "Shift", "Super"})
# pynput's names of keys whose X keysym name differs (the rest: the keysym name in lower case)
_PYNPUT_NAMES = {
    "Prior": "page_up",
    "Next": "page_down",
    "Print": "print_screen",
    "Return": "enter",
    "Escape": "esc",
    "XF86AudioPlay": "media_play_pause",
}
_PYNPUT_MODIFIERS = {"ctrl": "Ctrl", "alt": "Alt", "shift": "Shift", "cmd": "Super"}
_CHARS = {
    "comma": ",",
    "period": ".",
    "slash": "/",
    "semicolon": ";",
    "apostrophe": "'",
    "bracketleft": "[",
    "bracketright": "]",
    "backslash": "\\",
    "minus": "-",
    "equal": "=",
    "grave": "`",
    "plus": "+",
}


class PynputBackend:
    """pynput's keyboard listener, filtered to one key with its modifiers."""

    name = "pynput"

    def __init__(self, key: str, on_press: Callback, on_release: Callback) -> None:
        spec = spec_of(key)
        try:
            from pynput import keyboard
        except Exception as exc:  # pynput raises ImportError with a platform message when no backend works
            raise HotkeyUnavailable(f"pynput cannot listen here: {str(exc).splitlines()[0]}") from None
        target = getattr(keyboard.Key, _PYNPUT_NAMES.get(spec.key, spec.key.lower()), None)
        char = _CHARS.get(spec.key, spec.key if len(spec.key) == 1 else "")
        if target is None and not char:
            raise HotkeyUnavailable(f"pynput does not know the key {describe_hotkey(spec)}")
        target = target or keyboard.KeyCode.from_char(char)
        combo = ComboTracker(spec, PressTracker(on_press, on_release))

        def name_of(k: Any) -> str:
            if k == target:
                return spec.key
            name = str(getattr(k, "name", "") or "")  # ctrl_l, alt_r, cmd...; a character key has none
            return _PYNPUT_MODIFIERS.get(name.split("_", maxsplit=1)[0], "?") if name != "alt_gr" else "?"

        self._listener = keyboard.Listener(
            on_press=lambda k: combo.down(name_of(k)), on_release=lambda k: combo.up(name_of(k))
        )
        self._listener.start()
        self._listener.wait()

    def stop(self) -> None:
        """Stop the listener."""
        self._listener.stop()


def spec_of(key: str) -> HotkeySpec:
    """``key`` parsed, or :class:`HotkeyUnavailable` saying why it is not a key."""
    try:
        return parse_hotkey(key)
    except ValueError as exc:
        raise HotkeyUnavailable(str(exc)) from None


class InWindowBackend:
    """No global hotkey: the main window forwards its own key events (see ``widgets``)."""

    name = "in-window"

    def __init__(self, key: str, on_press: Callback, on_release: Callback, reason: str = "") -> None:
        self.key = key  # the stored text: the window matches it as a Qt key sequence
        self.reason = reason
        self.tracker = PressTracker(on_press, on_release)

    def stop(self) -> None:
        """Nothing to stop."""


def preload() -> None:
    """Import the X connection code now, before the runtime guard is installed.

    python-xlib calls ``platform.uname()`` when its connection module is first
    imported, and that runs ``uname -p`` in a subprocess: something the guard
    rightly refuses later. Importing it early keeps the X11 backend usable.
    """
    with contextlib.suppress(ImportError):
        import Xlib.support.unix_connect  # noqa: F401


def open_backend(
    key: str,
    on_press: Callback,
    on_release: Callback,
    *,
    prefer: str = "auto",
    environ: Mapping[str, str] | None = None,
) -> tuple[HotkeyBackend, list[str]]:
    """The first backend that opens at once (``prefer`` names one to try alone), and why the others did not.

    The order comes from :func:`~.portal_protocol.plan_backends`. The portal is
    skipped here: it answers later (the desktop may ask the user first), so its
    owner opens it and calls this again if it fails. Never raises: the in-window
    backend always works.
    """
    env = os.environ if environ is None else environ
    plan = plan_backends(prefer, env)
    notes = list(plan.notes)
    factories: dict[str, Callable[[], HotkeyBackend]] = {
        "x11": lambda: X11GrabBackend(key, on_press, on_release, display=env.get("DISPLAY") or None),
        "pynput": lambda: PynputBackend(key, on_press, on_release),
    }
    for name in plan.order:
        make = factories.get(name)
        if make is None:
            continue
        try:
            return make(), notes
        except HotkeyUnavailable as exc:
            notes.append(f"{name}: {exc}")
    reason = "; ".join(notes) or "no global hotkey backend"
    return InWindowBackend(key, on_press, on_release, reason), notes
