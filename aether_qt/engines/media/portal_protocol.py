"""The desktop portal's GlobalShortcuts protocol, as plain data: no bus, no Qt, no threads.

Wayland gives no application a global key grab; the xdg-desktop-portal
``org.freedesktop.portal.GlobalShortcuts`` interface is how a sandboxed or
Wayland app asks the desktop for one. The conversation (version 1 of the
published interface):

1. ``CreateSession(a{sv} options)`` with ``handle_token`` and
   ``session_handle_token``; the reply is a *request* object path whose
   ``org.freedesktop.portal.Request.Response(u response, a{sv} results)``
   signal carries ``session_handle``.
2. ``BindShortcuts(o session, a(sa{sv}) shortcuts, s parent_window, a{sv} options)``;
   the desktop may show a dialog; the Response carries the shortcuts it bound.
3. ``Activated``/``Deactivated(o session, s id, t timestamp, a{sv} options)`` as the
   user presses and releases the trigger: push-to-talk's press and release.

The request path can be known before the call (``/org/freedesktop/portal/desktop/
request/SENDER/TOKEN``, SENDER being the caller's unique bus name without the
leading ``:`` and with ``.`` as ``_``), so a client subscribes to the Response
*before* calling: a fast portal cannot answer into the void.

This module holds what can be decided without a bus: which backends to try in
which order (:func:`plan_backends`), the paths and tokens, the shortcut we ask
for, and what a Response means (:func:`check_response`, raising
:class:`PortalRefused` with plain words for ``aether doctor`` and the log).
Variants arrive as ``(signature, value)`` pairs (jeepney's form);
:func:`vardict` turns an ``a{sv}`` into plain values.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from aether_qt.engines.media.hotkey_spec import parse_hotkey, to_portal_trigger

PORTAL_BUS = "org.freedesktop.portal.Desktop"
PORTAL_PATH = "/org/freedesktop/portal/desktop"
SHORTCUTS_IFACE = "org.freedesktop.portal.GlobalShortcuts"
REQUEST_IFACE = "org.freedesktop.portal.Request"
SESSION_IFACE = "org.freedesktop.portal.Session"
PROPERTIES_IFACE = "org.freedesktop.DBus.Properties"
MIN_VERSION = 1
SHORTCUT_ID = "push-to-talk"
SHORTCUT_DESCRIPTION = "Hold to talk to Aether"
BACKENDS = ("portal", "x11", "pynput", "in-window")

RESPONSE_SUCCESS = 0
RESPONSE_CANCELLED = 1
RESPONSE_OTHER = 2

_TOKEN_PREFIX = "aether"  # noqa: S105 (a path element, not a secret)
_PATH_ELEMENT = re.compile(r"[A-Za-z0-9_]+")


class PortalRefused(Exception):
    """The portal cannot give us the shortcut; the message says why, in plain words."""


@dataclass(frozen=True, slots=True)
class BackendPlan:
    """The push-to-talk backends to try, in order, and why some were left out.

    Attributes:
        order: backend names from :data:`BACKENDS` minus ``in-window`` (always the last resort).
        notes: why a backend is not in ``order`` (``"x11: Wayland session without XWayland"``).
        wayland: the session is a Wayland one (what the portal is for).
    """

    order: tuple[str, ...]
    notes: tuple[str, ...]
    wayland: bool


@dataclass(frozen=True, slots=True)
class BoundShortcut:
    """A shortcut the desktop bound for us (an item of the BindShortcuts Response)."""

    shortcut_id: str
    description: str = ""
    trigger: str = ""  # the desktop's words for how to press it ("F9", "Super+T"); may be empty


def wayland_session(environ: Mapping[str, str]) -> bool:
    """True in a Wayland session: ``XDG_SESSION_TYPE=wayland`` or a ``WAYLAND_DISPLAY``."""
    return environ.get("XDG_SESSION_TYPE", "").strip().lower() == "wayland" or bool(
        environ.get("WAYLAND_DISPLAY", "")
    )


def plan_backends(prefer: str, environ: Mapping[str, str]) -> BackendPlan:
    """Which backends to try for ``prefer`` (``auto`` or one of :data:`BACKENDS`) in this session.

    ``auto`` tries the portal first on Wayland (an X grab there sees keys only while an
    X window has focus) and never on X11, where the X grab works without asking; a
    named backend is tried alone, even the portal on X11. An unknown name leaves
    only the in-window shortcut, with a note saying so.
    """
    wayland = wayland_session(environ)
    has_x = bool(environ.get("DISPLAY", ""))
    if prefer in BACKENDS:
        order = () if prefer == "in-window" else (prefer,)
        return BackendPlan(order=order, notes=(), wayland=wayland)
    if prefer != "auto":
        return BackendPlan(order=(), notes=(f"unknown push-to-talk backend {prefer!r}",), wayland=wayland)
    if not wayland:
        return BackendPlan(order=("x11", "pynput"), notes=(), wayland=False)
    if has_x:  # XWayland: an X grab still sees keys while an X window has focus
        return BackendPlan(order=("portal", "x11", "pynput"), notes=(), wayland=True)
    return BackendPlan(order=("portal",), notes=("x11: Wayland session without XWayland",), wayland=True)


def sender_element(unique_name: str) -> str:
    """The caller's unique name as a path element: ``:1.42`` becomes ``1_42``."""
    element = unique_name.removeprefix(":").replace(".", "_")
    if not _PATH_ELEMENT.fullmatch(element):
        raise ValueError(f"not a unique bus name: {unique_name!r}")
    return element


