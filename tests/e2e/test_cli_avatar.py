"""``aether avatar snapshot`` in a subprocess: one PNG through the gate (skips until the parser is wired)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from aether_qt.cli import build_parser


def _wired() -> bool:
    try:
        build_parser().parse_args(["avatar", "snapshot", "--state", "idle", "--out", "x.png"])
    except SystemExit:
        return False
    return True


pytestmark = pytest.mark.skipif(not _wired(), reason="`aether avatar snapshot` is not wired into cli.py yet")


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env_cmd = [sys.executable, "-m", "aether_qt.cli", *args]
    return subprocess.run(env_cmd, capture_output=True, text=True, timeout=120, cwd=cwd, check=False)


def test_help_exits_zero(tmp_path: Path) -> None:
    done = run("avatar", "snapshot", "--help", cwd=tmp_path)
    assert done.returncode == 0 and "--state" in done.stdout


def test_snapshot_writes_a_png_inside_an_approved_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    folder = (tmp_path / "shots").resolve()
    folder.mkdir()
    common = ("--home", str(home), "--allow-key-file")
    assert run("policy", "roots", "add", str(folder), *common, cwd=tmp_path).returncode == 0
    out = folder / "thinking.png"
    done = run(
        "avatar", "snapshot", "--state", "thinking", "--size", "96", "--out", str(out), *common, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == (96, 96)
    again = run("avatar", "snapshot", "--state", "idle", "--out", str(out), *common, cwd=tmp_path)
    assert again.returncode != 0  # never overwrites


def test_snapshot_outside_the_approved_folders_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "elsewhere.png"
    done = run(
        "avatar",
        "snapshot",
        "--state",
        "listening",
        "--out",
        str(out),
        "--home",
        str(tmp_path / "h"),
        "--allow-key-file",
        cwd=tmp_path,
    )
    assert done.returncode != 0 and not out.exists()
    assert "refused" in done.stderr
