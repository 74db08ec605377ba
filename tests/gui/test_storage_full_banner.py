"""The "storage full" banner of the real main window, over a home on a real full tmpfs.

The home lives on a 2 MiB tmpfs the test mounts (root only; skipped with the
reason otherwise) and fills with its own filler file. A gated request through
the gate-on-bus adapter (as a turn makes it) cannot be audited, so it is
refused; the decision event refreshes the window, whose banner names the data
folder and the space Aether wants and has, with "Check again" and "Copy folder
path". Deleting the filler and pressing "Check again" clears the banner without
a restart, and the next request is allowed and audited. On the real X server the
banner is checked in a screenshot of the screen, and the window is saved as
``storage-full.png`` beside the test's files.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from disk_support import SmallDisk, small_disk
from keyring_support import no_keyring
from PySide6.QtCore import QPoint, QSettings, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage
from pytestqt.qtbot import QtBot

from aether_qt.companion import gate_on_bus
from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.core.paths import resolve_paths
from aether_qt.policy.decisions import ActionRequest, Allow, ApprovalChoice, Ask, Decision, Deny, DenyReason
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.storage.space import human_size
from aether_qt.widgets.main_window import MainWindow
from aether_qt.widgets.trust.banners import CHECK_AGAIN, COPY_FOLDER, STORAGE_FULL, banner_colours


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with small_disk(tmp_path / "disk", size="2m") as mounted:
        yield mounted


@pytest.fixture
def runtime(disk: SmallDisk) -> Iterator[PolicyRuntime]:
    with no_keyring():
        rt = PolicyRuntime.open(resolve_paths(disk.root / "home"), allow_key_file=True)
        try:
            yield rt
        finally:
            rt.close()


@pytest.fixture
def window(
    qtbot: QtBot, runtime: PolicyRuntime, bus: EventBus, bridge: QtBusBridge, tmp_path: Path
) -> Iterator[MainWindow]:
    settings = QSettings(str(tmp_path / "aether-qt.ini"), QSettings.Format.IniFormat)
    made = MainWindow(
        runtime=runtime, controls=gate_on_bus(runtime, bus), settings=settings, bus_bridge=bridge
    )
    qtbot.addWidget(made)
    made.show()
    qtbot.waitExposed(made)
    yield made
    made.shutdown()


def create(runtime: PolicyRuntime, bus: EventBus, docs: Path, name: str) -> Decision:
    """A gated file creation, decided and published as a turn would; the user approves an Ask."""
    controls = gate_on_bus(runtime, bus)
    decision = controls.evaluate(ActionRequest("files.create", str(docs / name), turn_id="turn_1"))
    if isinstance(decision, Ask):
        decision = controls.answer(decision.ticket.ticket_id, ApprovalChoice.ALLOW_ONCE)
    return decision


def fill_until_refused(runtime: PolicyRuntime, bus: EventBus, disk: SmallDisk, docs: Path) -> Deny:
    """Fill the disk, then ask until the gate refuses (a row or two may still fit in the WAL)."""
    docs.mkdir(exist_ok=True)
    runtime.set_roots((docs,))
    disk.fill(margin=4096)
    for i in range(6):
        decision = create(runtime, bus, docs, f"full-{i}.txt")
        if isinstance(decision, Deny):
            assert decision.reason is DenyReason.AUDIT_UNAVAILABLE, decision
            return decision
    raise AssertionError("the gate never refused on a full disk")


def test_the_banner_names_the_folder_and_the_space_and_clears_when_space_returns(
    qtbot: QtBot, window: MainWindow, runtime: PolicyRuntime, bus: EventBus, disk: SmallDisk, tmp_path: Path
) -> None:
    data_dir = runtime.paths.data_dir
    assert STORAGE_FULL not in window.banners.flags()
    fill_until_refused(runtime, bus, disk, tmp_path / "docs")
    qtbot.waitUntil(lambda: STORAGE_FULL in window.banners.flags(), timeout=3000)  # the decision event
    assert window.banners.flags()[0] == STORAGE_FULL and "audit_broken" not in window.banners.flags()
    banner = window.banners.banner(STORAGE_FULL)
    assert banner is not None
    text = banner.message.text()
    assert str(data_dir) in text
    space = runtime.free_space()
    assert space is not None and not space.enough
    assert (
        f"Aether needs {human_size(space.wanted)} free" in text
        and f"{human_size(space.free)} is free" in text
    )
    assert [b.text() for b in banner.buttons.values()] == ["Check again", "Copy folder path"]

    qtbot.mouseClick(banner.buttons[CHECK_AGAIN], Qt.MouseButton.LeftButton)  # nothing was freed
    assert window.statusBar().currentMessage().startswith("Still not enough room.")
    assert STORAGE_FULL in window.banners.flags()
    banner = window.banners.banner(STORAGE_FULL)
    assert banner is not None
    qtbot.mouseClick(banner.buttons[COPY_FOLDER], Qt.MouseButton.LeftButton)
    assert QGuiApplication.clipboard().text() == str(data_dir)

    disk.release()
    banner = window.banners.banner(STORAGE_FULL)
    assert banner is not None
    qtbot.mouseClick(banner.buttons[CHECK_AGAIN], Qt.MouseButton.LeftButton)
    assert STORAGE_FULL not in window.banners.flags()
    assert window.statusBar().currentMessage() == "There is room again: actions are allowed."
    decision = create(runtime, bus, tmp_path / "docs", "after.txt")
    assert isinstance(decision, Allow), decision
    assert runtime.audit is not None and runtime.audit.get(decision.audit_id) is not None


def test_the_banner_is_on_the_screen(
    qtbot: QtBot,
    window: MainWindow,
    runtime: PolicyRuntime,
    bus: EventBus,
    disk: SmallDisk,
    tmp_path: Path,
    screenshot: Callable[[], QImage],
) -> None:
    fill_until_refused(runtime, bus, disk, tmp_path / "docs")
    qtbot.waitUntil(lambda: STORAGE_FULL in window.banners.flags(), timeout=3000)
    banner = window.banners.banner(STORAGE_FULL)
    assert banner is not None
    qtbot.waitUntil(banner.isVisible, timeout=1000)
    window.raise_()
    window.activateWindow()
    qtbot.wait(200)  # let the X server draw it
    assert window.grab().save(str(tmp_path / "storage-full.png"))
    image = screenshot()
    spot = banner.mapToGlobal(QPoint(6, banner.height() // 2))
    background, _ = banner_colours(STORAGE_FULL)
    assert image.pixelColor(spot.x(), spot.y()) == QColor(background), "the banner is not drawn on screen"
