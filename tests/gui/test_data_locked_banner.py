"""The real main window over a home whose data key is wrong: locked, red, and nothing written.

The home is made with the opt-in key file; its data key is then swapped for another
well-formed key (a restored key file from another installation, a keyring entry
overwritten). The window opens with the red "Data locked" banner naming the file,
no other banner hides it, a gated request is denied, and ``aether.db`` is not
touched. The window is saved as ``data-locked.png`` beside the test's files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring_support import no_keyring
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from aether_qt.companion import gate_on_bus
from aether_qt.core.bus import EventBus, QtBusBridge
from aether_qt.core.paths import AppPaths, resolve_paths
from aether_qt.policy.decisions import ActionRequest, Deny
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.widgets.main_window import MainWindow


@pytest.fixture
def paths(tmp_path: Path) -> Iterator[AppPaths]:
    home = resolve_paths(tmp_path / "home")
    with no_keyring():
        PolicyRuntime.open(home, allow_key_file=True).close()
        body = json.loads(home.key_file.read_text())
        body["data_key"] = "B" * 43 + "="
        home.key_file.write_text(json.dumps(body))
        yield home


def test_a_wrong_data_key_opens_locked_with_a_red_banner_and_writes_nothing(
    qtbot: QtBot, paths: AppPaths, bus: EventBus, bridge: QtBusBridge, tmp_path: Path
) -> None:
    before = paths.app_db.read_bytes()
    runtime = PolicyRuntime.open(paths)
    settings = QSettings(str(tmp_path / "aether-qt.ini"), QSettings.Format.IniFormat)
    window = MainWindow(
        runtime=runtime, controls=gate_on_bus(runtime, bus), settings=settings, bus_bridge=bridge
    )
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    try:
        assert window.banners.flags()[0] == "data_locked"
        banner = window.banners.banner("data_locked")
        assert banner is not None and banner.isVisible()
        assert "locked" in banner.message.text() and str(paths.app_db) in banner.message.text()
        decision = gate_on_bus(runtime, bus).evaluate(ActionRequest("notify.send", "hi"))
        assert isinstance(decision, Deny)
        window.grab().save(str(tmp_path / "data-locked.png"))
    finally:
        window.shutdown()
        runtime.close()
    assert paths.app_db.read_bytes() == before
