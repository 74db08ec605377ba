"""Helpers for the wizard's voice and model page tests: a paced mirror on 127.0.0.1, archives, GGUFs, shots.

The mirror plays the model hosts (nothing leaves 127.0.0.1): it serves files by
name with Range support, optionally paced (``step`` bytes then ``pause``
seconds) so a test can watch progress and cancel mid-way, and records each
request's Range header.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import os
import struct
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtWidgets import QWidget, QWizard, QWizardPage
from pytestqt.qtbot import QtBot

SHOTS_ENV = "AETHER_SHOTS_DIR"  # where page screenshots go (default: the test's tmp_path)


class Mirror:
    """Serves ``files`` by name on 127.0.0.1 (see the module docstring)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.ranges: list[str | None] = []
        self.step, self.pause = 0, 0.0
        mirror = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = mirror.files.get(self.path.lstrip("/"))
                wanted = self.headers.get("Range")
                mirror.ranges.append(wanted)
                if body is None:
                    self.send_error(404)
                    return
                start = int(wanted.removeprefix("bytes=").rstrip("-")) if wanted else 0
                self.send_response(206 if wanted else 200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                step = mirror.step or len(body)
                try:
                    for at in range(start, len(body), step):
                        self.wfile.write(body[at : at + step])
                        self.wfile.flush()
                        time.sleep(mirror.pause)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client cancelled

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"


@contextmanager
def serving() -> Iterator[Mirror]:
    mirror = Mirror()
    thread = threading.Thread(target=mirror.server.serve_forever, name="mirror", daemon=True)
    thread.start()
    try:
        yield mirror
    finally:
        mirror.server.shutdown()
        mirror.server.server_close()
        thread.join(5)


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
