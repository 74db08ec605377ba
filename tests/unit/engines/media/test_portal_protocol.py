"""The portal's GlobalShortcuts protocol as plain data: backend choice, paths, tokens, responses."""

from __future__ import annotations

import pytest

from aether_qt.engines.media import portal_protocol as proto

WAYLAND = {"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"}
XWAYLAND = {**WAYLAND, "DISPLAY": ":0"}
X11 = {"XDG_SESSION_TYPE": "x11", "DISPLAY": ":0"}


@pytest.mark.parametrize(
    ("environ", "order"),
    [
        (WAYLAND, ("portal",)),
        (XWAYLAND, ("portal", "x11", "pynput")),
        ({"WAYLAND_DISPLAY": "wayland-1"}, ("portal",)),  # no XDG_SESSION_TYPE: the socket says Wayland
        ({"XDG_SESSION_TYPE": "Wayland"}, ("portal",)),
        (X11, ("x11", "pynput")),
        ({}, ("x11", "pynput")),  # no display at all: the grab says why it cannot open
        ({"XDG_SESSION_TYPE": "x11", "DISPLAY": ":0", "WAYLAND_DISPLAY": ""}, ("x11", "pynput")),
    ],
)
def test_auto_tries_the_portal_first_on_wayland_and_never_on_x11(
    environ: dict[str, str], order: tuple[str, ...]
) -> None:
    plan = proto.plan_backends("auto", environ)
    assert plan.order == order
    assert plan.wayland == ("portal" in order)


def test_wayland_without_xwayland_says_why_the_x_grab_is_left_out() -> None:
    assert proto.plan_backends("auto", WAYLAND).notes == ("x11: Wayland session without XWayland",)


@pytest.mark.parametrize("name", ["portal", "x11", "pynput"])
def test_a_named_backend_is_tried_alone_whatever_the_session(name: str) -> None:
    assert proto.plan_backends(name, X11).order == (name,)
    assert proto.plan_backends(name, WAYLAND).order == (name,)


def test_in_window_and_unknown_names_leave_only_the_window() -> None:
    assert proto.plan_backends("in-window", WAYLAND).order == ()
    unknown = proto.plan_backends("gamepad", WAYLAND)
    assert unknown.order == () and "gamepad" in unknown.notes[0]


def test_request_and_session_paths_follow_the_spec() -> None:
    assert proto.request_path(":1.42", "t1") == "/org/freedesktop/portal/desktop/request/1_42/t1"
    assert proto.session_path(":1.42", "s_2") == "/org/freedesktop/portal/desktop/session/1_42/s_2"
    assert proto.sender_element(":12.345") == "12_345"


@pytest.mark.parametrize("bad", ["", ":", ":1.2/3", ":1.2-x"])
def test_a_malformed_unique_name_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="unique bus name"):
        proto.request_path(bad, "t")


@pytest.mark.parametrize("bad", ["", "a/b", "a.b", "a-b", "ü"])
def test_a_token_that_is_no_path_element_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="handle token"):
        proto.session_path(":1.1", bad)


def test_tokens_are_valid_path_elements_and_differ() -> None:
    tokens = {proto.new_token() for _ in range(50)}
    assert len(tokens) == 50
    for token in tokens:
        assert proto.request_path(":1.1", token).endswith("/" + token)


def test_the_shortcut_asks_for_our_key_as_the_preferred_trigger() -> None:
    assert proto.shortcut_request("F9") == [
        ("push-to-talk", {"description": "Hold to talk to Aether", "preferred_trigger": "F9"})
    ]
    assert proto.shortcut_request("Scroll_Lock")[0][1]["preferred_trigger"] == "Scroll_Lock"
    assert proto.shortcut_request("ScrollLock")[0][1]["preferred_trigger"] == "Scroll_Lock"


def test_a_combination_is_asked_in_the_shortcuts_specification_format() -> None:
    assert proto.preferred_trigger("Ctrl+Alt+Space") == "CTRL+ALT+space"
    assert proto.preferred_trigger("Meta+Shift+F9") == "SHIFT+LOGO+F9"
    assert proto.shortcut_request("Alt+Ins")[0][1]["preferred_trigger"] == "ALT+Insert"


@pytest.mark.parametrize("odd", ["", "Ä", "Ctrl+Alt", "F9+Ctrl", "Ctrl+Alt+Space\nX"])
def test_a_key_that_does_not_parse_leaves_the_choice_to_the_desktop(odd: str) -> None:
    assert "preferred_trigger" not in proto.shortcut_request(odd)[0][1]


def test_vardict_unwraps_variants_and_drops_what_is_not_one() -> None:
    raw = {"a": ("s", "x"), "b": ("u", 3), "bad": "plain", "worse": ("s",)}
    assert proto.vardict(raw) == {"a": "x", "b": 3}


def test_response_codes_become_plain_reasons() -> None:
    proto.check_response(0, "binding")
    with pytest.raises(proto.PortalRefused, match="declined in the desktop's dialog"):
        proto.check_response(1, "binding")
    with pytest.raises(proto.PortalRefused, match="ended the request while binding"):
        proto.check_response(2, "binding")
    with pytest.raises(proto.PortalRefused, match=r"unknown answer \(7\) while binding"):
        proto.check_response(7, "binding")


def test_the_session_handle_must_be_a_path() -> None:
    assert proto.session_handle_from({"session_handle": "/org/x/1"}) == "/org/x/1"
    for results in ({}, {"session_handle": 3}, {"session_handle": "relative"}):
        with pytest.raises(proto.PortalRefused, match="no shortcut session"):
            proto.session_handle_from(results)


def test_bound_shortcuts_are_read_and_malformed_items_skipped() -> None:
    results = {
        "shortcuts": [
            ("other", {}),
            "junk",
            ("push-to-talk", {"description": ("s", "Hold"), "trigger_description": ("s", "Press F9")}),
            ("odd", {"trigger_description": ("u", 5)}),
        ]
    }
    bound = proto.bound_shortcuts(results)
    assert [s.shortcut_id for s in bound] == ["other", "push-to-talk", "odd"]
    assert proto.our_shortcut(results) == proto.BoundShortcut("push-to-talk", "Hold", "Press F9")
    assert bound[2].trigger == ""
    assert proto.bound_shortcuts({"shortcuts": "nope"}) == ()


def test_a_bind_that_left_our_shortcut_out_is_a_refusal() -> None:
    with pytest.raises(proto.PortalRefused, match="no push-to-talk shortcut"):
        proto.our_shortcut({"shortcuts": [("other", {})]})
    with pytest.raises(proto.PortalRefused):
        proto.our_shortcut({})


@pytest.mark.parametrize(("version", "ok"), [(1, True), (2, True), (0, False), (None, False), (True, False)])
def test_the_interface_version_must_be_at_least_one(version: object, ok: bool) -> None:
    assert (proto.version_reason(version) == "") is ok
