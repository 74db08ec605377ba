"""One app per home: a second start hands over to the running app, which raises its window.

:func:`claim` runs before anything is opened. It takes the home's
:class:`~aether_qt.core.instance_lock.InstanceLock`; if another process holds
it, it connects to that app's local socket, asks it to show its window and
waits for the answer. The owner runs an :class:`InstanceServer` on the socket
for as long as it holds the lock.

The socket's name is derived from the data folder (``aether-`` and 16 hex
digits of its SHA-256), in ``$XDG_RUNTIME_DIR`` (private to the user) when
there is one, else in Qt's temp folder; either way only the user may connect
(``UserAccessOption``). A socket file left by a crash is removed only by the
lock's holder, so a live app's socket is never taken away.

The protocol is one JSON line each way, versioned; the only request is
``{"v": 1, "op": "show"}``, answered ``{"v": 1, "ok": true}`` or
``{"v": 1, "ok": false, "error": CODE}``. Anything else is refused and nothing
received is ever executed. Bytes are capped, and a connection that says
nothing is dropped after :data:`READ_TIMEOUT_MS`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from aether_qt.core.instance_lock import InstanceLock, holder_pid

_log = logging.getLogger(__name__)

PROTOCOL_VERSION: Final = 1
OP_SHOW: Final = "show"
MAX_LINE_BYTES: Final = 256  # a request or a reply, newline included
READ_TIMEOUT_MS: Final = 2000  # the owner drops a connection that has not sent a whole line by then
CLAIM_TIMEOUT_S: Final = 10.0  # a second start waits this long for the owner's answer
RETRY_S: Final = 0.1  # between attempts while the owner is not (or no longer) listening
_MAX_SOCKET_PATH: Final = 100  # sun_path holds 104 (macOS) to 108 (Linux) bytes
ERROR_VERSION: Final = "unsupported_version"
ERROR_REQUEST: Final = "bad_request"
_ABSENT: Final = "absent"
_SILENT: Final = "silent"


# ---------------------------------------------------------------- the socket's name


def socket_name(data_dir: Path, runtime_dir: str | None = None) -> str:
    """The local socket name of the home whose data folder is ``data_dir``.

    Args:
        data_dir: the home's data folder (resolved, as :func:`~aether_qt.core.paths.resolve_paths` gives it).
        runtime_dir: the user's private runtime folder (``$XDG_RUNTIME_DIR``); used when it is an
            absolute folder owned by this user that nobody else may enter, and short enough.

    Returns:
        An absolute socket path, or a bare name that Qt places in its temp folder.
    """
    digest = hashlib.sha256(os.fsencode(data_dir)).hexdigest()[:16]
    name = f"aether-{digest}"
    if runtime_dir and _private_folder(runtime_dir):
        path = os.path.join(runtime_dir, name)
        if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
            return path
    return name


def _private_folder(folder: str) -> bool:
    try:
        info = os.stat(folder)
    except OSError:
        return False
    private = stat.S_IMODE(info.st_mode) & 0o077 == 0
    return os.path.isabs(folder) and stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and private


# ---------------------------------------------------------------- the protocol


@dataclass(frozen=True, slots=True)
class Reply:
    """The owner's answer: ``ok``, or the code of the refusal."""

    ok: bool
    error: str = ""


def encode_show() -> bytes:
    """The one request: show the running window."""
    return _line({"v": PROTOCOL_VERSION, "op": OP_SHOW})


def encode_reply(reply: Reply) -> bytes:
    """One reply line."""
    body: dict[str, object] = {"v": PROTOCOL_VERSION, "ok": reply.ok}
    if not reply.ok:
        body["error"] = reply.error
    return _line(body)


def answer(line: bytes) -> Reply:
    """The owner's answer to one request line (without its newline): ``ok`` only for a valid "show"."""
    body = _object(line)
    if body is None or "v" not in body:
        return Reply(ok=False, error=ERROR_REQUEST)
    version = body["v"]
    if type(version) is not int or version != PROTOCOL_VERSION:
        return Reply(ok=False, error=ERROR_VERSION)
    if set(body) != {"v", "op"} or body["op"] != OP_SHOW:
        return Reply(ok=False, error=ERROR_REQUEST)
    return Reply(ok=True)


