"""The push-to-talk key as stored, parsed, described, and judged: one format for every part.

The setting (``voice.ptt_hotkey``) holds the key as Qt's portable text:
``"Ctrl+Alt+Space"``, ``"Meta+F9"``, ``"F9"``, ``"ScrollLock"``, which is what the
capture widget produces and what ``QKeySequence.fromString`` reads back for the
in-window backend. Older values, single X key names (``"F9"``,
``"Scroll_Lock"``, ``"Insert"``), are read as well. :func:`parse_hotkey` turns
either into a :class:`HotkeySpec`: the held modifiers (``Ctrl``, ``Alt``,
``Shift``, ``Super``) and the X keysym name of the main key, which is what the
backends need (an X grab, pynput, the portal's ``preferred_trigger``).

:func:`hotkey_problem` is the one rule for what may be held to talk; the
capture widget and the settings service both ask it. This module is pure (no
Qt, no X), so the rule is tested without a display.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Final

MODIFIERS: Final = ("Super", "Ctrl", "Alt", "Shift")  # Qt's order in its portable text
_QT_MODIFIER: Final = {"Super": "Meta", "Ctrl": "Ctrl", "Alt": "Alt", "Shift": "Shift"}
_MODIFIER_ALIASES: Final = {
    "ctrl": "Ctrl",
    "control": "Ctrl",
    "alt": "Alt",
    "shift": "Shift",
    "meta": "Super",
    "super": "Super",
    "logo": "Super",
    "win": "Super",
}
_PORTAL_MODIFIER: Final = {"Ctrl": "CTRL", "Alt": "ALT", "Shift": "SHIFT", "Super": "LOGO"}

# (Qt portable name, X keysym name, what a person reads), for keys that are not a letter, digit or F-key
_NAMED: Final = (
    ("Space", "space", "Space"),
    ("Ins", "Insert", "Insert"),
    ("Del", "Delete", "Delete"),
    ("Esc", "Escape", "Esc"),
    ("PgUp", "Prior", "Page Up"),
    ("PgDown", "Next", "Page Down"),
    ("Home", "Home", "Home"),
    ("End", "End", "End"),
    ("Left", "Left", "Left"),
    ("Right", "Right", "Right"),
    ("Up", "Up", "Up"),
    ("Down", "Down", "Down"),
    ("Return", "Return", "Return"),
    ("Enter", "KP_Enter", "Keypad Enter"),
    ("Backspace", "BackSpace", "Backspace"),
    ("Tab", "Tab", "Tab"),
    ("Backtab", "ISO_Left_Tab", "Tab"),
    ("Pause", "Pause", "Pause"),
    ("Print", "Print", "Print Screen"),
    ("SysReq", "Sys_Req", "SysRq"),
    ("ScrollLock", "Scroll_Lock", "Scroll Lock"),
    ("CapsLock", "Caps_Lock", "Caps Lock"),
    ("NumLock", "Num_Lock", "Num Lock"),
    ("Menu", "Menu", "Menu"),
    ("Help", "Help", "Help"),
    ("Media Play", "XF86AudioPlay", "Play"),
    ("Microphone Mute", "XF86AudioMicMute", "Microphone Mute"),
    ("Launch (0)", "XF86Launch0", "Launch 0"),
    ("Launch (1)", "XF86Launch1", "Launch 1"),
    (",", "comma", ","),
    (".", "period", "."),
    ("/", "slash", "/"),
    (";", "semicolon", ";"),
    ("'", "apostrophe", "'"),
    ("[", "bracketleft", "["),
    ("]", "bracketright", "]"),
    ("\\", "backslash", "\\"),
    ("-", "minus", "-"),
    ("=", "equal", "="),
    ("`", "grave", "`"),
    ("+", "plus", "+"),
)
_FUNCTION_KEYS: Final = tuple(f"F{n}" for n in range(1, 36))
_BY_QT: Final = {qt: (x, shown) for qt, x, shown in _NAMED}
_BY_X: Final = {x: (qt, shown) for qt, x, shown in _NAMED}
_LONE_MODIFIERS: Final = frozenset(
    {"Control", "Shift", "Alt", "AltGr", "Meta", "Super", "Hyper"}
    | {f"{m}_{side}" for m in ("Control", "Shift", "Alt", "Meta", "Super", "Hyper") for side in "LR"}
)
_LOCKS: Final = frozenset({"Caps_Lock", "Num_Lock"})
_TABS: Final = frozenset({"Tab", "ISO_Left_Tab"})
# keys that may be held alone: pressing them types nothing and moves nothing
_SOLO: Final = frozenset(
    {*_FUNCTION_KEYS, "Pause", "Scroll_Lock", "Menu", "Help", "Insert"}
    | {"XF86AudioPlay", "XF86AudioMicMute", "XF86Launch0", "XF86Launch1"}
)
_CHORD: Final = frozenset({"Ctrl", "Alt", "Super"})  # Shift alone still types (Shift+A is "A")


@dataclass(frozen=True)
class HotkeySpec:
    """A push-to-talk key: the modifiers held with it and its X keysym name.

    Attributes:
        modifiers: a subset of ``{"Ctrl", "Alt", "Shift", "Super"}``.
        key: the main key's X keysym name (``"space"``, ``"F9"``, ``"Scroll_Lock"``, ``"a"``).
    """

    modifiers: frozenset[str]
    key: str


def _main_key(name: str) -> str:
    """The X keysym name of one key written in Qt's or X's way (ValueError if neither knows it)."""
    if name in _BY_QT:
        return _BY_QT[name][0]
    if name in _BY_X:
        return name
    if name.upper() in _FUNCTION_KEYS and name[:1] in "Ff":
        return name.upper()
    if len(name) == 1 and (name in string.ascii_letters or name in string.digits):
        return name.lower()
    lowered = {"page_up": "Prior", "page_down": "Next", "escape": "Escape", "space": "space"}
    if name.lower() in lowered:
        return lowered[name.lower()]
    if name in _LONE_MODIFIERS or name.lower() in _MODIFIER_ALIASES:
        raise ValueError("Ctrl, Alt, Shift and Super only work together with another key")
    raise ValueError(f"{name!r} is not a key Aether can listen for")


def parse_hotkey(text: str) -> HotkeySpec:
    """Read a stored push-to-talk key: Qt portable text (``"Ctrl+Alt+Space"``) or an X key name (``"F9"``).

    Raises:
        ValueError: empty, no main key, an unknown modifier or key, or a modifier twice (a sentence).
    """
    text = text.strip()
    if not text:
        raise ValueError("no key was given")
    if text == "+" or text.endswith("++"):  # "Ctrl++": the main key is "+"
        parts = [*text[:-1].split("+")[:-1], "+"] if text != "+" else ["+"]
    else:
        parts = text.split("+")
    if any(not part.strip() for part in parts):
        raise ValueError(f"{text!r} has an empty part between its + signs")
    *mods, last = (part.strip() for part in parts)
    modifiers: set[str] = set()
    for mod in mods:
        name = _MODIFIER_ALIASES.get(mod.lower())
        if name is None:
            raise ValueError(f"{mod!r} is not Ctrl, Alt, Shift or Super")
        if name in modifiers:
            raise ValueError(f"{text!r} names {name} twice")
        modifiers.add(name)
    return HotkeySpec(frozenset(modifiers), _main_key(last))


def hotkey_text(spec: HotkeySpec) -> str:
    """The stored form: Qt's portable text, modifiers in Qt's order (``"Meta+Ctrl+Alt+Shift+Space"``)."""
    return _written(spec, readable=False)


def describe_hotkey(spec: HotkeySpec) -> str:
    """The key as a person reads it: ``"Ctrl+Alt+Space"``, ``"Super+F9"``, ``"Scroll Lock"``."""
    return _written(spec, readable=True)


def _written(spec: HotkeySpec, *, readable: bool) -> str:
    """Modifiers then key, joined by ``+``: in Qt's names, or in the names people read."""
    key = spec.key
    if key in _BY_X:
        key = _BY_X[key][1 if readable else 0]
    elif len(key) == 1:
        key = key.upper()
    mods = [m if readable else _QT_MODIFIER[m] for m in MODIFIERS if m in spec.modifiers]
    return "+".join([*mods, key])


