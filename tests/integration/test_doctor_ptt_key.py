"""``aether doctor`` checks the push-to-talk key the user chose, and says it as a person reads it.

The key is stored as the Settings dialog stores it, in a real encrypted home
(keys in the desktop session's keyring); the X11 check grabs it on the real X
server of ``scripts/with-desktop.sh`` and lets it go.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from aether_qt.commands.doctor import stored_push_to_talk
from aether_qt.commands.doctor_voice import check_hotkey
from aether_qt.core.paths import resolve_paths
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.settings.voice import SETTING_PTT_BACKEND, SETTING_PTT_KEY

pytestmark = pytest.mark.skipif(
    os.environ.get("AETHER_DESKTOP_ENV") != "1" or not shutil.which("xdotool"),
    reason="needs the X server and the keyring of scripts/with-desktop.sh",
)


def test_doctor_reads_the_stored_combination_and_names_it_readably(tmp_path: Path) -> None:
    paths = resolve_paths(tmp_path / "home")
    assert stored_push_to_talk(paths, False) == ("F9", "auto")  # no database yet: the defaults
    runtime = PolicyRuntime.open(paths)
    try:
        runtime.settings.set(SETTING_PTT_KEY, "Meta+Ctrl+Alt+Ins")
        runtime.settings.set(SETTING_PTT_BACKEND, "x11")
    finally:
        runtime.close()
    key, backend = stored_push_to_talk(paths, False)
    assert (key, backend) == ("Meta+Ctrl+Alt+Ins", "x11")
    check = check_hotkey(key, prefer=backend)
    assert check["backend"] == "x11" and check["key"] == "Meta+Ctrl+Alt+Ins"
    assert check["detail"] == "push-to-talk Super+Ctrl+Alt+Insert via x11"
    again = check_hotkey(key, prefer=backend)  # the check let the grab go
    assert again["backend"] == "x11", again["notes"]