def decode_reply(line: bytes) -> Reply | None:
    """A reply line (without its newline), or ``None`` if it is not one."""
    body = _object(line)
    if body is None or body.get("v") != PROTOCOL_VERSION or type(body.get("ok")) is not bool:
        return None
    error = body.get("error", "")
    return Reply(ok=bool(body["ok"]), error=error if isinstance(error, str) else "")


def _line(body: dict[str, object]) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode("utf-8") + b"\n"


def _object(line: bytes) -> dict[str, object] | None:
    if len(line) >= MAX_LINE_BYTES:
        return None
    try:
        body = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return body if isinstance(body, dict) else None


# ---------------------------------------------------------------- the owner


class InstanceServer(QObject):
    """The owner's end of the hand-over: listens on the home's socket and answers requests.

    Create it only while holding the home's lock (:meth:`listen` removes a stale socket).

    Signals:
        sig_show_requested(): another start asked for the window (emitted before the answer is sent).
    """

    sig_show_requested = Signal()

    def __init__(
        self, *, name: str, read_timeout_ms: int = READ_TIMEOUT_MS, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._name = name
        self._read_timeout_ms = read_timeout_ms
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_server_new_connection)

    @property
    def listening(self) -> bool:
        """True while the socket accepts connections."""
        return self._server.isListening()

    @property
    def full_name(self) -> str:
        """The socket's path in the file system ("" when not listening)."""
        return self._server.fullServerName()

    def listen(self) -> bool:
        """Listen on the home's socket; False (logged) if it cannot: then a second start gets no answer.

        A socket file left by a crashed owner is removed first; only the lock's holder may do that.
        """
        QLocalServer.removeServer(self._name)
        if self._server.listen(self._name):
            return True
        _log.warning("a second start cannot reach this app: %s (%s)", self._server.errorString(), self._name)
        return False

    def close(self) -> None:
        """Stop listening and drop open connections (idempotent)."""
        self._server.close()
        for connection in self.findChildren(_Connection):
            connection.drop()

    def _on_server_new_connection(self) -> None:
        while (socket := self._server.nextPendingConnection()) is not None:
            _Connection(socket=socket, respond=self._respond, timeout_ms=self._read_timeout_ms, parent=self)

    def _respond(self, line: bytes) -> bytes:
        reply = answer(line)
        if reply.ok:
            self.sig_show_requested.emit()
        else:
            _log.warning("refused a request on the instance socket: %s", reply.error)
        return encode_reply(reply)


class _Connection(QObject):
    """One client: one line is read (an overlong one counts as ""), one reply written, then it closes."""

    def __init__(
        self, *, socket: QLocalSocket, respond: Callable[[bytes], bytes], timeout_ms: int, parent: QObject
    ) -> None:
        super().__init__(parent)
        self._socket = socket
        self._respond = respond
        socket.setParent(self)
        self._buffer = b""
        self._done = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._timer.start(timeout_ms)
        socket.readyRead.connect(self._on_socket_ready_read)
        socket.disconnected.connect(self._on_socket_disconnected)
        if socket.bytesAvailable():
            self._on_socket_ready_read()

    def drop(self) -> None:
        """Abort the connection at once."""
        self._timer.stop()
        self._socket.abort()
        self.deleteLater()

    def _on_socket_ready_read(self) -> None:
        if self._done:
            self._socket.readAll()  # one request per connection; the rest is ignored
            return
        self._buffer += bytes(self._socket.read(MAX_LINE_BYTES).data())
        line, newline, _rest = self._buffer.partition(b"\n")
        if newline or len(self._buffer) >= MAX_LINE_BYTES:
            self._done = True
            self._socket.write(self._respond(line if newline else b""))
            self._socket.disconnectFromServer()  # once the reply is written; the timer bounds the wait

    def _on_socket_disconnected(self) -> None:
        self._timer.stop()
        self.deleteLater()

    def _on_timer_timeout(self) -> None:
        _log.warning("dropped a silent connection on the instance socket")
        self.drop()


