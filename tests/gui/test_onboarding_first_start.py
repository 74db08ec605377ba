"""``make run`` on a fresh home without a keyring: the wizard's keys step, then a working window.

The real app (:func:`aether_qt.app.run_app`) starts in a subprocess with the fail
keyring backend and no ``--allow-key-file``, as a new user would start it. The
test answers the wizard through the X server like a user at the keyboard (Down
and Space pick "Keep the keys in a file", Enter walks the pages and presses Finish),
then the app reports the policy's posture and the window's banners: "Keys on
disk" once, and no "Audit broken" (and "No model": none is installed here).
That the next start does not ask again is checked in-process (test_onboarding_wizard.py).
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from aether_qt.onboarding import NO_ONBOARDING_ENV

RUN_APP = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QTimer
    import aether_qt.app as app_module
    from aether_qt.app import AppOptions, run_app

    make = app_module._make_application

    def traced():  # say which window has the keyboard focus: the test types only into the wizard
        app = make()
        app.focusWindowChanged.connect(lambda w: print("FOCUS", w.title() if w else "", flush=True))
        return app

    app_module._make_application = traced

    def ready(parts):
        def report():
            print("POSTURE", ",".join(f.flag for f in parts.runtime.posture()), flush=True)
            print("FLAGS", ",".join(parts.window.banners.flags()), flush=True)
            parts.window.grab().save(sys.argv[2])
            parts.app.quit()
        QTimer.singleShot(500, report)

    sys.exit(run_app(AppOptions(home=sys.argv[1]), on_ready=ready))
    """
)
TITLES = (  # the page each Enter leads to (no voice or model page here); the last one is Finish
    "Welcome to Aether",
    "What may leave this computer",
    "Who should Aether be?",
    "What may Aether do?",
    "How long should Aether remember?",
    "Ready",
    "",
)


def wait_for_window(name: str) -> str:
    """The id of the visible window called ``name`` once it exists."""
    found = subprocess.run(
        ["xdotool", "search", "--sync", "--onlyvisible", "--name", name],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return found.stdout.split()[0]


class Lines:
    """The app's output, read by a thread so the test can wait for a line without blocking forever."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self._queue: queue.Queue[str] = queue.Queue()
        self._seen: list[str] = []
        assert proc.stdout is not None
        stdout = proc.stdout
        threading.Thread(target=lambda: [self._queue.put(line) for line in stdout], daemon=True).start()

    def until(self, prefix: str, timeout: float = 60.0) -> str:
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                pytest.fail(f"no line starting {prefix!r}; the app said:\n{self.text()}")
            self._seen.append(line)
            if line.startswith(prefix):
                return line

    def text(self) -> str:
        return "".join(self._seen)


def start_app(home: Path, shot: Path) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        "AETHER_NO_EMBEDDER": "1",
        "AETHER_MODEL": "no-model-in-this-test",  # the window, not the model, is under test
    }
    env.pop(NO_ONBOARDING_ENV, None)
    return subprocess.Popen(
        [sys.executable, "-c", RUN_APP, str(home), str(shot)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.slow
def test_first_start_without_keyring_shows_the_keys_step_and_the_key_file_opens_a_working_window(
    tmp_path: Path, xdotool: Callable[..., None]
) -> None:
    home = tmp_path / "home"
    app = start_app(home, tmp_path / "window.png")
    lines = Lines(app)
    try:
        window = wait_for_window("Set up Aether: Keeping Aether's keys safe")  # the key step first
        assert not (home / "data" / "aether.db").exists()  # nothing opened before the key choice
        xdotool("windowfocus", "--sync", window)
        lines.until("FOCUS Set up Aether")
        subprocess.run(["import", "-window", window, str(tmp_path / "wizard-first-start.png")], check=True)
        # the first choice has the keyboard: Down moves to "Keep the keys in a file", Space picks it
        xdotool("key", "Down", "space")
        for title in TITLES:  # Enter: Next on each page, Finish on the last
            xdotool("key", "Return")
            if title:
                wait_for_window(f"Set up Aether: {title}")
        lines.until("FLAGS")
        out = lines.text()
        app.wait(timeout=120)
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    assert app.returncode == 0, out
    assert "Traceback" not in out, out
    # the policy's one flag is "keys on disk": no "audit_broken", no "policy_degraded"; the window
    # shows it once, beside "no model" (no model is installed in this test)
    assert "POSTURE keys_on_disk\n" in out and "FLAGS keys_on_disk,no_model\n" in out, out
    assert (home / "config" / "keys-on-disk.json").is_file()
