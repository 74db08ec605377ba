"""One app per home, on the real X server: a second start raises the running window and exits 0.

Each test starts the real app (:func:`aether_qt.app.run_app`) in a subprocess on a
temp home. Its ``on_ready`` hook writes the window's state to a file whenever it
changes (one JSON line: visible, minimised, active, the X window id) and quits
when a stop file appears, so the test can hide the window, start ``aether`` a
second time and watch the first window come back. ``AETHER_MODEL`` names no
model, so no test waits for (or spends two cores on) the bundled one.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from aether_qt.core.instance import socket_name
from aether_qt.core.instance_lock import InstanceLock
from aether_qt.core.paths import resolve_paths

START_TIMEOUT_S = 90.0  # two cores shared with other runs: the first start may take a while
SECOND_START_TIMEOUT_S = 20.0

FIRST_APP = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from PySide6.QtCore import QTimer
    from aether_qt.app import AppOptions, run_app

    home, states, stop, commands = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])

    def ready(parts):
        window = parts.window
        seen = []
        done = set()

        def tick():
            state = {
                "visible": window.isVisible(),
                "minimised": window.isMinimized(),
                "active": window.isActiveWindow(),
                "wid": int(window.winId()),
                # getattr: the script also runs on code from before the hand-over (the test must fail there)
                "socket": parts.instance.full_name if getattr(parts, "instance", None) else "",
            }
            if not seen or seen[-1] != state:
                seen.append(state)
                with states.open("a") as out:
                    out.write(json.dumps(state) + "\\n")
            for line in commands.read_text().split() if commands.exists() else []:
                if line not in done:  # what a user would do to the window
                    done.add(line)
                    {"hide": window.hide, "minimise": window.showMinimized}[line.split(":")[0]]()
            if stop.exists():
                parts.app.quit()

        timer = QTimer(parts.app)
        timer.timeout.connect(tick)
        timer.start(40)

    sys.exit(run_app(AppOptions(home=home, allow_key_file=True), on_ready=ready))
    """
)


class FirstApp:
    """A running app on ``home`` whose window state is read from its state file."""

    def __init__(self, home: Path, work: Path, env: dict[str, str]) -> None:
        self.home = home
        self.states = work / "states.jsonl"
        self.stop_file = work / "stop"
        self.commands = work / "commands"
        self.log = (work / "first.log").open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                FIRST_APP,
                str(home),
                str(self.states),
                str(self.stop_file),
                str(self.commands),
            ],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def history(self) -> list[dict[str, Any]]:
        if not self.states.exists():
            return []
        return [json.loads(line) for line in self.states.read_text().splitlines() if line.endswith("}")]

    def wait_for(self, what: str, test: Callable[[dict[str, Any]], bool], timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = self.history()
            if states and test(states[-1]):
                return states[-1]
            if self.proc.poll() is not None:
                pytest.fail(f"the first app ended ({self.proc.returncode}) before {what}: {self.output()}")
            time.sleep(0.05)
        pytest.fail(f"timed out waiting for {what}; states: {self.history()[-3:]}; {self.output()}")

    def command(self, *lines: str) -> None:
        existing = self.commands.read_text() if self.commands.exists() else ""
        self.commands.write_text(existing + "".join(f"{line}\n" for line in lines))

    def quit(self) -> int:
        self.stop_file.touch()
        try:
            return self.proc.wait(timeout=30)
        finally:
            self.log.close()

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()[-3000:]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def app_env(x11: str) -> dict[str, str]:
    """The test display, no keyring (the opt-in key file) and no local model to load."""
    return {
        **os.environ,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "AETHER_MODEL": "no-model-in-this-test",
    }


@pytest.fixture
def start_first(app_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[Path], FirstApp]]:
    started: list[FirstApp] = []

    def start(home: Path) -> FirstApp:
        work = tmp_path / f"app-{len(started)}"
        work.mkdir()
        app = FirstApp(home, work, app_env)
        started.append(app)
        return app

    yield start
    for app in started:
        app.kill()


