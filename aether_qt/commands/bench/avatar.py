"""``aether bench avatar``: CPU and frame time of the avatar animating at 30 fps, and when hidden.

A window with the avatar is shown and fed :class:`BehaviorFrame` objects at 30 fps
by a QTimer (a breathing, blinking, talking cycle, like the presence worker sends).
Measured: the process CPU (user + system) as a share of one core while it
animates and while the window is hidden, and the paint duration p50/p95.
Targets (DESIGN.md, issue): <= 15 % of one core animating, near zero hidden.
"""

from __future__ import annotations

import math
import os
import statistics
from pathlib import Path
from typing import Any

FPS = 30


def _frame(seq: int) -> Any:
    from aether_qt.avatar.look import BEHAVIOUR_TINTS
    from aether_qt.engines.presence.frame import BehaviorFrame, Behaviour

    t = seq / FPS
    behaviour = (Behaviour.SPEAKING, Behaviour.LISTENING, Behaviour.THINKING)[int(t // 2) % 3]
    return BehaviorFrame(
        seq=seq,
        t=t,
        behaviour=behaviour,
        gaze_x=0.3 * math.sin(t * 0.7),
        gaze_y=0.2 * math.sin(t * 0.5),
        blink=1.0 if seq % 120 in (0, 1, 2) else 0.0,
        mouth_open=abs(math.sin(t * 9.0)) if behaviour is Behaviour.SPEAKING else 0.0,
        breath=math.sin(t * 1.6),
        head_tilt=0.05 * math.sin(t * 0.4),
        tint=BEHAVIOUR_TINTS[behaviour],
        intensity=1.0,
    )


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run_avatar_bench(home: Path, *, quick: bool) -> dict[str, Any]:
    """Animate the avatar, then hide it, and report CPU shares and frame times."""
    del home  # the avatar keeps no state
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

    from aether_qt.avatar.factory import make_avatar

    app = QApplication.instance() or QApplication([])  # kept alive until the end
    seconds = 2.0 if quick else 8.0
    host = QWidget()
    host.setWindowTitle("aether bench avatar")
    avatar = make_avatar(host)
    QVBoxLayout(host).addWidget(avatar)
    host.resize(480, 120)
    counter = iter(range(10**9))
    timer = QTimer()
    timer.setInterval(1000 // FPS)
    timer.timeout.connect(lambda: avatar.show_frame(_frame(next(counter))))

    def measure(duration: float) -> tuple[float, float]:
        clock = QElapsedTimer()
        loop = QEventLoop()
        QTimer.singleShot(int(duration * 1000), loop.quit)
        start_cpu = _cpu()
        clock.start()
        loop.exec()  # the event loop sleeps between timer ticks, as in the app
        wall = clock.elapsed() / 1000
        return 100.0 * (_cpu() - start_cpu) / wall, wall

    host.show()
    measure(0.5)  # warm up: first paints, shader compile
    avatar.canvas.frame_times.clear()
    painted = avatar.canvas.paint_count
    timer.start()
    animating, wall = measure(seconds)
    frames = avatar.canvas.paint_count - painted
    times_ms = [1000 * t for t in avatar.canvas.frame_times]
    host.hide()
    measure(0.3)
    painted_hidden = avatar.canvas.paint_count
    hidden, _ = measure(seconds)
    painted_hidden = avatar.canvas.paint_count - painted_hidden
    timer.stop()
    renderer = "opengl" if avatar.uses_opengl else "qpainter"
    host.deleteLater()
    del app
    result = {
        "renderer": renderer,
        "platform": QApplication.platformName(),
        "seconds": seconds,
        "fps_target": FPS,
        "fps_drawn": frames / wall,
        "cpu_animating_pct": animating,
        "cpu_hidden_pct": hidden,
        "paints_while_hidden": painted_hidden,
        "frame_ms_p50": statistics.median(times_ms) if times_ms else float("nan"),
        "frame_ms_p95": _percentile(times_ms, 0.95),
    }
    result["table"] = [
        ("renderer", f"{renderer} on {QApplication.platformName()}", ""),
        ("frames drawn per second", result["fps_drawn"], f"target {FPS}"),
        ("CPU animating (% of one core)", animating, "<= 15"),
        ("CPU hidden (% of one core)", hidden, "~0"),
        ("paints while hidden", painted_hidden, "0"),
        ("paint time p50 (ms)", result["frame_ms_p50"], "paintGL / paintEvent"),
        ("paint time p95 (ms)", result["frame_ms_p95"], "paintGL / paintEvent"),
    ]
    return result