# ---------------------------------------------------------------- a second start


@dataclass(frozen=True, slots=True)
class Owner:
    """This process now holds the home: run the app and listen on ``socket_name``."""

    lock: InstanceLock
    socket_name: str


@dataclass(frozen=True, slots=True)
class HandedOver:
    """The running app (pid when known) answered "show": this start has nothing more to do."""

    pid: int | None


@dataclass(frozen=True, slots=True)
class NoAnswer:
    """Another process holds the home but did not take the hand-over; ``reason`` says how, in words."""

    pid: int | None
    reason: str


Claim = Owner | HandedOver | NoAnswer


def claim(
    data_dir: Path,
    *,
    timeout_s: float = CLAIM_TIMEOUT_S,
    runtime_dir: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Claim:
    """Become the home's one app, or hand over to the app that already is.

    Tries the lock; if it is held, asks the holder to show its window. While the
    holder does not listen (still starting, or quitting), tries both again every
    :data:`RETRY_S` until ``timeout_s``: a holder that quits in the meantime
    leaves the home to this start.

    Args:
        data_dir: the home's data folder.
        timeout_s: how long to wait for the holder in all.
        runtime_dir: where the socket lives (default ``$XDG_RUNTIME_DIR``; see :func:`socket_name`).
        clock: monotonic seconds; sleep: waits between attempts (both injectable for tests).

    Raises:
        OSError: the lock file cannot be created or opened.
    """
    name = socket_name(
        data_dir, runtime_dir if runtime_dir is not None else os.environ.get("XDG_RUNTIME_DIR")
    )
    deadline = clock() + timeout_s
    while True:
        lock = InstanceLock.acquire(data_dir)
        if lock is not None:
            return Owner(lock=lock, socket_name=name)
        reply = _ask_to_show(name, max(1, int((deadline - clock()) * 1000)), clock)
        if isinstance(reply, Reply):
            if reply.ok:
                return HandedOver(pid=holder_pid(data_dir))
            return NoAnswer(pid=holder_pid(data_dir), reason=f"it refused the request ({reply.error})")
        if reply == _SILENT:
            return NoAnswer(pid=holder_pid(data_dir), reason=f"it did not answer within {timeout_s:g} s")
        if clock() >= deadline:
            return NoAnswer(pid=holder_pid(data_dir), reason="it does not accept a second start")
        sleep(RETRY_S)


def _ask_to_show(name: str, timeout_ms: int, clock: Callable[[], float]) -> Reply | str:
    """Send "show" to ``name`` and read the reply; blocking, so it needs no event loop.

    Returns:
        The reply; :data:`_ABSENT` if nobody listens or the connection closed unanswered
        (an owner quitting); :data:`_SILENT` if the owner kept it open past ``timeout_ms``.
    """
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(min(timeout_ms, 1000)):
        return _ABSENT
    deadline = clock() + timeout_ms / 1000
    socket.write(encode_show())
    socket.waitForBytesWritten(timeout_ms)  # without an event loop nothing else sends it
    received = b""
    while b"\n" not in received and len(received) < MAX_LINE_BYTES:
        left_ms = int((deadline - clock()) * 1000)
        if left_ms <= 0:
            socket.abort()
            return _SILENT
        if not socket.waitForReadyRead(left_ms):
            closed = socket.state() != QLocalSocket.LocalSocketState.ConnectedState
            socket.abort()
            return _ABSENT if closed else _SILENT
        received += bytes(socket.read(MAX_LINE_BYTES).data())
    socket.abort()
    line, _newline, _rest = received.partition(b"\n")
    return decode_reply(line) or Reply(ok=False, error="unreadable_reply")