def second_start(home: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``python -m aether_qt.cli --home HOME``, as a user (or the desktop entry) would start it."""
    return subprocess.run(
        [sys.executable, "-m", "aether_qt.cli", "--home", str(home)],
        env=env,
        capture_output=True,
        text=True,
        timeout=SECOND_START_TIMEOUT_S,
        check=False,
    )


def visible(state: dict[str, Any]) -> bool:
    return bool(state["visible"]) and not state["minimised"]


def shown(state: dict[str, Any]) -> bool:
    """Visible, not minimised, and the active window (which a plain start is not, with no window manager)."""
    return visible(state) and bool(state["active"])


def db_openers(db: Path) -> set[int]:
    """The pids of the processes that have ``db`` open (read from /proc)."""
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            links = [os.readlink(fd) for fd in (proc / "fd").iterdir()]
        except OSError:
            continue
        if str(db) in links:
            pids.add(int(proc.name))
    return pids


def session_starts(home: Path) -> int:
    """How many times a policy runtime was opened on ``home`` (its ``session_start`` audit rows)."""
    uri = f"file:{resolve_paths(home).audit_db}?mode=ro"
    with closing(sqlite3.connect(uri, uri=True)) as db:
        (count,) = db.execute("SELECT count(*) FROM audit_log WHERE decision = 'session_start'").fetchone()
    return int(count)


def test_a_second_start_raises_the_hidden_window_and_exits_0(
    home: Path, app_env: dict[str, str], start_first: Callable[[Path], FirstApp]
) -> None:
    first = start_first(home)
    first.wait_for("the window shown", visible, START_TIMEOUT_S)
    first.command("hide")
    first.wait_for("the window hidden", lambda s: not s["visible"], 10)

    done = second_start(home, app_env)  # within SECOND_START_TIMEOUT_S: most of it is importing the app
    assert done.returncode == 0, done.stderr
    assert "already running" in done.stderr
    assert "Traceback" not in done.stderr
    first.wait_for("the window shown again", shown, 10)
    assert db_openers(resolve_paths(home).app_db) == {first.proc.pid}, "one aether.db writer"

    first.command("minimise:1")
    first.wait_for("the window minimised", lambda s: bool(s["minimised"]), 10)
    done = second_start(home, app_env)
    assert done.returncode == 0, done.stderr
    first.wait_for("the window un-minimised", shown, 10)

    assert first.proc.poll() is None, "the first app keeps running"
    assert first.quit() == 0, first.output()
    assert session_starts(home) == 1, "only the first start opened the policy runtime"


def test_a_killed_app_leaves_no_stale_lock(
    home: Path, app_env: dict[str, str], start_first: Callable[[Path], FirstApp]
) -> None:
    first = start_first(home)
    state = first.wait_for("the window shown", visible, START_TIMEOUT_S)
    assert state["socket"] and Path(state["socket"]).exists()
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)
    assert Path(state["socket"]).exists(), "the killed app's socket file is left behind"

    again = start_first(home)  # the lock went with the process; the stale socket is replaced
    assert again.wait_for("the new window shown", visible, START_TIMEOUT_S)["socket"] == state["socket"]
    done = second_start(home, app_env)
    assert done.returncode == 0, done.stderr
    assert again.quit() == 0, again.output()


def test_two_homes_run_side_by_side(
    tmp_path: Path, app_env: dict[str, str], start_first: Callable[[Path], FirstApp]
) -> None:
    homes = [tmp_path / "one", tmp_path / "two"]
    apps = [start_first(home) for home in homes]
    sockets = [app.wait_for("its window shown", visible, START_TIMEOUT_S)["socket"] for app in apps]
    assert sockets[0] != sockets[1]
    assert sockets == [
        socket_name(resolve_paths(h).data_dir, os.environ.get("XDG_RUNTIME_DIR")) for h in homes
    ]
    assert all(app.proc.poll() is None for app in apps), "both apps run at once"
    assert [app.quit() for app in apps] == [0, 0]
    assert [session_starts(home) for home in homes] == [1, 1]


BOXED_APP = textwrap.dedent(
    """
    import functools, sys
    from PySide6.QtWidgets import QMessageBox
    import aether_qt.app as app

    def critical(parent, title, text):  # a modal box would wait for a user
        print("BOX:", title, "|", text.replace("\\n", " "), flush=True)
    QMessageBox.critical = critical
    app.claim = functools.partial(app.claim, timeout_s=0.5)  # not the 10 s a user gets
    sys.exit(app.run_app(app.AppOptions(home=sys.argv[1], allow_key_file=True)))
    """
)


def run_boxed(home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return subprocess.run(
        [sys.executable, "-c", BOXED_APP, str(home)], env=env, capture_output=True, text=True, timeout=60
    )


def test_a_holder_that_does_not_answer_is_reported_and_nothing_is_opened(home: Path) -> None:
    data_dir = resolve_paths(home).data_dir
    held = InstanceLock.acquire(data_dir)  # this process holds the home and never listens
    assert held is not None
    try:
        done = run_boxed(home)
    finally:
        held.release()
    assert done.returncode == 1, done.stderr
    assert (
        f"BOX: Aether is already running | Aether is already running for this home (pid {os.getpid()})"
        in (done.stdout)
    )
    assert "does not accept a second start" in done.stdout
    assert sorted(p.name for p in data_dir.iterdir()) == ["aether.lock"], "no database was opened"


def test_a_home_that_cannot_be_locked_is_reported(home: Path) -> None:
    (home / "data").write_text("a file where the data folder should be")
    done = run_boxed(home)
    assert done.returncode == 2, done.stderr
    assert "BOX: Aether cannot start | Aether cannot open its data." in done.stdout
    assert "Traceback" not in done.stderr


def installed_exec(home: Path, env: dict[str, str]) -> list[str]:
    """``aether install-desktop`` into the env's XDG folders; the installed entry's Exec as argv."""
    subprocess.run(
        [sys.executable, "-m", "aether_qt.cli", "--home", str(home), "--allow-key-file", "install-desktop"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    entry = Path(env["XDG_DATA_HOME"]) / "applications" / "io.github.aether.Aether.desktop"
    line = next(v for v in entry.read_text().splitlines() if v.startswith("Exec="))
    # string escapes first (\\ -> \), then the Exec quoting, which shlex reads the same way
    return shlex.split(line.removeprefix("Exec=").replace("\\\\", "\\").replace("%%", "%"))


def test_the_installed_desktop_entry_raises_the_running_window(
    home: Path, app_env: dict[str, str], start_first: Callable[[Path], FirstApp], tmp_path: Path
) -> None:
    env = {
        **app_env,
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-cfg"),
    }
    argv = installed_exec(home, env)
    assert Path(argv[0]).is_absolute() and argv[1:3] == ["--home", str(home)]
    first = start_first(home)
    first.wait_for("the window shown", visible, START_TIMEOUT_S)
    first.command("hide")
    first.wait_for("the window hidden", lambda s: not s["visible"], 10)

    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=SECOND_START_TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    assert "already running" in done.stderr
    first.wait_for("the window shown again", shown, 10)
    assert first.proc.poll() is None and first.quit() == 0, first.output()
    assert session_starts(home) == 2, "the install and the first app opened the runtime; the entry did not"
