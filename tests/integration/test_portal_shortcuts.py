"""The portal push-to-talk backend against a GlobalShortcuts portal on a private session bus.

Every call, Response and Activated/Deactivated signal crosses a real
``dbus-daemon`` (started by the test, stopped by its pid). The fake portal emits
each Response the moment after its reply: a client that subscribed late would
never see it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from jeepney import DBusAddress, HeaderFields, new_signal
from jeepney.io.blocking import open_dbus_connection
from portal_support import DESKTOP, SHORTCUTS, FakePortal, PrivateBus

from aether_qt.engines.media.portal_protocol import BoundShortcut
from aether_qt.engines.media.portal_shortcuts import PortalShortcutsBackend, probe_portal

WAIT_S = 10.0
Bound = tuple[FakePortal, PortalShortcutsBackend, "Events"]


class Events:
    """What the backend reported, in order, with a way to wait for it."""

    def __init__(self) -> None:
        self.seen: list[object] = []
        self._changed = threading.Condition()

    def add(self, event: object) -> None:
        with self._changed:
            self.seen.append(event)
            self._changed.notify_all()

    def wait_for(self, count: int) -> list[object]:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.seen) >= count, WAIT_S), self.seen
            return list(self.seen)


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[PrivateBus]:
    private = PrivateBus(tmp_path / "bus")
    yield private
    private.close()


def open_portal_backend(bus: PrivateBus, events: Events, key: str = "F9") -> PortalShortcutsBackend:
    return PortalShortcutsBackend(
        key,
        lambda: events.add("press"),
        lambda: events.add("release"),
        on_bound=events.add,
        on_failed=lambda reason: events.add(f"failed: {reason}"),
        environ={"DBUS_SESSION_BUS_ADDRESS": bus.address},
    )


@pytest.fixture
def bound(bus: PrivateBus) -> Iterator[Bound]:
    """A portal that binds, and a backend that was bound by it."""
    portal = FakePortal(bus.address)
    events = Events()
    backend = open_portal_backend(bus, events)
    try:
        events.wait_for(1)
        yield portal, backend, events
    finally:
        backend.stop()
        portal.close()


def test_the_shortcut_is_bound_and_activated_deactivated_are_press_and_release(
    bound: Bound,
) -> None:
    portal, backend, events = bound
    assert events.seen == [BoundShortcut("push-to-talk", "Hold to talk to Aether", "Press F9")]
    asked = {"description": "Hold to talk to Aether", "preferred_trigger": "F9"}
    assert portal.bound == [("push-to-talk", asked)]
    assert backend.version == 1
    portal.activate()
    portal.activate()  # a desktop that repeats: still one press
    portal.deactivate()
    assert events.wait_for(3)[1:] == ["press", "release"]
    portal.activate()
    portal.deactivate()
    assert events.wait_for(5)[1:] == ["press", "release", "press", "release"]


def test_stop_closes_the_session_on_the_portal(bound: Bound) -> None:
    portal, backend, _events = bound
    session = portal.session
    backend.stop()
    portal.wait_for(lambda: portal.closed == [session])


def test_signals_for_another_session_or_shortcut_or_from_another_sender_are_ignored(
    bus: PrivateBus, bound: Bound
) -> None:
    portal, _backend, events = bound
    portal.activate("some-other-shortcut")
    portal.activate(session="/org/freedesktop/portal/desktop/session/1_99/theirs")
    with open_dbus_connection(bus.address) as impostor:  # any process on the bus can emit signals
        body = (portal.session, "push-to-talk", 1, {})
        emitter = DBusAddress(DESKTOP, interface=SHORTCUTS)
        spoof = new_signal(emitter, "Activated", "osta{sv}", body)
        impostor.send(spoof)  # broadcast: the bus routes it by our match rule (sender = the portal)
        spoof.header.fields[HeaderFields.destination] = portal.sessions[portal.session]
        impostor.send(spoof)  # unicast to the app: delivered whatever its match rules say
    portal.deactivate()  # nothing is held: no release (after a spoofed press there would be one)
    portal.activate()
    portal.close_session()  # a last event, so the whole sequence has been read when it arrives
    assert events.wait_for(4)[1:] == ["press", "release", "failed: the desktop closed the shortcut session"]


def test_a_portal_that_goes_away_mid_hold_releases_the_key_then_says_so(
    bound: Bound,
) -> None:
    portal, _backend, events = bound
    portal.activate()
    events.wait_for(2)
    portal.vanish()
    assert events.wait_for(4)[2:] == ["release", "failed: the desktop portal stopped"]


def test_a_session_the_desktop_closes_is_a_failure(bound: Bound) -> None:
    portal, _backend, events = bound
    portal.close_session()
    assert events.wait_for(2)[1:] == ["failed: the desktop closed the shortcut session"]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (1, "the shortcut was declined in the desktop's dialog"),
        (2, "the desktop ended the request while binding the push-to-talk shortcut"),
    ],
)
def test_a_declined_bind_fails_with_its_reason_and_closes_the_session(
    bus: PrivateBus, code: int, reason: str
) -> None:
    portal = FakePortal(bus.address, bind_response=code)
    events = Events()
    backend = open_portal_backend(bus, events)
    try:
        assert events.wait_for(1) == [f"failed: {reason}"]
        portal.wait_for(lambda: portal.closed == list(portal.sessions))
    finally:
        backend.stop()
        portal.close()


def test_a_dbus_error_from_bind_is_a_failure_naming_it(bus: PrivateBus) -> None:
    portal = FakePortal(bus.address, bind_error="org.freedesktop.portal.Error.Failed")
    events = Events()
    backend = open_portal_backend(bus, events)
    try:
        refused = "the desktop portal refused binding the push-to-talk shortcut"
        assert events.wait_for(1) == [f"failed: {refused} (org.freedesktop.portal.Error.Failed)"]
        portal.wait_for(lambda: portal.closed == list(portal.sessions))
    finally:
        backend.stop()
        portal.close()


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"with_shortcuts": False}, "the desktop portal has no GlobalShortcuts interface"),
        ({"version": 0}, "the desktop portal's GlobalShortcuts is version 0 (needs 1)"),
    ],
)
def test_a_portal_without_a_usable_interface_is_refused_before_any_session(
    bus: PrivateBus, options: dict[str, object], reason: str
) -> None:
    portal = FakePortal(bus.address, **options)  # type: ignore[arg-type]
    events = Events()
    backend = open_portal_backend(bus, events)
    try:
        assert events.wait_for(1) == [f"failed: {reason}"]
        assert portal.sessions == {}
        assert probe_portal({"DBUS_SESSION_BUS_ADDRESS": bus.address}).reason == reason
    finally:
        backend.stop()
        portal.close()


def test_no_portal_on_the_bus_and_no_bus_at_all_are_failures_with_reasons(
    bus: PrivateBus, tmp_path: Path
) -> None:
    events = Events()
    backend = open_portal_backend(bus, events)
    try:
        assert events.wait_for(1) == ["failed: no desktop portal is running on the session bus"]
    finally:
        backend.stop()
    gone = probe_portal({"DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path / 'nothing'}"})
    assert gone.version is None and gone.reason.startswith("cannot reach the session bus")
    assert probe_portal({}).reason == "no session bus (DBUS_SESSION_BUS_ADDRESS is not set)"


def test_the_probe_reads_the_version_and_binds_nothing(bus: PrivateBus) -> None:
    portal = FakePortal(bus.address, version=2)
    try:
        assert probe_portal({"DBUS_SESSION_BUS_ADDRESS": bus.address}).version == 2
        assert portal.calls == ["org.freedesktop.DBus.Properties.Get"] and portal.sessions == {}
    finally:
        portal.close()
