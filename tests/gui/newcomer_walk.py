"""A newcomer's first session, driven through the real app's window (run by test_newcomer_walk.py).

Usage: ``python newcomer_walk.py HOME DOCS PART SHOTS`` where PART is ``first`` (the walk) or
``again`` (the restart) and SHOTS the folder for the window's screenshots along the way. It
runs :func:`aether_qt.app.run_app` in this process, clicks and types through the window as a
person would, and after every step collects every visible text (:mod:`visible_text`). It
prints one JSON object on the last line of stdout: the steps done, what each saw, and the
facts the test checks.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from visible_text import visible_texts

from aether_qt.app import AppOptions, AppParts, run_app

Wait = Callable[[], bool]
STEP_TIMEOUT_MS = 90_000
POLL_MS = 50


class Walk:
    """Runs a generator of steps on the app's event loop: each ``yield`` is a condition to wait for."""

    def __init__(
        self, parts: AppParts, script: Callable[[AppParts, Walk], Iterator[Wait]], shots: Path
    ) -> None:
        self.parts = parts
        self.shots = shots
        self.steps: list[dict[str, Any]] = []
        self.facts: dict[str, Any] = {}
        self.error = ""
        self._step = "start"
        self._gen = script(parts, self)
        self._waiting: Wait | None = None
        self._waited = 0
        self._timer = QTimer(interval=POLL_MS)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._timer.start()

    def step(self, name: str) -> None:
        """Begin step ``name``: the texts seen so far are recorded under the step before."""
        self.look()
        self._step = name
        print(f"walk: {name}", file=sys.stderr, flush=True)

    def look(self) -> None:
        """Record every visible text now, under the current step."""
        texts = visible_texts()
        if self.steps and self.steps[-1]["step"] == self._step:
            self.steps[-1]["texts"].update(texts)
        else:
            self.steps.append({"step": self._step, "texts": texts})

    def shot(self, name: str) -> None:
        """Save the main window as ``SHOTS/name.png``."""
        self.shots.mkdir(parents=True, exist_ok=True)
        self.parts.window.grab().save(str(self.shots / f"{name}.png"))

    def _tick(self) -> None:
        try:
            if self._waiting is not None:
                if not self._waiting():
                    self._waited += POLL_MS
                    if self._waited > STEP_TIMEOUT_MS:
                        self._fail(f"step {self._step!r} timed out")
                    return
                self.look()
            self._waiting, self._waited = next(self._gen), 0
        except StopIteration:
            self.look()
            self._finish()
        except Exception:  # reported to the test, which fails with it
            self._fail(f"step {self._step!r} raised:\n{traceback.format_exc()}")

    def _fail(self, error: str) -> None:
        self.error = error
        try:
            self.look()
        finally:
            self._finish()

    def _finish(self) -> None:
        self._timer.stop()
        self.facts["last_step"] = self._step
        QTimer.singleShot(100, self.parts.app.quit)

    def report(self) -> dict[str, Any]:
        return {"error": self.error, "facts": self.facts, "steps": self.steps}


def main(argv: list[str]) -> int:
    from walk_steps import SCRIPTS

    home, docs, part, shots = argv[1], Path(argv[2]), argv[3], Path(argv[4])
    walks: list[Walk] = []

    def ready(parts: AppParts) -> None:
        walk = Walk(parts, lambda p, w: SCRIPTS[part](p, w, docs), shots)
        walks.append(walk)
        walk.start()

    code = run_app(AppOptions(home=home, allow_key_file=True, onboarding=False), on_ready=ready)
    result = walks[0].report() if walks else {"error": "the app did not start", "facts": {}, "steps": []}
    result["exit_code"] = code
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
