"""The guard's socket and name-resolution rules, and the session's sockets."""

from __future__ import annotations

from pathlib import Path

import pytest

from aether_qt.policy.guard import check_event
from aether_qt.policy.guard_net import is_loopback, session_sockets, shown_host
from aether_qt.policy.guard_rules import GuardRules, make_rules

BUS = "/run/user/1000/bus"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder.resolve()


@pytest.fixture
def rules(data: Path) -> GuardRules:
    return make_rules([data], [], unix_sockets=[BUS, "\0/tmp/.X11-unix/X1"])


# ---------------------------------------------------------------- connect, sendto, sendmsg
@pytest.mark.parametrize(
    "address",
    [
        None,
        BUS,
        BUS.encode(),
        "\0/tmp/.X11-unix/X1",
        ("127.0.0.1", 80),
        ("127.8.9.1", 1),
        ("localhost", 80),
        ("LOCALHOST", 1),
        ("localhost.", 1),
        ("::1", 80, 0, 0),
        ("::ffff:127.0.0.1", 80, 0, 0),
    ],
)
def test_loopback_and_session_sockets_pass(address: object, rules: GuardRules) -> None:
    assert check_event("socket.connect", (object(), address), rules) is None


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        (("10.255.255.1", 9), "10.255.255.1:9"),
        (("example.com", 443), "example.com:443"),
        (("hunter2.exfil.example.com", 53), "*.example.com:53"),
        (("2001:db8::1", 80, 0, 0), "2001:db8::1:80"),
        (("fe80::1%eth0", 80, 0, 0), "fe80::1%eth0:80"),
        ((0, 0), "0:0"),
        (("eth0",), "eth0:?"),
        ((), "None:?"),
        (42, "None:?"),
    ],
)
def test_remote_sockets_are_violations(address: object, shown: str, rules: GuardRules) -> None:
    for event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        assert check_event(event, (object(), address), rules) == f"{event}: non-loopback address {shown}"


def test_other_unix_sockets_are_violations(rules: GuardRules, data: Path) -> None:
    assert check_event("socket.connect", (object(), str(data / "s.sock")), rules) == (
        f"socket.connect: Unix socket that is not the session bus, sound or X server: {data / 's.sock'}"
    )
    assert check_event("socket.sendto", (object(), b"\0other"), rules) == (
        "socket.sendto: Unix socket that is not the session bus, sound or X server: @other"
    )


# ---------------------------------------------------------------- bind
def test_bind(rules: GuardRules, data: Path, tmp_path: Path) -> None:
    assert check_event("socket.bind", (object(), ("127.0.0.1", 0)), rules) is None
    assert check_event("socket.bind", (object(), ("::1", 0, 0, 0)), rules) is None
    assert check_event("socket.bind", (object(), str(data / "s.sock")), rules) is None
    assert check_event("socket.bind", (object(), ("0.0.0.0", 8080)), rules) == (
        "socket.bind: listening on a non-loopback address 0.0.0.0:8080"
    )
    assert check_event("socket.bind", (object(), ("", 0)), rules) is not None
    assert check_event("socket.bind", (object(), ("::", 0, 0, 0)), rules) is not None
    assert check_event("socket.bind", (object(), "\0name"), rules) == "socket.bind: abstract Unix socket"
    assert (
        check_event("socket.bind", (object(), b""), rules) == "socket.bind: abstract Unix socket"
    )  # autobind
    assert check_event("socket.bind", (object(), str(tmp_path / "s.sock")), rules) is not None


# ---------------------------------------------------------------- name resolution
@pytest.mark.parametrize(
    ("event", "args"),
    [
        ("socket.getaddrinfo", ("localhost", 80, 0, 0, 0)),
        ("socket.getaddrinfo", (b"127.0.0.1", 80, 0, 0, 0)),
        ("socket.getaddrinfo", (None, 80, 0, 0, 0)),
        ("socket.gethostbyname", ("localhost",)),
        ("socket.gethostbyname_ex", ("::1",)),
        ("socket.gethostbyaddr", ("127.0.0.1",)),
        ("socket.getnameinfo", (("127.0.0.1", 80),)),
    ],
)
def test_loopback_names_resolve(event: str, args: tuple[object, ...], rules: GuardRules) -> None:
    assert check_event(event, args, rules) is None


