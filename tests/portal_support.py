"""A private session bus and a desktop portal with GlobalShortcuts on it, for the push-to-talk tests.

:class:`PrivateBus` starts ``dbus-daemon`` with a minimal configuration (no
service directories: nothing real can be activated on it) in a temp folder and
stops it by its pid. :class:`FakePortal` owns ``org.freedesktop.portal.Desktop``
on that bus and implements ``org.freedesktop.portal.GlobalShortcuts`` version 1
as published (CreateSession and BindShortcuts answering through
``org.freedesktop.portal.Request`` objects at the documented paths, the
``version`` property, ``org.freedesktop.portal.Session.Close``), written here
from the specification with jeepney and independently of the app's client. The
test drives it: ``activate()``/``deactivate()`` emit the signals, ``bind_response``
plays the user in the desktop's dialog, ``vanish()`` drops off the bus. Every
signal is broadcast, so a client sees it only if it subscribed in time.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from jeepney import DBusAddress, HeaderFields, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

PORTAL = "org.freedesktop.portal.Desktop"
DESKTOP = "/org/freedesktop/portal/desktop"
SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"
REQUEST = "org.freedesktop.portal.Request"
SESSION = "org.freedesktop.portal.Session"
PROPERTIES = "org.freedesktop.DBus.Properties"
INVALID_ARGS = "org.freedesktop.DBus.Error.InvalidArgs"
UNKNOWN_METHOD = "org.freedesktop.DBus.Error.UnknownMethod"
ACCESS_DENIED = "org.freedesktop.DBus.Error.AccessDenied"

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class PrivateBus:
    """A session bus of the test's own (``address`` for ``DBUS_SESSION_BUS_ADDRESS``)."""

    def __init__(self, folder: Path) -> None:
        exe = shutil.which("dbus-daemon")
        if exe is None:
            raise RuntimeError("dbus-daemon is not installed (scripts/ensure-system.sh installs dbus)")
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "bus.conf"
        config.write_text(_CONFIG.format(socket=folder / "bus"))
        self.proc = subprocess.Popen(
            [exe, "--nofork", "--nopidfile", "--nosyslog", f"--config-file={config}", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        self.address = self.proc.stdout.readline().strip()
        if not self.address.startswith("unix:"):
            self.close()
            raise RuntimeError(f"dbus-daemon printed no address: {self.address!r}")

    def close(self) -> None:
        """Stop the daemon (its pid only)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def _request_path(sender: str, token: str) -> str:
    """The spec's request handle: SENDER is the unique name without ':' and with '.' as '_'."""
    return f"{DESKTOP}/request/{sender[1:].replace('.', '_')}/{token}"


def _session_path(sender: str, token: str) -> str:
    return f"{DESKTOP}/session/{sender[1:].replace('.', '_')}/{token}"


class FakePortal:
    """``org.freedesktop.portal.Desktop`` with GlobalShortcuts, served by a thread (see the module docstring).

    Args:
        address: the bus to own the name on.
        version: the ``version`` property (0: too old).
        with_shortcuts: False: the portal has no GlobalShortcuts interface at all.
        bind_response: the Response code of BindShortcuts (0 bound, 1 the user cancelled, 2 other).
        bind_error: a D-Bus error name BindShortcuts replies with instead ("": none).
    """

    def __init__(
        self,
        address: str,
        *,
        version: int = 1,
        with_shortcuts: bool = True,
        bind_response: int = 0,
        bind_error: str = "",
    ) -> None:
        self.version, self.with_shortcuts, self.bind_response = version, with_shortcuts, bind_response
        self.bind_error = bind_error
        self.calls: list[str] = []
        self.bound: list[tuple[str, dict[str, object]]] = []
        self.closed: list[str] = []
        self.sessions: dict[str, str] = {}  # session path -> the client's unique name
        self._changed = threading.Condition()
        self._send_lock = threading.Lock()
        self._stop = threading.Event()
        self._conn = open_dbus_connection(address)
        (reply,) = self._conn.send_and_get_reply(message_bus.RequestName(PORTAL, 4)).body
        assert reply == 1, f"could not own {PORTAL} (reply {reply})"
        self.unique_name = self._conn.unique_name
        self._thread = threading.Thread(target=self._serve, name="fake-portal", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ the test's side

    def wait_for(self, what: Callable[[], bool], timeout: float = 10.0) -> None:
        """Wait until ``what()`` holds (checked whenever the portal handled a call)."""
        with self._changed:
            if not self._changed.wait_for(what, timeout):
                raise AssertionError(f"timed out; the portal saw {self.calls}")

    @property
    def session(self) -> str:
        """The one session a client created."""
        [path] = self.sessions
        return path

    def activate(self, shortcut_id: str = "push-to-talk", session: str | None = None) -> None:
        self._shortcut_signal("Activated", shortcut_id, session)

    def deactivate(self, shortcut_id: str = "push-to-talk", session: str | None = None) -> None:
        self._shortcut_signal("Deactivated", shortcut_id, session)

    def close_session(self) -> None:
        """The desktop ends the session (the user removed the app's shortcuts)."""
        self._send(new_signal(DBusAddress(self.session, interface=SESSION), "Closed", "a{sv}", ({},)))

    def vanish(self) -> None:
        """The portal process goes away: its connection closes and the name loses its owner."""
        self._stop.set()
        self._thread.join(5)
        with contextlib.suppress(OSError):
            self._conn.close()

    def close(self) -> None:
        """Stop serving (idempotent)."""
        if not self._stop.is_set():
            self.vanish()

    def _shortcut_signal(self, member: str, shortcut_id: str, session: str | None) -> None:
        body = (session or self.session, shortcut_id, int(time.time() * 1000), {})
        self._send(new_signal(DBusAddress(DESKTOP, interface=SHORTCUTS), member, "osta{sv}", body))

    def _send(self, message: Any) -> None:
        with self._send_lock:
            self._conn.send(message)

    # ------------------------------------------------------------------ serving

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                message = self._conn.receive(timeout=0.05)
            except TimeoutError:
                continue
            except OSError:
                return
            if message.header.message_type != MessageType.method_call:
                continue
            fields = message.header.fields
            member = f"{fields.get(HeaderFields.interface)}.{fields.get(HeaderFields.member)}"
            with self._changed:
                self.calls.append(member)
            try:
                self._handle(message, member, fields)
            finally:
                with self._changed:
                    self._changed.notify_all()

    def _handle(self, message: Any, member: str, fields: dict[Any, Any]) -> None:
        sender = str(fields.get(HeaderFields.sender))
        signature = fields.get(HeaderFields.signature, "")
        if member == f"{PROPERTIES}.Get":
            self._get(message)
        elif member == f"{SHORTCUTS}.CreateSession" and self.with_shortcuts:
            self._create_session(message, sender, signature)
        elif member == f"{SHORTCUTS}.BindShortcuts" and self.with_shortcuts:
            self._bind_shortcuts(message, sender, signature)
        elif member == f"{SESSION}.Close" and fields.get(HeaderFields.path) in self.sessions:
            self.closed.append(str(fields.get(HeaderFields.path)))
            self._send(new_method_return(message))
        else:
            self._send(new_error(message, UNKNOWN_METHOD, "s", (f"no method {member}",)))

    def _get(self, message: Any) -> None:
        interface, name = message.body
        if interface != SHORTCUTS or not self.with_shortcuts:
            self._send(new_error(message, INVALID_ARGS, "s", (f"No such interface “{interface}”",)))
        elif name != "version":
            self._send(new_error(message, INVALID_ARGS, "s", (f"No such property “{name}”",)))
        else:
            self._send(new_method_return(message, "v", (("u", self.version),)))

    def _create_session(self, message: Any, sender: str, signature: str) -> None:
        if signature != "a{sv}":
            self._send(new_error(message, INVALID_ARGS, "s", (f"wrong signature {signature}",)))
            return
        (options,) = message.body
        request = _request_path(sender, options["handle_token"][1])
        session = _session_path(sender, options["session_handle_token"][1])
        self.sessions[session] = sender
        self._send(new_method_return(message, "o", (request,)))
        results = {"session_handle": ("s", session)}  # "s", though a path: as the spec keeps it
        self._send(new_signal(DBusAddress(request, interface=REQUEST), "Response", "ua{sv}", (0, results)))

    def _bind_shortcuts(self, message: Any, sender: str, signature: str) -> None:
        if signature != "oa(sa{sv})sa{sv}":
            self._send(new_error(message, INVALID_ARGS, "s", (f"wrong signature {signature}",)))
            return
        session, shortcuts, _parent_window, options = message.body
        if self.sessions.get(session) != sender:
            self._send(new_error(message, ACCESS_DENIED, "s", ("not your session",)))
            return
        if self.bind_error:
            self._send(new_error(message, self.bind_error, "s", ("the backend failed",)))
            return
        request = _request_path(sender, options["handle_token"][1])
        self._send(new_method_return(message, "o", (request,)))
        bound = []
        for shortcut_id, props in shortcuts:
            plain = {key: value for key, (_sig, value) in props.items()}
            self.bound.append((shortcut_id, plain))
            trigger = ("s", f"Press {plain.get('preferred_trigger', 'a key')}")
            bound.append((shortcut_id, {"description": props["description"], "trigger_description": trigger}))
        results = {"shortcuts": ("a(sa{sv})", bound)} if self.bind_response == 0 else {}
        response = (self.bind_response, results)
        self._send(new_signal(DBusAddress(request, interface=REQUEST), "Response", "ua{sv}", response))


@contextlib.contextmanager
def portal_on(folder: Path, **options: Any) -> Iterator[tuple[PrivateBus, FakePortal]]:
    """A private bus with a fake portal on it, both stopped afterwards."""
    bus = PrivateBus(folder)
    try:
        portal = FakePortal(bus.address, **options)
        try:
            yield bus, portal
        finally:
            portal.close()
    finally:
        bus.close()
