"""The hand-over between two starts on one home: socket name, protocol, the owner's server, claim().

The server runs in this process's event loop and is driven by a raw ``AF_UNIX``
client on a Python thread, so the bytes on the wire are what is tested. claim()
blocks (holding the interpreter lock while it waits), so the owners it talks to
run in child processes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from aether_qt.core.instance import (
    ERROR_REQUEST,
    ERROR_VERSION,
    MAX_LINE_BYTES,
    HandedOver,
    InstanceServer,
    NoAnswer,
    Owner,
    Reply,
    answer,
    claim,
    decode_reply,
    encode_reply,
    encode_show,
    socket_name,
)
from aether_qt.core.instance_lock import InstanceLock


@pytest.fixture
def runtime_dir() -> Iterator[str]:
    """A short private folder standing in for ``$XDG_RUNTIME_DIR`` (tmp_path may be too long for a socket)."""
    folder = tempfile.mkdtemp(prefix="aether-rt-")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "home" / "data"


# ---------------------------------------------------------------- the socket's name


def test_the_name_is_a_short_hash_of_the_data_folder(tmp_path: Path) -> None:
    one, two = tmp_path / "one" / "data", tmp_path / "two" / "data"
    assert socket_name(one) == socket_name(one)
    assert socket_name(one) != socket_name(two)
    assert socket_name(one).startswith("aether-") and len(socket_name(one)) == len("aether-") + 16
    assert str(tmp_path) not in socket_name(one)


def test_the_socket_lives_in_the_private_runtime_folder(data_dir: Path, runtime_dir: str) -> None:
    assert socket_name(data_dir, runtime_dir) == os.path.join(runtime_dir, socket_name(data_dir))
    os.chmod(runtime_dir, 0o755)  # others may enter: not private, so Qt's temp folder (user-only socket)
    assert socket_name(data_dir, runtime_dir) == socket_name(data_dir)
    assert socket_name(data_dir, "relative/run") == socket_name(data_dir)
    assert socket_name(data_dir, os.path.join(runtime_dir, "missing")) == socket_name(data_dir)


def test_a_runtime_folder_too_long_for_a_socket_path_is_not_used(data_dir: Path, runtime_dir: str) -> None:
    deep = os.path.join(runtime_dir, "d" * 90)
    os.mkdir(deep, 0o700)
    assert socket_name(data_dir, deep) == socket_name(data_dir)


# ---------------------------------------------------------------- the protocol


def test_show_is_answered_ok() -> None:
    assert encode_show() == b'{"v":1,"op":"show"}\n'
    assert answer(encode_show().rstrip(b"\n")) == Reply(ok=True)
    assert answer(b'{"op": "show", "v": 1}') == Reply(ok=True)


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b'{"v":2,"op":"show"}', ERROR_VERSION),
        (b'{"v":true,"op":"show"}', ERROR_VERSION),
        (b'{"v":1.0,"op":"show"}', ERROR_VERSION),
        (b'{"v":"1","op":"show"}', ERROR_VERSION),
        (b'{"op":"show"}', ERROR_REQUEST),
        (b'{"v":1,"op":"quit"}', ERROR_REQUEST),
        (b'{"v":1,"op":"show","args":["rm","-rf"]}', ERROR_REQUEST),
        (b'{"v":1}', ERROR_REQUEST),
        (b'["show"]', ERROR_REQUEST),
        (b"show", ERROR_REQUEST),
        (b"", ERROR_REQUEST),
        (b'{"v":1,"op":"sh\xffow"}', ERROR_REQUEST),
        (b'{"v":1,"op":"show","pad":"' + b"x" * MAX_LINE_BYTES + b'"}', ERROR_REQUEST),
    ],
)
def test_anything_but_show_is_refused(line: bytes, error: str) -> None:
    assert answer(line) == Reply(ok=False, error=error)


def test_replies_round_trip_and_junk_is_no_reply() -> None:
    for reply in (Reply(ok=True), Reply(ok=False, error=ERROR_VERSION)):
        assert decode_reply(encode_reply(reply).rstrip(b"\n")) == reply
    assert decode_reply(b'{"v":1,"ok":false,"error":3}') == Reply(ok=False, error="")
    for junk in (b'{"v":2,"ok":true}', b'{"v":1,"ok":1}', b"[]", b"\xff", b"ok"):
        assert decode_reply(junk) is None


# ---------------------------------------------------------------- the owner's server


class RawClient:
    """Sends bytes to a socket path from a Python thread and keeps what comes back."""

    def __init__(self, path: str, payload: bytes) -> None:
        self.received = b""
        self.closed_by_server = False
        self._thread = threading.Thread(target=self._run, args=(path, payload), daemon=True)
        self._thread.start()

    def _run(self, path: str, payload: bytes) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(path)
            if payload:
                sock.sendall(payload)
            while chunk := sock.recv(4096):
                self.received += chunk
            self.closed_by_server = True

    def done(self) -> bool:
        return not self._thread.is_alive()


@pytest.fixture
def server(qtbot: QtBot, data_dir: Path, runtime_dir: str) -> Iterator[InstanceServer]:
    owner = InstanceServer(name=socket_name(data_dir, runtime_dir), read_timeout_ms=300)
    assert owner.listen()
    yield owner
    owner.close()


def talk(qtbot: QtBot, server: InstanceServer, payload: bytes) -> RawClient:
    client = RawClient(server.full_name, payload)
    qtbot.waitUntil(client.done, timeout=5000)
    return client


def test_the_server_raises_the_window_on_show_and_answers_ok(qtbot: QtBot, server: InstanceServer) -> None:
    assert server.listening and os.stat(server.full_name).st_mode & 0o077 == 0
    with qtbot.waitSignal(server.sig_show_requested, timeout=5000):
        client = RawClient(server.full_name, encode_show())
    qtbot.waitUntil(client.done, timeout=5000)
    assert client.received == b'{"v":1,"ok":true}\n'
    assert client.closed_by_server


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b'{"v":1,"op":"exec","cmd":"touch /tmp/x"}\n', ERROR_REQUEST),
        (b'{"v":9,"op":"show"}\n', ERROR_VERSION),
        (b"x" * (3 * MAX_LINE_BYTES), ERROR_REQUEST),  # no newline within the cap
        (b"not json\n" + encode_show(), ERROR_REQUEST),  # one request per connection, the first line
    ],
)
def test_the_server_refuses_everything_else(
    qtbot: QtBot, server: InstanceServer, payload: bytes, error: str
) -> None:
    shows: list[None] = []
    server.sig_show_requested.connect(lambda: shows.append(None))
    client = talk(qtbot, server, payload)
    assert json.loads(client.received) == {"v": 1, "ok": False, "error": error}
    assert shows == []


def test_a_silent_client_is_dropped(qtbot: QtBot, server: InstanceServer) -> None:
    client = talk(qtbot, server, b'{"v":1,')  # never finishes its line; the server's 300 ms run out
    assert client.received == b""
    assert client.closed_by_server


def test_a_stale_socket_file_is_replaced_and_close_stops_listening(
    qtbot: QtBot, data_dir: Path, runtime_dir: str
) -> None:
    name = socket_name(data_dir, runtime_dir)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(name)  # what a killed owner leaves: a socket file nobody listens on
    stale.close()
    owner = InstanceServer(name=name)
    assert owner.listen()
    assert talk(qtbot, owner, encode_show()).received == b'{"v":1,"ok":true}\n'
    owner.close()
    owner.close()
    assert not owner.listening and not os.path.exists(name)


def test_a_server_that_cannot_listen_says_so(runtime_dir: str, caplog: pytest.LogCaptureFixture) -> None:
    owner = InstanceServer(name=os.path.join(runtime_dir, "missing", "aether-0123456789abcdef"))
    assert not owner.listen()
    assert "cannot reach this app" in caplog.text


# ---------------------------------------------------------------- claim()

OWNER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from PySide6.QtCore import QCoreApplication, QSocketNotifier
    from aether_qt.core.instance import InstanceServer, Owner, claim
    app = QCoreApplication([])
    owner = claim(Path(sys.argv[1]), runtime_dir=sys.argv[2])
    assert isinstance(owner, Owner)
    server = InstanceServer(name=owner.socket_name)
    server.listen()
    server.sig_show_requested.connect(lambda: print("shown", flush=True))
    print("ready", flush=True)
    if sys.argv[3] == "serve":  # until stdin closes
        stdin = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)
        stdin.activated.connect(app.quit)
        app.exec()
    else:  # holds the lock and the socket but never runs its event loop
        sys.stdin.read()
    """
)