def new_token() -> str:
    """A fresh handle token: a valid object path element, unguessable by other clients."""
    return f"{_TOKEN_PREFIX}_{secrets.token_hex(8)}"


def _checked_token(token: str) -> str:
    if not _PATH_ELEMENT.fullmatch(token):
        raise ValueError(f"not a valid handle token: {token!r}")
    return token


def request_path(unique_name: str, token: str) -> str:
    """Where the portal will put the Request object of a call made with ``handle_token=token``."""
    return f"{PORTAL_PATH}/request/{sender_element(unique_name)}/{_checked_token(token)}"


def session_path(unique_name: str, token: str) -> str:
    """Where the portal will put the Session made with ``session_handle_token=token``."""
    return f"{PORTAL_PATH}/session/{sender_element(unique_name)}/{_checked_token(token)}"


def preferred_trigger(key: str) -> str:
    """The stored key as a trigger of the XDG shortcuts specification (``"CTRL+ALT+space"``, ``"F9"``).

    A key that does not parse gives ``""``: no preference, the desktop lets the user choose.
    """
    try:
        return to_portal_trigger(parse_hotkey(key))
    except ValueError:
        return ""


def shortcut_request(key: str) -> list[tuple[str, dict[str, str]]]:
    """The one shortcut we ask to bind: its id, description and preferred trigger."""
    options = {"description": SHORTCUT_DESCRIPTION}
    trigger = preferred_trigger(key)
    if trigger:
        options["preferred_trigger"] = trigger
    return [(SHORTCUT_ID, options)]


def vardict(raw: Mapping[str, object]) -> dict[str, object]:
    """An ``a{sv}`` whose values are ``(signature, value)`` pairs, as plain values."""
    plain: dict[str, object] = {}
    for name, item in raw.items():
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            plain[name] = item[1]
    return plain


def check_response(response: int, what: str) -> None:
    """Raise :class:`PortalRefused` unless a Request's ``response`` code means success.

    Args:
        response: 0 success, 1 the user cancelled, 2 ended some other way.
        what: the step, for the message ("creating the shortcut session").
    """
    if response == RESPONSE_SUCCESS:
        return
    if response == RESPONSE_CANCELLED:
        raise PortalRefused("the shortcut was declined in the desktop's dialog")
    if response == RESPONSE_OTHER:
        raise PortalRefused(f"the desktop ended the request while {what}")
    raise PortalRefused(f"the desktop gave an unknown answer ({response}) while {what}")


def session_handle_from(results: Mapping[str, object]) -> str:
    """The session handle out of CreateSession's Response (a string, though it is a path)."""
    handle = results.get("session_handle")
    if not isinstance(handle, str) or not handle.startswith("/"):
        raise PortalRefused("the desktop created no shortcut session")
    return handle


def bound_shortcuts(results: Mapping[str, object]) -> tuple[BoundShortcut, ...]:
    """The shortcuts BindShortcuts' Response says were bound (``a(sa{sv})``); malformed items are skipped."""
    raw = results.get("shortcuts", [])
    items: Iterable[object] = raw if isinstance(raw, list) else []
    bound: list[BoundShortcut] = []
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)):
            continue
        props = vardict(item[1]) if isinstance(item[1], dict) else {}
        description, trigger = props.get("description", ""), props.get("trigger_description", "")
        bound.append(
            BoundShortcut(
                shortcut_id=item[0],
                description=description if isinstance(description, str) else "",
                trigger=trigger if isinstance(trigger, str) else "",
            )
        )
    return tuple(bound)


def our_shortcut(results: Mapping[str, object]) -> BoundShortcut:
    """Our push-to-talk shortcut among the bound ones (:class:`PortalRefused` if the desktop left it out)."""
    for shortcut in bound_shortcuts(results):
        if shortcut.shortcut_id == SHORTCUT_ID:
            return shortcut
    raise PortalRefused("the desktop bound no push-to-talk shortcut")


def version_reason(version: object) -> str:
    """``""`` when the GlobalShortcuts ``version`` property is usable, else why not."""
    if not isinstance(version, int) or isinstance(version, bool):
        return "the desktop portal has no GlobalShortcuts version"
    if version < MIN_VERSION:
        return f"the desktop portal's GlobalShortcuts is version {version} (needs {MIN_VERSION})"
    return ""
