"""Fixtures for GUI tests that drive the real desktop of ``make test``.

``xdotool`` (real X input), ``screenshot`` (``import -window root`` as a QImage) and ``vmic``
(the PulseAudio FIFO microphone) all skip outside ``scripts/with-desktop.sh`` and fail
inside it when the harness did not provide what they need.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fake_conversation import FakeConversation
from PySide6.QtGui import QImage

from aether_qt.core.bus import EventBus, QtBusBridge

DESKTOP_ENV = "AETHER_DESKTOP_ENV"


def in_desktop_env() -> bool:
    return os.environ.get(DESKTOP_ENV) == "1"


def _require(what: str, ok: bool, detail: str) -> None:
    """Skip outside the desktop env; fail inside it when ``ok`` is false."""
    if not in_desktop_env():
        pytest.skip(f"needs {what} from scripts/with-desktop.sh ({DESKTOP_ENV}=1)")
    if not ok:
        pytest.fail(f"{DESKTOP_ENV}=1 but {detail}", pytrace=False)


@pytest.fixture
def desktop_dir() -> Path:
    """The private temp dir of the running desktop harness."""
    raw = os.environ.get("AETHER_DESKTOP_DIR", "")
    _require("the desktop harness", bool(raw) and Path(raw).is_dir(), f"AETHER_DESKTOP_DIR={raw!r}")
    return Path(raw)


@pytest.fixture
def vmic() -> Path:
    """The FIFO feeding the virtual microphone ``vmic`` (s16le, 16 kHz, mono)."""
    raw = os.environ.get("VMIC_FIFO", "")
    ok = bool(raw) and Path(raw).is_fifo()
    _require("the virtual microphone", ok, f"VMIC_FIFO={raw!r} is not a FIFO")
    return Path(raw)


@pytest.fixture
def xdotool(x11: str) -> Callable[..., None]:
    """``xdotool(*args)``: run xdotool on the test display (raises on failure)."""
    exe = shutil.which("xdotool")
    _require("xdotool", exe is not None, "xdotool is not installed")
    assert exe is not None

    def run(*args: object) -> None:
        subprocess.run([exe, *map(str, args)], check=True, timeout=10)

    return run


@pytest.fixture
def screenshot(x11: str, tmp_path: Path) -> Callable[[], QImage]:
    """``screenshot()``: the whole X screen, taken by ImageMagick ``import -window root``."""
    exe = shutil.which("import")
    _require("ImageMagick import", exe is not None, "ImageMagick `import` is not installed")
    assert exe is not None
    counter = iter(range(1_000_000))

    def take() -> QImage:
        png = tmp_path / f"screen-{next(counter)}.png"
        subprocess.run([exe, "-window", "root", str(png)], check=True, timeout=20)
        image = QImage(str(png))
        assert not image.isNull(), f"unreadable screenshot {png}"
        return image

    return take


# ---------------------------------------------------------------- a conversation double on a real bus


@pytest.fixture
def bus() -> Iterator[EventBus]:
    """A real event bus, closed after the test."""
    bus = EventBus()
    yield bus
    bus.close()


@pytest.fixture
def bridge(bus: EventBus) -> Iterator[QtBusBridge]:
    """The bus bridged to the GUI thread."""
    bridge = QtBusBridge(bus=bus)
    yield bridge
    bridge.detach()


@pytest.fixture
def fake(bus: EventBus) -> Iterator[FakeConversation]:
    """A scripted conversation publishing the documented turn events (see fake_conversation.py)."""
    conversation = FakeConversation(bus=bus)
    yield conversation
    conversation.stop()
