"""Helpers for the wizard's voice and model page tests: archives, GGUFs, a wizard around a page, shots.

The model hosts are played by :mod:`mirror_support` on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zipfile
from pathlib import Path

from PySide6.QtWidgets import QWidget, QWizard, QWizardPage
from pytestqt.qtbot import QtBot

SHOTS_ENV = "AETHER_SHOTS_DIR"  # where page screenshots go (default: the test's tmp_path)


def noise(size: int) -> bytes:
    """``size`` bytes that do not compress (so a zip keeps its size)."""
    out, seed = bytearray(), b"aether"
    while len(out) < size:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return bytes(out[:size])


def speech_zip(folder: str, *, padding: int = 0) -> bytes:
    """A zip laid out like a vosk model in ``folder`` (``padding`` bytes of stored noise make it big)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(f"{folder}/am/final.mdl", noise(4096 + padding))
        zf.writestr(f"{folder}/conf/model.conf", "--sample-frequency=16000\n")
    return buffer.getvalue()


def _string(text: str) -> bytes:
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def gguf(side: int = 64, name: str = "wizard test") -> bytes:
    """A GGUF v3 with two strings and one ``side`` x ``side`` F32 tensor, aligned to 32 bytes."""
    kv = [("general.architecture", "llama"), ("general.name", name)]
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, 1, len(kv)))
    for key, value in kv:
        out += _string(key) + struct.pack("<I", 8) + _string(value)
    out += _string("token_embd.weight") + struct.pack("<I", 2) + struct.pack("<QQ", side, side)
    out += struct.pack("<IQ", 0, 0)
    out += b"\0" * (-len(out) % 32)
    out += noise(side * side * 4)
    return bytes(out)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def in_wizard(qtbot: QtBot, page: QWizardPage) -> QWizard:
    """``page`` alone in a shown, active QWizard (as the wizard will hold it)."""
    wizard = QWizard()
    wizard.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
    wizard.addPage(page)
    wizard.resize(720, 620)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitExposed(wizard)
    wizard.activateWindow()
    qtbot.waitUntil(wizard.isActiveWindow, timeout=5000)
    return wizard


def shot(widget: QWidget, name: str, fallback: Path) -> Path:
    """Save ``widget`` as ``name``.png in ``$AETHER_SHOTS_DIR`` (else ``fallback``) and return the path."""
    folder = Path(os.environ.get(SHOTS_ENV) or fallback)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    assert widget.grab().save(str(path)), f"could not save {path}"
    return path
