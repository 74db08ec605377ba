"""``aether doctor`` names the push-to-talk backend it would use and why, in a Wayland session.

The session bus is the test's own ``dbus-daemon``; with the GlobalShortcuts portal
on it doctor names the portal and its version (asking the version only: binding
would open the desktop's dialog); without it, the in-window shortcut and the reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import Cli
from portal_support import FakePortal, PrivateBus


def wayland(cli: Cli, bus: PrivateBus) -> dict[str, str]:
    """A Wayland session without XWayland whose session bus is ``bus`` (no compositor: Qt draws offscreen)."""
    env = cli.env(
        XDG_SESSION_TYPE="wayland",
        WAYLAND_DISPLAY="wayland-0",
        DBUS_SESSION_BUS_ADDRESS=bus.address,
        QT_QPA_PLATFORM="offscreen",
    )
    env.pop("DISPLAY", None)
    return env


@pytest.mark.slow  # three runs of every doctor check
def test_doctor_names_the_portal_on_wayland_and_the_reason_when_it_is_missing(tmp_path: Path) -> None:
    cli = Cli(home=tmp_path / "home", key_file=True)
    bus = PrivateBus(tmp_path / "bus")
    try:
        portal = FakePortal(bus.address)
        try:
            text = cli.run("doctor", env=wayland(cli, bus)).stdout
            assert (
                "[ok  ] hotkey   push-to-talk F9: portal GlobalShortcuts (Wayland session, portal version 1)"
                in text
            )
            hotkey = cli.json("doctor", env=wayland(cli, bus))["checks"]["hotkey"]
            assert hotkey == {
                "ok": True,
                "backend": "portal",
                "key": "F9",
                "notes": ["x11: Wayland session without XWayland"],
                "detail": "push-to-talk F9: portal GlobalShortcuts (Wayland session, portal version 1)",
            }
            assert portal.sessions == {} and portal.bound == []  # asked, never bound
        finally:
            portal.close()
        hotkey = cli.json("doctor", env=wayland(cli, bus))["checks"]["hotkey"]
    finally:
        bus.close()
    assert hotkey["ok"] is None and hotkey["backend"] == "in-window"
    assert hotkey["notes"] == [
        "portal: no desktop portal is running on the session bus",
        "x11: Wayland session without XWayland",
    ]
    assert hotkey["detail"] == (
        "push-to-talk F9: in-window shortcut: Wayland without the GlobalShortcuts portal "
        "(portal: no desktop portal is running on the session bus; x11: Wayland session without XWayland)"
    )
