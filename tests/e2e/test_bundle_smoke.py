"""The PyInstaller bundle (``make bundle``) as a user gets it: it answers with its model and shows a window.

The bundle in ``dist/aether`` is reused when it is newer than every source it is
built from (``make bundle`` earlier in the same run); otherwise the test builds
it with ``make bundle`` (about two minutes on two cores). Then, on the real X
server of ``make test`` and with a throw-away home and no keyring:

* ``dist/aether/aether say hello --json`` answers through gpt4all with the
  bundled SmolLM2 (the GGUF comes from the bundle, not from the venv);
* ``dist/aether/aether`` opens its window, a screenshot of which is saved to
  ``build/bundle-smoke/window.png``; a second start of the bundle raises it and exits 0.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from aether_qt.core.resources import DESKTOP_ID

REPO = Path(__file__).resolve().parents[2]
BUNDLE = REPO / "dist" / "aether"
EXECUTABLE = BUNDLE / "aether"
SHOTS = REPO / "build" / "bundle-smoke"
ENTRY = REPO / "packaging" / f"{DESKTOP_ID}.desktop"
SOURCES = ("aether_qt", "resources", "db", "personas", "packaging", "pyproject.toml")
BUILD_TIMEOUT_S = 900
WINDOW_TIMEOUT_S = 120


def newest_source() -> float:
    newest = 0.0
    for name in SOURCES:
        path = REPO / name
        if path.is_file():
            newest = max(newest, path.stat().st_mtime)
            continue
        for folder, dirs, files in os.walk(path, followlinks=True):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for file in files:
                newest = max(newest, (Path(folder) / file).stat().st_mtime)
    return newest


@pytest.fixture(scope="module")
def bundle() -> Path:
    if not (EXECUTABLE.is_file() and EXECUTABLE.stat().st_mtime > newest_source()):
        built = subprocess.run(
            ["make", "--no-print-directory", "bundle"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-5000:]
    assert os.access(EXECUTABLE, os.X_OK)
    return EXECUTABLE


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One home for both tests: the window starts with the model ``say`` already prepared."""
    return tmp_path_factory.mktemp("bundle") / "home"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """No keyring (the opt-in key file), nothing of the venv on the path: only the bundle's own Python."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "AETHER_"))}
    return {**clean, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", "HOME": str(tmp_path)}


@pytest.fixture
def running(
    bundle: Path, env: dict[str, str], home: Path, tmp_path: Path, x11: str
) -> Iterator[subprocess.Popen[bytes]]:
    log = (tmp_path / "app.log").open("wb")
    proc = subprocess.Popen(
        [str(bundle), "--home", str(home), "--allow-key-file"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log.close()


def window_of(proc: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + WINDOW_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the bundle ended ({proc.returncode}): {log.read_text(errors='replace')[-3000:]}")
        found = subprocess.run(
            ["xdotool", "search", "--onlyvisible", "--pid", str(proc.pid), "--name", "^Aether$"],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        )
        if found.stdout.split():
            return found.stdout.split()[0]
        time.sleep(0.5)
    pytest.fail(f"no window within {WINDOW_TIMEOUT_S} s: {log.read_text(errors='replace')[-3000:]}")


def colours(png: Path) -> int:
    from PySide6.QtGui import QImage

    image = QImage(str(png))
    assert not image.isNull(), png
    step = max(1, min(image.width(), image.height()) // 40)
    return len(
        {image.pixel(x, y) for x in range(0, image.width(), step) for y in range(0, image.height(), step)}
    )


@pytest.mark.slow
def test_the_bundle_answers_hello_with_its_own_model(bundle: Path, env: dict[str, str], home: Path) -> None:
    done = subprocess.run(
        [str(bundle), "--home", str(home), "--allow-key-file", "say", "hello", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    turn = json.loads(done.stdout)
    assert turn["reply"].strip()
    assert (turn["route"]["tier"], turn["route"]["provider"]) == ("local", "gpt4all")
    assert turn["route"]["model"].startswith("smollm2")


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT_S + 300)
def test_the_bundle_shows_its_window_and_a_second_start_raises_it(
    bundle: Path, env: dict[str, str], home: Path, running: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    wid = window_of(running, tmp_path / "app.log")
    # the window belongs to the desktop entry: its WM_CLASS is the entry's StartupWMClass
    props = subprocess.run(
        ["xprop", "-id", wid, "WM_CLASS", "_KDE_NET_WM_DESKTOP_FILE"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    lines = ENTRY.read_text().splitlines()
    wm_class = next(v.removeprefix("StartupWMClass=") for v in lines if v.startswith("StartupWMClass="))
    assert f'WM_CLASS(STRING) = "{wm_class}", "{wm_class}"' in props, props
    assert f'"{DESKTOP_ID}"' in props, props
    time.sleep(2.0)  # the first paint, then the avatar's first frames
    SHOTS.mkdir(parents=True, exist_ok=True)
    shot = SHOTS / "window.png"
    # the screen as a user sees it (no window manager: the window sits at the top left)
    subprocess.run(["import", "-window", "root", str(shot)], check=True, timeout=60, capture_output=True)
    assert colours(shot) > 12, f"the window looks blank: {shot}"

    again = subprocess.run(
        [str(bundle), "--home", str(home), "--allow-key-file"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "already running" in again.stderr
    assert running.poll() is None


@pytest.mark.slow
@pytest.mark.timeout(BUILD_TIMEOUT_S + 300)
def test_the_bundle_installs_a_desktop_entry_that_starts_the_bundle(
    bundle: Path, env: dict[str, str], tmp_path: Path
) -> None:
    xdg = {"XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    done = subprocess.run(
        [str(bundle), "--home", str(tmp_path / "home"), "--allow-key-file", "install-desktop"],
        env={**env, **xdg},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    entry = (tmp_path / "data" / "applications" / ENTRY.name).read_text()
    assert f"\nExec={bundle} --home {tmp_path / 'home'} --allow-key-file\n" in entry
    assert (tmp_path / "data" / "icons" / "hicolor" / "512x512" / "apps" / f"{DESKTOP_ID}.png").is_file()
