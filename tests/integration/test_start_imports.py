"""Importing the desktop app's composition root stays light (aether_qt/app.py).

The start-up window must be drawn within a few hundred milliseconds of the
process start, so ``import aether_qt.app`` may pull in Qt and the small helpers
it needs to claim the home and draw that window, and nothing heavy: not the
policy runtime (SQLCipher, keys), not the engines, not numpy or QtMultimedia
(voice), not the model runtime. They are imported once the window is on screen.
This checks which modules a fresh interpreter has loaded, never how long it took.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "numpy",
    "gpt4all",
    "vosk",
    "faiss",
    "PySide6.QtMultimedia",
    "aether_qt.companion",
    "aether_qt.policy.runtime",
    "aether_qt.engines.router.router",
    "aether_qt.services.voice.host",
    "aether_qt.services.interaction.host",
    "aether_qt.widgets.main_window",
)

SCRIPT = """
import json, sys
import aether_qt.app
print(json.dumps(sorted(sys.modules)))
"""


def test_importing_the_app_loads_none_of_the_heavy_modules() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = set(json.loads(proc.stdout.splitlines()[-1]))
    assert "aether_qt.app" in loaded
    assert [name for name in HEAVY if name in loaded] == []
