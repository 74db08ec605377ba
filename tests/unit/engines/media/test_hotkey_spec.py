"""The push-to-talk key's one format: parsing, the stored and readable forms, the portal trigger, the rule."""

from __future__ import annotations

import pytest

from aether_qt.engines.media.hotkey_spec import (
    HotkeySpec,
    check_hotkey_text,
    describe_hotkey,
    describe_stored,
    hotkey_problem,
    hotkey_text,
    parse_hotkey,
    to_portal_trigger,
)
from aether_qt.engines.media.hotkeys import ComboTracker, PressTracker


def spec(key: str, *mods: str) -> HotkeySpec:
    return HotkeySpec(frozenset(mods), key)


@pytest.mark.parametrize(
    ("text", "parsed", "stored", "shown", "trigger"),
    [
        (
            "Ctrl+Alt+Space",
            spec("space", "Ctrl", "Alt"),
            "Ctrl+Alt+Space",
            "Ctrl+Alt+Space",
            "CTRL+ALT+space",
        ),
        ("F9", spec("F9"), "F9", "F9", "F9"),
        ("Scroll_Lock", spec("Scroll_Lock"), "ScrollLock", "Scroll Lock", "Scroll_Lock"),  # an older value
        ("ScrollLock", spec("Scroll_Lock"), "ScrollLock", "Scroll Lock", "Scroll_Lock"),
        ("Insert", spec("Insert"), "Ins", "Insert", "Insert"),
        ("Pause", spec("Pause"), "Pause", "Pause", "Pause"),
        ("Meta+Shift+T", spec("t", "Super", "Shift"), "Meta+Shift+T", "Super+Shift+T", "SHIFT+LOGO+t"),
        ("shift+super+t", spec("t", "Super", "Shift"), "Meta+Shift+T", "Super+Shift+T", "SHIFT+LOGO+t"),
        (
            "Alt+Ctrl+PgUp",
            spec("Prior", "Ctrl", "Alt"),
            "Ctrl+Alt+PgUp",
            "Ctrl+Alt+Page Up",
            "CTRL+ALT+Prior",
        ),
        ("Ctrl++", spec("plus", "Ctrl"), "Ctrl++", "Ctrl++", "CTRL+plus"),
        ("Ctrl+Alt+,", spec("comma", "Ctrl", "Alt"), "Ctrl+Alt+,", "Ctrl+Alt+,", "CTRL+ALT+comma"),
        ("Control+f35", spec("F35", "Ctrl"), "Ctrl+F35", "Ctrl+F35", "CTRL+F35"),
        (" F9 ", spec("F9"), "F9", "F9", "F9"),
    ],
)
def test_keys_parse_and_come_back_in_each_form(
    text: str, parsed: HotkeySpec, stored: str, shown: str, trigger: str
) -> None:
    assert parse_hotkey(text) == parsed
    assert hotkey_text(parsed) == stored and parse_hotkey(stored) == parsed  # the stored form round-trips
    assert describe_hotkey(parsed) == shown and describe_stored(text) == shown
    assert to_portal_trigger(parsed) == trigger


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "no key was given"),
        ("Ctrl+", "empty part"),
        ("Ctrl++Space", "empty part"),
        ("Hyper+F9", "'Hyper' is not Ctrl, Alt, Shift or Super"),
        ("Ctrl+Control+F9", "names Ctrl twice"),
        ("Ctrl+Alt", "only work together with another key"),
        ("Shift_L", "only work together with another key"),
        ("Ä", "'Ä' is not a key Aether can listen for"),
        ("F36", "'F36' is not a key"),
        ("Ctrl+Alt+Space; rm -rf /", "is not a key"),
    ],
)
def test_what_is_not_a_key_is_a_value_error_with_a_sentence(text: str, words: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_hotkey(text)
    assert words in str(caught.value)
    assert describe_stored(text) == text  # said as it is, never a crash


@pytest.mark.parametrize(
    "text",
    ["F9", "Ctrl+Alt+Space", "Pause", "Scroll_Lock", "Insert", "Menu", "Super+A", "Shift+F9", "Ctrl+F5"],
)
def test_keys_that_can_be_held_to_talk(text: str) -> None:
    assert hotkey_problem(parse_hotkey(text)) == ""
    assert check_hotkey_text(text) == parse_hotkey(text)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("A", "A is used for typing. Add Ctrl, Alt or Super"),
        ("Shift+A", "Shift+A is used for typing"),  # Shift still types: "A"
        ("Space", "Space is used for typing"),
        ("Return", "Return is used for typing"),
        ("Left", "Left is used for typing"),
        ("Tab", "Tab moves between fields"),
        ("Shift+Backtab", "Tab moves between fields"),
        ("CapsLock", "Caps Lock and Num Lock switch a mode"),
        ("Alt+Num_Lock", "Caps Lock and Num Lock"),
        ("Alt+Tab", "Alt+Tab is used by your desktop"),
        ("Alt+Shift+Backtab", "Alt+Shift+Tab is used by your desktop"),
        ("Ctrl+Alt+F2", "Ctrl+Alt+F2 is used by your desktop"),
        ("Ctrl+Alt+Del", "Ctrl+Alt+Delete is used by your desktop"),
        ("Ctrl+Alt+BackSpace", "Ctrl+Alt+Backspace is used by your desktop"),
        ("Alt+F4", "Alt+F4 is used by your desktop"),
        ("Meta+L", "Super+L is used by your desktop"),
        ("Print", "Print Screen is used by your desktop"),
    ],
)
def test_keys_that_cannot_be_held_to_talk_are_refused_in_words(text: str, words: str) -> None:
    assert words in hotkey_problem(parse_hotkey(text))
    with pytest.raises(ValueError) as refused:
        check_hotkey_text(text)
    assert words in str(refused.value)


def test_an_unparsable_key_is_refused_as_a_sentence() -> None:
    with pytest.raises(ValueError, match=r"^That key cannot be used: .*Choose another key\.$"):
        check_hotkey_text("Ctrl+Alt")


def test_a_combination_is_held_from_its_main_key_with_exactly_its_modifiers_until_the_key_is_up() -> None:
    events: list[str] = []
    combo = ComboTracker(
        spec("space", "Ctrl", "Alt"),
        PressTracker(lambda: events.append("press"), lambda: events.append("release")),
    )
    combo.down("space")  # Space alone types: not ours
    combo.up("space")
    combo.down("Ctrl")
    combo.down("space")  # Ctrl+Space: one modifier short
    combo.up("space")
    combo.down("Alt")
    combo.down("Shift")
    combo.down("space")  # Ctrl+Alt+Shift+Space: one too many (an X grab would not see it either)
    combo.up("space")
    combo.up("Shift")
    assert events == []
    combo.down("space")
    combo.down("space")  # auto-repeat
    combo.up("Ctrl")  # a modifier let go first: still talking
    assert events == ["press"]
    combo.down("space")  # repeat after the modifier went up: no second press
    combo.up("space")
    assert events == ["press", "release"]
    combo.up("Alt")
    combo.up("space")  # a stray release
    assert events == ["press", "release"]
