"""Push-to-talk on Wayland: the desktop portal's GlobalShortcuts, spoken over the session bus.

:class:`PortalShortcutsBackend` is a hotkey backend like the X11 grab: it calls
``on_press``/``on_release`` from its own thread. Unlike the grab it cannot say at
once whether it works: the desktop may show a dialog before it binds the key. So
the constructor only starts the thread, which opens the session bus, reads the
portal's GlobalShortcuts ``version``, creates a session and binds the shortcut
(see :mod:`.portal_protocol`), then reports ``on_bound(shortcut)`` or
``on_failed(reason)`` (no portal, no interface, the dialog declined, a D-Bus
error, the portal gone). After ``on_failed`` the thread has ended; the owner
falls back to the next backend. A held key is released before ``on_failed``:
a portal that dies mid-hold never leaves the microphone live.

Why jeepney and not QtDBus: BindShortcuts takes an ``a(sa{sv})`` array, and
PySide6's ``QDBusArgument`` can only open an array of a type registered with
``qDBusRegisterMetaType`` (C++ only); writing a struct into any other array makes
libdbus abort the process. jeepney (pure Python, already installed for the keyring
on Linux) marshals any signature. Only signals from the portal's current unique
name, for our session and our shortcut, count as presses.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aether_qt.engines.media import portal_protocol as proto
from aether_qt.engines.media.hotkeys import Callback, PressTracker

_log = logging.getLogger(__name__)
BUS_NAME = "org.freedesktop.DBus"
CALL_TIMEOUT_S = 10.0  # the first call may start the portal (D-Bus activation)
SESSION_TIMEOUT_S = 30.0  # CreateSession needs no dialog; BindShortcuts waits for the user
POLL_S = 0.1  # how often a waiting thread looks at stop()
VERSION_QUESTION = "the version question"
_NOT_THERE = {
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
}
_NO_INTERFACE = {
    "org.freedesktop.DBus.Error.UnknownInterface",
    "org.freedesktop.DBus.Error.UnknownProperty",
    "org.freedesktop.DBus.Error.UnknownMethod",
    "org.freedesktop.DBus.Error.InvalidArgs",
}


class _Stopped(Exception):
    """``stop()`` was called while the thread waited."""


@dataclass(frozen=True, slots=True)
class PortalProbe:
    """What ``aether doctor`` learns without binding anything: the interface version, or why not."""

    version: int | None
    reason: str = ""


def _refusal(name: str, what: str) -> proto.PortalRefused:
    """A D-Bus error reply, in plain words."""
    if name in _NOT_THERE:
        return proto.PortalRefused("no desktop portal is running on the session bus")
    if name in _NO_INTERFACE and what == VERSION_QUESTION:  # later, the same names mean a bad call
        return proto.PortalRefused("the desktop portal has no GlobalShortcuts interface")
    return proto.PortalRefused(f"the desktop portal refused {what} ({name or 'an error'})")


class _Link:
    """One jeepney connection used by one thread: calls with a deadline, and the messages in between."""

    def __init__(self, conn: Any, stop: threading.Event) -> None:
        self.conn = conn
        self._stop = stop
        self._backlog: deque[Any] = deque()  # messages that arrived while a call waited for its reply

    def receive(self, deadline: float | None) -> Any:
        """The next message (``TimeoutError`` at the deadline, ``_Stopped`` on stop)."""
        if self._backlog:
            return self._backlog.popleft()
        return self._from_socket(deadline)

    def _from_socket(self, deadline: float | None) -> Any:
        while True:
            if self._stop.is_set():
                raise _Stopped
            wait = POLL_S if deadline is None else min(POLL_S, deadline - time.monotonic())
            if wait <= 0:
                raise TimeoutError
            try:
                return self.conn.receive(timeout=wait)
            except TimeoutError:
                continue
            except OSError as exc:  # the bus went away
                raise proto.PortalRefused(f"the session bus connection closed ({exc})") from None

    def call(self, message: Any, what: str, timeout: float = CALL_TIMEOUT_S) -> tuple[Any, ...]:
        """Send a method call and return its reply's body; errors become :class:`PortalRefused`."""
        from jeepney import HeaderFields, MessageType

        serial = next(self.conn.outgoing_serial)
        try:
            self.conn.send(message, serial=serial)
        except OSError as exc:
            raise proto.PortalRefused(f"the session bus connection closed ({exc})") from None
        deadline = time.monotonic() + timeout
        while True:
            try:
                reply = self._from_socket(deadline)
            except TimeoutError:
                raise proto.PortalRefused(f"the desktop portal did not answer {what}") from None
            if reply.header.fields.get(HeaderFields.reply_serial) != serial:
                self._backlog.append(reply)  # a signal that came first: read after this call
                continue
            if reply.header.message_type == MessageType.error:
                raise _refusal(str(reply.header.fields.get(HeaderFields.error_name) or ""), what)
            return tuple(reply.body)

    def add_match(self, arg0: str = "", **rule: str) -> None:
        """Subscribe to signals (the bus routes only what a match rule asks for)."""
        from jeepney import MatchRule
        from jeepney.bus_messages import message_bus

        match = MatchRule(type="signal", **rule)
        if arg0:
            match.add_arg_condition(0, arg0)
        self.call(message_bus.AddMatch(match), "a subscription")

    def send_no_reply(self, message: Any) -> None:
        """Send and forget (closing the session on the way out)."""
        from jeepney.low_level import MessageFlag

        message.header.flags |= MessageFlag.no_reply_expected
        with contextlib.suppress(OSError):
            self.conn.send(message)


