"""Project-wide pytest set-up.

* ``--run-slow``: tests marked ``slow`` are skipped unless it is given or ``CI=true``.
* Tests under ``tests/gui`` get the ``gui`` marker automatically.
* Outside the desktop of ``make test`` (``AETHER_DESKTOP_ENV`` unset) Qt defaults to the
  ``offscreen`` platform, so GUI tests neither need nor disturb a real screen; the ``x11``
  fixture skips the tests that need the real X server. Under ``make test`` it *fails*
  instead when the platform is not xcb: those tests must never be skipped silently there.
* A default OpenGL 3.3 core ``QSurfaceFormat`` is set before any ``QApplication`` exists.
* A test that leaves a ``QThread`` running fails (mark it ``allow_qthread_leak`` to opt out);
  the thread is stopped first, so it cannot abort the whole run on destruction.

PySide6 is imported lazily (in hooks and fixtures), never at module level.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from desktop_support import DESKTOP_ENV, in_ci, in_desktop_env

TESTS_DIR = Path(__file__).resolve().parent
GUI_DIR = TESTS_DIR / "gui"

# The first-start wizard would wait for a user in every test that starts the app on a fresh
# home (subprocesses inherit this); the wizard's own tests remove it.
os.environ.setdefault("AETHER_NO_ONBOARDING", "1")

# QThreads that could not be stopped are kept alive here: destroying a running QThread
# aborts the interpreter, which would take the whole test run down with it.
_UNSTOPPABLE_THREADS: list[Any] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="run tests marked slow (always on when CI=true)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "allow_qthread_leak: the test may leave a QThread running (not checked)"
    )
    if in_desktop_env() and not os.environ.get("DISPLAY"):
        raise pytest.UsageError(f"{DESKTOP_ENV}=1 but DISPLAY is unset: run through scripts/with-desktop.sh")
    if not in_desktop_env():
        # No real screen outside make test: never open windows on the developer's
        # display and never abort for want of one.
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    from PySide6.QtGui import QSurfaceFormat

    fmt = QSurfaceFormat()
    fmt.setRenderableType(QSurfaceFormat.RenderableType.OpenGL)
    fmt.setVersion(3, 3)
    fmt.setProfile(QSurfaceFormat.OpenGLContextProfile.CoreProfile)
    fmt.setDepthBufferSize(24)
    fmt.setStencilBufferSize(8)
    QSurfaceFormat.setDefaultFormat(fmt)


def pytest_report_header(config: pytest.Config) -> list[str]:
    desktop = "yes" if in_desktop_env() else "no (tests needing the real X server skip)"
    slow = "yes" if config.getoption("--run-slow") or in_ci() else "no (use --run-slow)"
    return [
        f"aether: desktop env: {desktop}; DISPLAY={os.environ.get('DISPLAY', '')} "
        f"QT_QPA_PLATFORM={os.environ.get('QT_QPA_PLATFORM', '')}; slow tests: {slow}"
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run_slow = bool(config.getoption("--run-slow")) or in_ci()
    skip_slow = pytest.mark.skip(reason="slow test: pass --run-slow (or set CI=true)")
    for item in items:
        path = Path(str(item.path)).resolve()
        if path == GUI_DIR or GUI_DIR in path.parents:
            item.add_marker(pytest.mark.gui)
        if not run_slow and item.get_closest_marker("slow") is not None:
            item.add_marker(skip_slow)


@pytest.fixture
def x11(request: pytest.FixtureRequest) -> str:
    """The real X display of ``make test``; skips elsewhere, fails if misconfigured there."""
    if not in_desktop_env():
        pytest.skip(
            f"needs the real X server of `make test`: run through scripts/with-desktop.sh ({DESKTOP_ENV}=1)"
        )
    qapp = request.getfixturevalue("qapp")
    platform = qapp.platformName()
    display = os.environ.get("DISPLAY", "")
    if platform != "xcb" or not display:
        pytest.fail(
            f"{DESKTOP_ENV}=1 but the Qt platform is {platform!r} (DISPLAY={display!r}); "
            "the desktop harness must provide QT_QPA_PLATFORM=xcb on its Xvfb display"
        )
    return display


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A fresh, empty Aether home directory (``tmp_path / "home"``); nothing global is set."""
    path = tmp_path / "home"
    path.mkdir(mode=0o700)
    return path


def _stop_thread(thread: Any) -> bool:
    """Ask a running QThread to stop; True if it did within a few seconds."""
    thread.requestInterruption()
    thread.quit()
    return bool(thread.wait(5000))


@pytest.fixture(autouse=True)
def _no_leaked_qthreads(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail a test that leaves a QThread (started during the test) still running."""
    if "PySide6.QtCore" not in sys.modules or request.node.get_closest_marker("allow_qthread_leak"):
        yield
        return
    import shiboken6
    from PySide6.QtCore import QThread

    started: list[QThread] = []  # strong refs: a dropped running thread must not be destroyed
    original_start = QThread.start

    def recording_start(self: QThread, *args: Any, **kwargs: Any) -> None:
        started.append(self)
        original_start(self, *args, **kwargs)

    monkeypatch.setattr(QThread, "start", recording_start)
    yield
    monkeypatch.setattr(QThread, "start", original_start)

    deadline = time.monotonic() + 0.5  # let threads that are already quitting finish
    running = [t for t in started if shiboken6.isValid(t) and t.isRunning()]
    while running and time.monotonic() < deadline:
        time.sleep(0.01)
        running = [t for t in running if shiboken6.isValid(t) and t.isRunning()]
    if not running:
        return
    described = []
    for thread in running:
        name = thread.objectName() or type(thread).__name__
        if _stop_thread(thread):
            described.append(f"{name} (stopped by the fixture)")
        else:
            _UNSTOPPABLE_THREADS.append(thread)
            described.append(f"{name} (did not stop; kept alive)")
    pytest.fail(
        "test left QThread(s) running: "
        + ", ".join(described)
        + "; quit() and wait() them, or mark the test allow_qthread_leak",
        pytrace=False,
    )