@pytest.fixture
def child_owner(data_dir: Path, runtime_dir: str) -> Iterator[Callable[[str], subprocess.Popen[str]]]:
    children: list[subprocess.Popen[str]] = []

    def start(mode: str) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, "-c", OWNER, str(data_dir), runtime_dir, mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        children.append(child)
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        return child

    yield start
    for child in children:
        child.kill()
        child.wait(timeout=10)


class FakeTime:
    """A monotonic clock that only sleep() advances."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps = 0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


def test_the_first_claim_owns_the_home(data_dir: Path, runtime_dir: str) -> None:
    owner = claim(data_dir, runtime_dir=runtime_dir)
    assert isinstance(owner, Owner)
    assert owner.lock.held and owner.socket_name == socket_name(data_dir, runtime_dir)
    owner.lock.release()


def test_a_second_claim_hands_over_to_the_running_owner(
    data_dir: Path, runtime_dir: str, child_owner: Callable[[str], subprocess.Popen[str]]
) -> None:
    child = child_owner("serve")
    assert claim(data_dir, runtime_dir=runtime_dir, timeout_s=5) == HandedOver(pid=child.pid)
    assert child.stdout is not None and child.stdout.readline().strip() == "shown"


def test_an_owner_that_does_not_answer_is_reported(
    data_dir: Path, runtime_dir: str, child_owner: Callable[[str], subprocess.Popen[str]]
) -> None:
    child = child_owner("hang")
    result = claim(data_dir, runtime_dir=runtime_dir, timeout_s=0.3)
    assert result == NoAnswer(pid=child.pid, reason="it did not answer within 0.3 s")


def test_a_holder_without_a_socket_is_reported_after_the_timeout(data_dir: Path, runtime_dir: str) -> None:
    held = InstanceLock.acquire(data_dir)
    assert held is not None
    fake = FakeTime()
    result = claim(data_dir, runtime_dir=runtime_dir, timeout_s=1.0, clock=fake.clock, sleep=fake.sleep)
    held.release()
    assert result == NoAnswer(pid=os.getpid(), reason="it does not accept a second start")
    assert 9 <= fake.sleeps <= 11, "it kept trying every 0.1 s until the timeout"


def test_a_holder_that_quits_meanwhile_leaves_the_home_to_the_new_start(
    data_dir: Path, runtime_dir: str
) -> None:
    held = InstanceLock.acquire(data_dir)
    assert held is not None
    fake = FakeTime()

    def sleep(seconds: float) -> None:
        fake.sleep(seconds)
        if fake.sleeps == 3:
            held.release()  # the owner finished quitting

    result = claim(data_dir, runtime_dir=runtime_dir, timeout_s=5.0, clock=fake.clock, sleep=sleep)
    assert isinstance(result, Owner)
    result.lock.release()


RAW_OWNER = textwrap.dedent(
    """
    import socket, sys
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(sys.argv[1])
    sock.listen(1)
    print("ready", flush=True)
    conn = sock.accept()[0]
    conn.recv(256)
    conn.sendall(sys.argv[2].encode())
    conn.close()
    """
)


def listen_raw(path: str, reply: bytes) -> subprocess.Popen[str]:
    """A raw owner on ``path`` in a child process that reads one request and writes ``reply``.

    Not a thread: the client's blocking waits hold the interpreter lock.
    """
    child = subprocess.Popen(
        [sys.executable, "-c", RAW_OWNER, path, reply.decode()], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    return child


def test_a_refusal_from_another_version_is_reported(data_dir: Path, runtime_dir: str) -> None:
    held = InstanceLock.acquire(data_dir)
    assert held is not None
    child = listen_raw(socket_name(data_dir, runtime_dir), encode_reply(Reply(ok=False, error=ERROR_VERSION)))
    result = claim(data_dir, runtime_dir=runtime_dir, timeout_s=5)
    child.wait(5)
    held.release()
    assert result == NoAnswer(pid=os.getpid(), reason=f"it refused the request ({ERROR_VERSION})")


def test_an_unreadable_reply_is_a_refusal(data_dir: Path, runtime_dir: str) -> None:
    held = InstanceLock.acquire(data_dir)
    assert held is not None
    child = listen_raw(socket_name(data_dir, runtime_dir), b"OK\n")
    result = claim(data_dir, runtime_dir=runtime_dir, timeout_s=5)
    child.wait(5)
    held.release()
    assert isinstance(result, NoAnswer) and "unreadable_reply" in result.reason
