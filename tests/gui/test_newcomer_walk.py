"""Acceptance of "everyday use": a newcomer's first session through the real app's window.

hello → write to an approved folder that does not exist yet → create it from the card → allow →
remember → ask → trust centre, verify → forget → undo → regenerate → new conversation → quit →
start again. After every step every visible text in the app is collected; none may hold a
capability id, a deny code, a turn or ticket id or a Python exception name.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import pytest

from aether_qt.core.paths import resolve_paths
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.policy.user_words import leaks

WALK = Path(__file__).with_name("newcomer_walk.py")
REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def _walk(home: Path, docs: Path, part: str, shots: Path, **extra_env: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring", **extra_env}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(WALK.parent), env.get("PYTHONPATH", "")) if p)
    proc = subprocess.run(
        [sys.executable, str(WALK), str(home), str(docs), part, str(shots)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return result


def _leaks(result: dict[str, Any]) -> list[str]:
    found = []
    for step in result["steps"]:
        for text, where in step["texts"].items():
            for leak in leaks(text):
                found.append(f"{step['step']}: {leak!r} in {where}: {text[:160]!r}")
    return found


@pytest.fixture
def home(tmp_path: Path) -> tuple[Path, Path]:
    """A fresh home whose approved folder does not exist yet."""
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]
    home, docs = tmp_path / "home", tmp_path / "Documents"
    try:
        runtime = PolicyRuntime.open(resolve_paths(home), allow_key_file=True)
        try:
            runtime.set_roots((docs,))
        finally:
            runtime.close()
    finally:
        keyring.set_keyring(previous)
    return home, docs


def test_a_newcomer_walk_shows_only_human_words(x11: str, home: tuple[Path, Path], tmp_path: Path) -> None:
    home_dir, docs = home
    shots = tmp_path / "shots"  # the app's guard lets it write only there (and in its data folder)
    first = _walk(home_dir, docs, "first", shots)
    facts = first["facts"]
    assert not first["error"], first["error"] + "\n" + "\n".join(_leaks(first))
    assert facts["hello"] == "Answered"
    # the card said plainly that the folder is missing, and showed the text to be written
    assert "does not exist" in facts["card_text"] and "buy milk" in facts["card_text"]
    assert facts["written"] == "buy milk"
    assert "todo.txt" in facts["write_reply"]
    assert "teal" in facts["answer"].lower()
    assert "intact" in facts["verify"].lower() and "intact" in facts["summary"].lower()
    assert facts["teal_memories"] == 1
    assert not any("favourite colour?" in m for m in facts["memories"]), facts["memories"]
    again = _walk(home_dir, docs, "again", shots)
    assert not again["error"], again["error"]
    assert any(t.startswith("hello") for t in again["facts"]["titles"]), again["facts"]["titles"]
    assert again["facts"]["bubbles"] >= 4, "the first conversation is shown again after a restart"
    assert any("todo.txt" in reply for reply in again["facts"]["replies"]), "the write's result was kept"
    assert _leaks(first) + _leaks(again) == []
    if os.environ.get("AETHER_WRITE_SCREENSHOTS") == "1":
        for shot in shots.glob("walk-*.png"):
            shutil.copyfile(shot, REPO / "docs" / "screenshots" / shot.name)


def test_at_twice_the_scale_the_window_fits_and_nothing_is_clipped(
    x11: str, home: tuple[Path, Path], tmp_path: Path
) -> None:
    home_dir, docs = home
    result = _walk(home_dir, docs, "scaled", tmp_path / "shots", QT_SCALE_FACTOR="2")
    assert not result["error"], result["error"]
    facts = result["facts"]
    assert facts["ratio"] == 2
    assert facts["fits"], "the first window is larger than the screen at 2x"
    assert facts["clipped"] == []
    # a screen too narrow for the list beside the companion folds it (View → Conversation list shows it)
    assert facts["list_folded"] == (facts["screen_width"] < 800)
    assert facts["turns"] == 1
    assert _leaks(result) == []