@pytest.mark.parametrize(
    ("event", "args", "shown"),
    [
        ("socket.getaddrinfo", ("hunter2.exfil.example.com", 443, 0, 0, 0), "*.example.com"),
        ("socket.getaddrinfo", (b"example.com", 443, 0, 0, 0), "example.com"),
        ("socket.getaddrinfo", ("192.0.2.1", 80, 0, 0, 0), "192.0.2.1"),
        ("socket.getaddrinfo", ("", 80, 0, 0, 0), ""),
        ("socket.gethostbyname", ("example.com",), "example.com"),
        ("socket.gethostbyname_ex", ("example.com",), "example.com"),
        ("socket.gethostbyaddr", ("192.0.2.1",), "192.0.2.1"),
        ("socket.getnameinfo", (("192.0.2.1", 53),), "192.0.2.1"),
    ],
)
def test_other_names_are_violations(
    event: str, args: tuple[object, ...], shown: str, rules: GuardRules
) -> None:
    assert check_event(event, args, rules) == f"{event}: resolving {shown} outside an effector"


def test_changing_the_host_name_is_a_violation(rules: GuardRules) -> None:
    assert check_event("socket.sethostname", ("evil",), rules) == "socket.sethostname: changing the host name"
    assert check_event("socket.gethostname", (), rules) is None


def test_hosts_are_shown_without_what_a_name_could_carry() -> None:
    assert shown_host("a.b.example.com.") == "*.example.com"
    assert shown_host("x" * 100) == "x" * 64
    assert shown_host(b"example.com") == "example.com"
    assert shown_host(7) == "7"
    assert not is_loopback(7)
    assert not is_loopback("localhost.example.com")


# ---------------------------------------------------------------- the session's sockets
def test_session_sockets_from_the_environment() -> None:
    environ = {
        "DBUS_SESSION_BUS_ADDRESS": (
            "tcp:host=x;unix:path=/run/user/1000/b%2cus,guid=1;unix:abstract=/tmp/dbus-X"
        ),
        "XDG_RUNTIME_DIR": "/run/user/1000",
        "PULSE_SERVER": "{abc}unix:/run/pulse/native tcp:remote /srv/pulse relative",
        "DISPLAY": ":7.0",
    }
    assert session_sockets(environ) == (
        "/run/user/1000/b,us",
        "\0/tmp/dbus-X",
        "/run/user/1000/pulse/native",
        "/run/pulse/native",
        "/srv/pulse",
        "/tmp/.X11-unix/X7",
        "\0/tmp/.X11-unix/X7",
    )


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, ()),
        (
            {"DBUS_SESSION_BUS_ADDRESS": "unix:runtime=yes", "XDG_RUNTIME_DIR": "/r"},
            ("/r/bus", "/r/pulse/native"),
        ),
        ({"DBUS_SESSION_BUS_ADDRESS": "unix:runtime=yes"}, ()),
        ({"DBUS_SESSION_BUS_ADDRESS": "unix:tmpdir=/tmp,guid=1"}, ()),
        ({"DBUS_SESSION_BUS_ADDRESS": "unix:path=/x%zz"}, ()),  # malformed: nothing allowed
        ({"DISPLAY": "unix:3"}, ("/tmp/.X11-unix/X3", "\0/tmp/.X11-unix/X3")),
        ({"DISPLAY": "remote:0"}, ()),
        ({"DISPLAY": ":x"}, ()),
        ({"DISPLAY": "0"}, ()),
    ],
)
def test_session_sockets_edge_cases(environ: dict[str, str], expected: tuple[str, ...]) -> None:
    assert session_sockets(environ) == expected