def describe_stored(text: str) -> str:
    """A stored key as a person reads it; the text itself when it does not parse (said as it is)."""
    try:
        return describe_hotkey(parse_hotkey(text))
    except ValueError:
        return text


def to_portal_trigger(spec: HotkeySpec) -> str:
    """The key as a trigger of the XDG shortcuts specification: ``"CTRL+ALT+space"``, ``"F9"``.

    Modifiers are CTRL, ALT, SHIFT and LOGO (xkbcommon's names), the key is an
    xkb keysym name; all joined by ``+``.
    """
    mods = [_PORTAL_MODIFIER[m] for m in ("Ctrl", "Alt", "Shift", "Super") if m in spec.modifiers]
    return "+".join([*mods, spec.key])


_RESERVED: Final = frozenset(
    {
        (frozenset({"Alt"}), "Tab"),
        (frozenset({"Alt", "Shift"}), "Tab"),
        (frozenset({"Super"}), "Tab"),
        (frozenset({"Alt"}), "F4"),
        (frozenset({"Ctrl", "Alt"}), "Delete"),
        (frozenset({"Ctrl", "Alt"}), "BackSpace"),
        (frozenset({"Super"}), "l"),
        (frozenset(), "Print"),
    }
    | {(frozenset({"Ctrl", "Alt"}), f"F{n}") for n in range(1, 13)}
)


def hotkey_problem(spec: HotkeySpec) -> str:
    """Why ``spec`` cannot be held to talk, in plain words; ``""`` if it can.

    Refused: Caps Lock and Num Lock (they switch a mode), Tab alone (it moves
    between fields), the desktop's own combinations (Alt+Tab, Alt+F4,
    Ctrl+Alt+Delete, Ctrl+Alt+F1...F12, Super+L, Print Screen), and a key that
    types or moves something (a letter, Space, Enter, an arrow) without Ctrl,
    Alt or Super: holding it to talk would take it away from typing. Function
    keys, Pause, Scroll Lock, Insert, Menu and the like may stand alone.
    """
    shown = describe_hotkey(spec)
    key = "Tab" if spec.key in _TABS else spec.key
    if key in _LOCKS:
        return "Caps Lock and Num Lock switch a mode on and off. Choose another key."
    if key == "Tab" and not spec.modifiers & _CHORD:
        return "Tab moves between fields, so it cannot be the talk key. Choose another key."
    if (spec.modifiers, key) in _RESERVED:
        return f"{shown} is used by your desktop. Choose another key."
    if not spec.modifiers & _CHORD and key not in _SOLO:
        return f"{shown} is used for typing. Add Ctrl, Alt or Super to it, or use a key such as F9 or Pause."
    return ""


def check_hotkey_text(text: str) -> HotkeySpec:
    """``text`` parsed, if it may be held to talk.

    Raises:
        ValueError: it does not parse, or :func:`hotkey_problem` refuses it (its sentence).
    """
    try:
        spec = parse_hotkey(text)
    except ValueError as exc:
        raise ValueError(f"That key cannot be used: {exc}. Choose another key.") from None
    problem = hotkey_problem(spec)
    if problem:
        raise ValueError(problem)
    return spec
