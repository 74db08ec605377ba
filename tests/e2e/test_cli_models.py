"""``aether models list|add`` in a subprocess against a throw-away home.

Skipped (with the reason) until ``models`` is wired into ``aether_qt/cli.py``.
"""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import Cli

HEX64 = 64


def _models_wired() -> bool:
    proc = subprocess.run(
        [sys.executable, "-m", "aether_qt.cli", "models", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode == 0


pytestmark = pytest.mark.skipif(not _models_wired(), reason="`aether models` is not wired into cli.py yet")


def _s(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def tiny_gguf(path: Path) -> Path:
    """A minimal but complete GGUF v3: two metadata keys and one 8-float tensor."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, 1, 2))
    out += _s("general.architecture") + struct.pack("<I", 8) + _s("llama")
    out += _s("general.name") + struct.pack("<I", 8) + _s("tiny")
    out += _s("w") + struct.pack("<IQ", 1, 8) + struct.pack("<IQ", 0, 0)  # 1 dim of 8, F32, offset 0
    out += b"\0" * (-len(out) % 32)
    out += b"\0" * 32
    path.write_bytes(bytes(out))
    return path


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(home=tmp_path / "home")


def test_list_prepares_and_shows_the_bundled_model(cli: Cli) -> None:
    data = cli.json("models", "list")
    bundled = [m for m in data["models"] if m["source"] == "bundled"]
    if not bundled:
        pytest.skip(f"bundled model unavailable: {data['problem']}")
    model = bundled[0]
    assert Path(model["path"]).parent == cli.home / "data" / "models"
    assert len(model["sha256"]) == len(model["source_sha256"]) == HEX64
    assert model["sha256"] != model["source_sha256"]
    assert model["size"] == Path(model["path"]).stat().st_size
    text = cli.run("models", "list", check=True).stdout
    assert model["id"] in text and "bundled" in text


def test_add_registers_a_gguf_by_reference(cli: Cli, tmp_path: Path) -> None:
    gguf = tiny_gguf(tmp_path / "Tiny Model.gguf")
    added = cli.json("models", "add", str(gguf))
    assert (added["id"], added["source"], added["path"]) == ("tiny-model", "user", str(gguf))
    listed = cli.json("models", "list")["models"]
    assert any(m["id"] == "tiny-model" and m["sha256"] == added["sha256"] for m in listed)
    plain = cli.run("models", "add", str(gguf), check=True)
    assert "added tiny-model" in plain.stdout


@pytest.mark.parametrize(("content", "problem"), [(b"just some notes", "not a GGUF"), (None, "truncated")])
def test_add_refuses_bad_files_with_exit_2(
    cli: Cli, tmp_path: Path, content: bytes | None, problem: str
) -> None:
    bad = tmp_path / "bad.gguf"
    if content is None:
        bad.write_bytes(tiny_gguf(tmp_path / "whole.gguf").read_bytes()[:-9])
    else:
        bad.write_bytes(content)
    proc = cli.run("models", "add", str(bad))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert str(bad) in proc.stderr and problem in proc.stderr
    assert "Traceback" not in proc.stderr


def test_add_a_missing_file(cli: Cli, tmp_path: Path) -> None:
    proc = cli.run("models", "add", str(tmp_path / "nowhere.gguf"))
    assert proc.returncode == 2 and "does not exist" in proc.stderr