def _open(environ: Mapping[str, str]) -> Any:
    """A jeepney connection to the session bus named by ``environ``."""
    address = environ.get("DBUS_SESSION_BUS_ADDRESS", "")
    if not address:
        raise proto.PortalRefused("no session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
    try:
        from jeepney.io.blocking import open_dbus_connection
    except ImportError as exc:
        raise proto.PortalRefused(f"jeepney is not installed: {exc}") from None
    try:
        return open_dbus_connection(address, auth_timeout=2.0)
    except (OSError, TimeoutError, RuntimeError, ValueError, KeyError) as exc:
        raise proto.PortalRefused(f"cannot reach the session bus ({exc})") from None


def _read_version(link: _Link) -> int:
    from jeepney import DBusAddress, new_method_call

    props = DBusAddress(proto.PORTAL_PATH, bus_name=proto.PORTAL_BUS, interface=proto.PROPERTIES_IFACE)
    body = link.call(
        new_method_call(props, "Get", "ss", (proto.SHORTCUTS_IFACE, "version")), VERSION_QUESTION
    )
    variant = body[0] if body else None
    version = variant[1] if isinstance(variant, tuple) and len(variant) == 2 else None
    reason = proto.version_reason(version)
    if reason:
        raise proto.PortalRefused(reason)
    assert isinstance(version, int)
    return version


def probe_portal(environ: Mapping[str, str] | None = None) -> PortalProbe:
    """Ask the session's portal for its GlobalShortcuts version (binds nothing, shows no dialog)."""
    env = os.environ if environ is None else environ
    try:
        conn = _open(env)
    except proto.PortalRefused as exc:
        return PortalProbe(version=None, reason=str(exc))
    try:
        return PortalProbe(version=_read_version(_Link(conn, threading.Event())))
    except proto.PortalRefused as exc:
        return PortalProbe(version=None, reason=str(exc))
    finally:
        conn.close()


class PortalShortcutsBackend:
    """Push-to-talk bound by the desktop portal (see the module docstring).

    Args:
        key: the push-to-talk key as stored ("Ctrl+Alt+Space", "F9"): asked as the preferred
            trigger; the desktop may pick another.
        on_press: the shortcut was activated (called from the portal thread).
        on_release: the shortcut was deactivated (likewise).
        on_bound: the desktop bound the shortcut (its trigger as the desktop describes it).
        on_failed: the portal cannot be used or stopped working; the reason in plain words.
        environ: where the session bus address is read (``os.environ`` by default).
    """

    name = "portal"

    def __init__(
        self,
        key: str,
        on_press: Callback,
        on_release: Callback,
        *,
        on_bound: Callable[[proto.BoundShortcut], None],
        on_failed: Callable[[str], None],
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.key = key
        self.version: int | None = None
        self.shortcut: proto.BoundShortcut | None = None
        self._environ = dict(os.environ if environ is None else environ)
        self._tracker = PressTracker(on_press, on_release)
        self._on_bound, self._on_failed = on_bound, on_failed
        self._owner = ""  # the portal's unique name: only its signals count
        self._session = ""  # closed on the way out, even when binding failed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="aether-ptt-portal", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close the session and end the thread (idempotent; callbacks stop with it)."""
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)

    def _run(self) -> None:
        link: _Link | None = None
        try:
            link = _Link(_open(self._environ), self._stop)
            self._bind(link)
            self._listen(link, self._session)
        except _Stopped:
            pass
        except proto.PortalRefused as exc:
            self._fail(str(exc))
        except Exception as exc:  # a malformed message from the bus must not leave push-to-talk dead
            _log.exception("the desktop portal conversation failed")
            self._fail(f"the desktop portal conversation failed ({type(exc).__name__})")
        finally:
            if link is not None:
                self._close(link, self._session)

    def _fail(self, reason: str) -> None:
        self._tracker.release()  # never leave the microphone live
        if not self._stop.is_set():
            self._on_failed(reason)

    def _close(self, link: _Link, session: str) -> None:
        from jeepney import DBusAddress, new_method_call

        if session:
            target = DBusAddress(session, bus_name=proto.PORTAL_BUS, interface=proto.SESSION_IFACE)
            link.send_no_reply(new_method_call(target, "Close"))
        with contextlib.suppress(OSError):
            link.conn.close()

    # ------------------------------------------------------------------ the handshake

    def _bind(self, link: _Link) -> None:
        """Version, owner, session, shortcut: report ``on_bound`` once the key is bound."""
        from jeepney.bus_messages import message_bus

        self.version = _read_version(link)
        (owner,) = link.call(message_bus.GetNameOwner(proto.PORTAL_BUS), "who the portal is")
        self._owner = str(owner)
        link.add_match(sender=BUS_NAME, interface=BUS_NAME, member="NameOwnerChanged", arg0=proto.PORTAL_BUS)
        link.add_match(sender=proto.PORTAL_BUS, interface=proto.SHORTCUTS_IFACE, path=proto.PORTAL_PATH)
        stoken = proto.new_token()
        session = proto.session_path(link.conn.unique_name, stoken)
        link.add_match(sender=proto.PORTAL_BUS, interface=proto.SESSION_IFACE, path=session)
        results = self._request(
            link,
            method="CreateSession",
            signature="a{sv}",
            body=lambda token: ({"handle_token": ("s", token), "session_handle_token": ("s", stoken)},),
            what="creating the shortcut session",
            timeout=SESSION_TIMEOUT_S,
        )
        session = self._session = proto.session_handle_from(results)
        shortcuts = [
            (sid, {name: ("s", value) for name, value in options.items()})
            for sid, options in proto.shortcut_request(self.key)
        ]
        results = self._request(
            link,
            method="BindShortcuts",
            signature="oa(sa{sv})sa{sv}",
            body=lambda token: (session, shortcuts, "", {"handle_token": ("s", token)}),
            what="binding the push-to-talk shortcut",
            timeout=None,  # the desktop may ask the user: as long as it takes
        )
        self.shortcut = proto.our_shortcut(results)
        if not self._stop.is_set():
            self._on_bound(self.shortcut)

    def _request(
        self,
        link: _Link,
        *,
        method: str,
        signature: str,
        body: Callable[[str], tuple[Any, ...]],
        what: str,
        timeout: float | None,
    ) -> dict[str, object]:
        """Call a portal method that answers through a Request, subscribed to before the call."""
        from jeepney import DBusAddress, new_method_call

        token = proto.new_token()
        expected = proto.request_path(link.conn.unique_name, token)
        response = {"sender": proto.PORTAL_BUS, "interface": proto.REQUEST_IFACE, "member": "Response"}
        link.add_match(path=expected, **response)
        portal = DBusAddress(proto.PORTAL_PATH, bus_name=proto.PORTAL_BUS, interface=proto.SHORTCUTS_IFACE)
        (handle,) = link.call(new_method_call(portal, method, signature, body(token)), what)
        if handle != expected:  # an older portal: its own path; the answer may still be on the way
            link.add_match(path=handle, **response)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                message = link.receive(deadline)
            except TimeoutError:
                raise proto.PortalRefused(f"the desktop portal did not answer {what}") from None
            self._check_owner(message)
            fields = _fields(message)
            if (fields.interface, fields.member, fields.path) == (proto.REQUEST_IFACE, "Response", handle):
                if fields.sender != self._owner:
                    continue  # not the portal: ignored
                code, results = message.body
                proto.check_response(int(code), what)
                return proto.vardict(results)

    # ------------------------------------------------------------------ presses

    def _listen(self, link: _Link, session: str) -> None:
        """Turn Activated/Deactivated into press/release until stop or the portal goes."""
        while True:
            message = link.receive(None)
            self._check_owner(message)
            fields = _fields(message)
            if fields.sender != self._owner:
                continue
            if (fields.interface, fields.member, fields.path) == (proto.SESSION_IFACE, "Closed", session):
                raise proto.PortalRefused("the desktop closed the shortcut session")
            if fields.interface != proto.SHORTCUTS_IFACE or fields.path != proto.PORTAL_PATH:
                continue
            body = message.body
            if len(body) < 2 or body[0] != session:
                continue
            if fields.member == "ShortcutsChanged":
                self._shortcuts_changed(body[1])
            elif body[1] == proto.SHORTCUT_ID and fields.member == "Activated":
                self._tracker.press()
            elif body[1] == proto.SHORTCUT_ID and fields.member == "Deactivated":
                self._tracker.release()

    def _shortcuts_changed(self, raw: object) -> None:
        for shortcut in proto.bound_shortcuts({"shortcuts": raw}):
            if shortcut.shortcut_id == proto.SHORTCUT_ID:
                self.shortcut = shortcut

    def _check_owner(self, message: Any) -> None:
        """The portal's name changed hands or vanished: our session went with it."""
        fields = _fields(message)
        if (fields.sender, fields.member) != (BUS_NAME, "NameOwnerChanged"):
            return
        name, _old, new = message.body
        if name == proto.PORTAL_BUS and new != self._owner:
            raise proto.PortalRefused("the desktop portal stopped")


@dataclass(frozen=True, slots=True)
class _Fields:
    sender: object
    interface: object
    member: object
    path: object


def _fields(message: Any) -> _Fields:
    from jeepney import HeaderFields

    get = message.header.fields.get
    return _Fields(
        sender=get(HeaderFields.sender),
        interface=get(HeaderFields.interface),
        member=get(HeaderFields.member),
        path=get(HeaderFields.path),
    )
