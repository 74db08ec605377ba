"""GUI timings for ``aether bench turn``, measured on the real app in this (fresh) process.

``aether bench turn`` runs this first, before anything else has imported Qt,
the engines or the model, so the start-up is cold: the times count from the
process's own start (read from ``/proc/self/stat`` on Linux; from the start of
this function elsewhere, said in the result). The real app
(:func:`aether_qt.app.run_app`) records when its start-up window and its main
window were first painted (``AppParts.started``): the first is "window
visible", the second "window usable" (the user can type). Its ``on_ready`` hook
polls for the model (ready to answer) and then, while one typed turn
generates, the longest gap between ticks of a 5 ms heartbeat timer on the GUI
thread is the GUI stall; the gaps over :data:`STALL_TARGET_MS` are counted too
(on a busy machine one long gap may be the scheduler's, many are the app's).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

PROMPT = "tell me something nice about mornings"
STALL_TARGET_MS = 50.0


def process_age_s() -> float | None:
    """Seconds since this process started (Linux ``/proc``), or None when unknown."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])  # field 22 of stat(5), counted after the command name
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def _no_display() -> dict[str, Any]:
    nan = float("nan")
    return {
        "gui_max_stall_ms": nan,
        "gui_stalls_over_target": 0,
        "cold_window_ms": nan,
        "cold_window_usable_ms": nan,
        "cold_ready_ms": nan,
        "gui_note": "no display",
    }


def _free_qt() -> None:
    """Free Qt now, not during interpreter finalisation with the model loaded later."""
    import gc

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is not None:
        app.shutdown()
    gc.collect()


def measure_gui(home: Path, *, quick: bool = False) -> dict[str, Any]:
    """Cold start and GUI-thread stall of the real app (NaN with a note when there is no display)."""
    if not os.environ.get("DISPLAY") and os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        return _no_display()
    age = process_age_s()
    origin = time.perf_counter() - (age or 0.0)
    stamps: dict[str, float] = {}
    beats: dict[str, Any] = {"last": None, "max": 0.0, "on": False, "over": 0}
    started: list[Any] = []

    from PySide6.QtCore import QTimer

    from aether_qt.app import AppOptions, AppParts, run_app
    from aether_qt.core.events import TurnEnded

    def ready(parts: AppParts) -> None:
        started.append(parts.started)  # filled in as the windows are painted
        heart = QTimer(parts.app)
        heart.setInterval(5)

        def beat() -> None:
            now = time.perf_counter()
            if beats["on"] and beats["last"] is not None:
                gap = (now - beats["last"]) * 1000
                beats["max"] = max(beats["max"], gap)
                beats["over"] += gap > STALL_TARGET_MS
            beats["last"] = now

        heart.timeout.connect(beat)
        heart.start()
        assert parts.bus is not None and parts.conversation is not None

        def on_end(_env: object) -> None:
            stamps.setdefault("done", time.perf_counter())

        parts.bus.subscribe(TurnEnded.KIND, on_end)
        conversation = parts.conversation

        def wait_done() -> None:
            if "done" in stamps:
                beats["on"] = False
                QTimer.singleShot(100, parts.app.quit)
            else:
                QTimer.singleShot(20, wait_done)

        def wait_ready() -> None:
            if conversation.model_ready():
                stamps["ready"] = time.perf_counter()
                beats["on"] = True
                conversation.submit(PROMPT)
                wait_done()
            else:
                QTimer.singleShot(10, wait_ready)

        wait_ready()

    run_app(AppOptions(home=str(home), allow_key_file=True, onboarding=False), on_ready=ready)
    _free_qt()
    times = started[0]

    def since_start(stamp: float | None) -> float:
        return round((stamp - origin) * 1000, 1) if stamp is not None else float("nan")

    return {
        "gui_max_stall_ms": round(float(beats["max"]), 1),
        "gui_stalls_over_target": int(beats["over"]),
        "cold_window_ms": since_start(times.shell_painted),
        "cold_window_usable_ms": since_start(times.window_painted),
        "cold_ready_ms": since_start(stamps["ready"]),
        "cold_from": "process start" if age is not None else "bench start",
    }
