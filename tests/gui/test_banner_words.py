"""Banners speak in words: a service's raw error never reaches the window as it is."""

from __future__ import annotations

from pathlib import Path

from keyring_support import key_file_runtime
from pytestqt.qtbot import QtBot

from aether_qt.policy.user_words import leaks
from aether_qt.widgets.trust.banners import BannerArea


def test_a_raw_error_from_the_bus_becomes_a_sentence_in_its_banner(qtbot: QtBot, home: Path) -> None:
    with key_file_runtime(home) as runtime:
        area = BannerArea(runtime=runtime)
        qtbot.addWidget(area)
        area.set_condition("voice_unavailable", "OSError: [Errno 19] No such device: '/dev/snd/pcmC0D0c'")
        area.set_condition("memory", "memory store failed: sqlite3.OperationalError: database is locked")
        area.set_condition("no_model", "Add a model to start talking.")
        texts = {banner.flag: banner.message.text() for banner in area.banners()}
        for flag in ("voice_unavailable", "memory"):
            assert leaks(texts[flag]) == [], texts[flag]
            assert "Errno" not in texts[flag] and "sqlite3" not in texts[flag]
        assert "in use by another program" in texts["memory"]
        assert texts["no_model"] == "Add a model to start talking."  # plain words stay as they are
