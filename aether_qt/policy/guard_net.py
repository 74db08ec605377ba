"""The guard's rules for sockets and name resolution.

* ``socket.connect``/``sendto``/``sendmsg``: loopback only, or a Unix socket the
  desktop session provides: the session bus (``DBUS_SESSION_BUS_ADDRESS``; the
  keyring talks to the Secret Service over it), the sound server (``PULSE_SERVER``
  or ``$XDG_RUNTIME_DIR/pulse/native``) and the X server (``/tmp/.X11-unix/X<n>``
  for ``$DISPLAY``, by path or abstract name; python-xlib's push-to-talk connects there).
* ``socket.bind``: loopback addresses, or a Unix socket file in a writable folder
  (binding creates a file); never the wildcard address or an abstract name.
* ``socket.getaddrinfo``/``gethostbyname``/``gethostbyname_ex``/``gethostbyaddr``/
  ``getnameinfo``: loopback names and addresses only (a DNS query carries data
  out, whatever is connected afterwards); ``socket.sethostname`` never.

Host names in reasons are cut to their last two labels: a name made up to carry
data out (``<secret>.example.com``) must not land in a log whole.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator, Mapping

from aether_qt.policy.guard_rules import Check, GuardRules, canonical, path_reason


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def _host_text(host: object) -> str | None:
    if isinstance(host, bytes):
        return host.decode("ascii", "replace")
    return host if isinstance(host, str) else None


def is_loopback(host: object) -> bool:
    """True for ``localhost`` and loopback addresses (IPv4-mapped ones too); never for other names."""
    text = _host_text(host)
    if text is None:
        return False
    if text.lower() in ("localhost", "localhost."):
        return True
    address = _ip(text)
    if address is None:
        return False  # a host name: resolving it is itself network traffic
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


def shown_host(host: object) -> str:
    """A host for a message: addresses whole, names cut to their last two labels."""
    text = _host_text(host)
    if text is None:
        return str(host)
    labels = text.rstrip(".").split(".")
    if _ip(text) is not None or len(labels) <= 2:
        return text[:64]
    return ("*." + ".".join(labels[-2:]))[:64]


def _port(address: object) -> object:
    return address[1] if isinstance(address, tuple) and len(address) > 1 else "?"


def _host(address: object) -> object:
    return address[0] if isinstance(address, tuple) and address else None


def _unix_key(address: str | bytes) -> str:
    name = os.fsdecode(address)
    return name if name.startswith("\0") else canonical(name)


def _check_connect(event: str, args: tuple[object, ...], rules: GuardRules) -> str | None:
    address = args[1]
    if address is None:
        return None  # an already connected socket
    if isinstance(address, (str, bytes)):
        key = _unix_key(address)
        if key in rules.unix_sockets:
            return None
        shown = "@" + key[1:] if key.startswith("\0") else key
        return f"{event}: Unix socket that is not the session bus, sound or X server: {shown}"
    host = _host(address)
    if is_loopback(host):
        return None
    return f"{event}: non-loopback address {shown_host(host)}:{_port(address)}"


def _check_bind(event: str, args: tuple[object, ...], rules: GuardRules) -> str | None:
    address = args[1]
    if isinstance(address, (str, bytes)):
        name = os.fsdecode(address)
        if not name or name.startswith("\0"):
            return f"{event}: abstract Unix socket"  # anyone on the machine could connect
        return path_reason(event, name, -1, rules)  # the socket file is a write
    host = _host(address)
    if is_loopback(host):
        return None
    return f"{event}: listening on a non-loopback address {shown_host(host)}:{_port(address)}"


def _check_resolve(event: str, args: tuple[object, ...], rules: GuardRules) -> str | None:
    host = _host(args[0]) if event == "socket.getnameinfo" else args[0]
    if host is None or is_loopback(host):
        return None  # getaddrinfo(None, port) is the local wildcard or loopback: no query
    return f"{event}: resolving {shown_host(host)} outside an effector"


def _check_sethostname(event: str, args: tuple[object, ...], rules: GuardRules) -> str | None:
    return f"{event}: changing the host name"


NET_CHECKS: dict[str, Check] = {
    **dict.fromkeys(("socket.connect", "socket.sendto", "socket.sendmsg"), _check_connect),
    "socket.bind": _check_bind,
    **dict.fromkeys(
        (
            "socket.getaddrinfo",
            "socket.gethostbyname",
            "socket.gethostbyname_ex",
            "socket.gethostbyaddr",
            "socket.getnameinfo",
        ),
        _check_resolve,
    ),
    "socket.sethostname": _check_sethostname,
}
"""Socket and name-resolution rules by audit event."""


# ---------------------------------------------------------------------- the session's sockets
def _unescape(value: str) -> str:
    """D-Bus address values escape bytes as ``%XX``."""
    head, *parts = value.split("%")
    return head + "".join(chr(int(part[:2], 16)) + part[2:] for part in parts)


def _dbus(address: str, runtime_dir: str) -> Iterator[str]:
    for entry in address.split(";"):
        transport, _, info = entry.partition(":")
        if transport != "unix":
            continue
        pairs = dict(item.partition("=")[::2] for item in info.split(",") if "=" in item)
        if "path" in pairs:
            yield _unescape(pairs["path"])
        elif "abstract" in pairs:
            yield "\0" + _unescape(pairs["abstract"])
        elif pairs.get("runtime") == "yes" and runtime_dir:
            yield os.path.join(runtime_dir, "bus")


def _pulse(servers: str, runtime_dir: str) -> Iterator[str]:
    if runtime_dir:
        yield os.path.join(runtime_dir, "pulse", "native")
    for entry in servers.split():
        server = entry.partition("}")[2] if entry.startswith("{") else entry
        server = server.removeprefix("unix:")
        if os.path.isabs(server):
            yield server


def _x11(display: str) -> Iterator[str]:
    host, colon, rest = display.rpartition(":")
    number = rest.partition(".")[0]
    if colon and host in ("", "unix") and number.isdigit():
        path = f"/tmp/.X11-unix/X{int(number)}"  # noqa: S108 - the X server's socket, not a temp file
        yield path
        yield "\0" + path


def session_sockets(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The Unix sockets of this desktop session: session bus, sound server, X server.

    Abstract names start with ``"\\0"``; paths are as configured (not yet resolved).
    """
    runtime_dir = environ.get("XDG_RUNTIME_DIR", "")
    try:
        dbus = list(_dbus(environ.get("DBUS_SESSION_BUS_ADDRESS", ""), runtime_dir))
    except ValueError:  # a malformed escape: the bus cannot be reached by that address anyway
        dbus = []
    return (
        *dbus,
        *_pulse(environ.get("PULSE_SERVER", ""), runtime_dir),
        *_x11(environ.get("DISPLAY", "")),
    )
