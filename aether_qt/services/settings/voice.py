"""The General and Voice pages: the persona, spoken replies, push-to-talk and the speech model.

The persona switch goes through the persona service the picker uses (compiled
now, applied at the next turn boundary, audited as ``persona_swap``). Spoken
replies and the push-to-talk key apply to the running voice host when it has
started; the hotkey backend and the speech model are chosen when voice starts,
so those say honestly that they take effect after restart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from aether_qt.core.settings_views import RESTART_NOTE, GeneralView, Option, SettingRefused, VoiceView
from aether_qt.engines.media.hotkey_spec import check_hotkey_text, describe_stored, hotkey_text
from aether_qt.engines.media.hotkeys import DEFAULT_KEY
from aether_qt.engines.media.stt import looks_like_model
from aether_qt.engines.media.stt_models import SETTING_STT_MODEL
from aether_qt.engines.persona.errors import PersonaError
from aether_qt.engines.persona.registry import PersonaChoice
from aether_qt.policy.runtime import PolicyRuntime

VOICE_PENDING = "applies when voice starts"  # voice starts after the model has loaded
SETTING_PTT_KEY = "voice.ptt_hotkey"  # not "ptt_key": the settings store refuses key-like names
SETTING_PTT_BACKEND = "voice.ptt_backend"
SETTING_SPEAK = "voice.speak"
SETTING_SPEAK_TYPED = "voice.speak_typed"
DEFAULT_PTT_KEY = DEFAULT_KEY
BACKENDS = {
    "auto": "Choose automatically",
    "x11": "X11 key grab (works while other windows have focus)",
    "pynput": "Keyboard listener (pynput)",
    "in-window": "Only while an Aether window has focus",
}


class PersonaChooser(Protocol):
    """The persona service as the General page uses it (the picker's two calls)."""

    def choices(self) -> Sequence[PersonaChoice]:
        """Every persona on disk."""
        ...

    def choose(self, persona_id: str) -> None:
        """Switch at the next turn boundary.

        Raises:
            PersonaError: it does not exist or does not load.
        """
        ...


class VoiceControl(Protocol):
    """The running voice host, as far as settings change it live."""

    @property
    def backend_name(self) -> str:
        """The push-to-talk backend in use ("" before it started)."""
        ...

    def rebind(self, key: str) -> None:
        """Listen for ``key`` (the stored form, ``"Ctrl+Alt+Space"``) from now on.

        Raises:
            ValueError: the key cannot be used here (the old key stays bound).
        """
        ...

    def set_speech(self, *, speak: bool, speak_typed: bool) -> None:
        """Speak replies (and replies to typed messages) from the next reply on."""
        ...


def check_ptt_key(key: str) -> str:
    """``key`` in its stored form (Qt portable text, ``"Ctrl+Alt+Space"``) if it can be held to talk.

    The rule is :func:`~aether_qt.engines.media.hotkey_spec.hotkey_problem`, the
    one the capture field applies. Older values (``"Scroll_Lock"``) come back
    in the stored form (``"ScrollLock"``).

    Raises:
        SettingRefused: not a key, a typing key without Ctrl/Alt/Super, or one the desktop uses.
    """
    try:
        return hotkey_text(check_hotkey_text(key))
    except ValueError as exc:
        raise SettingRefused(str(exc)) from None


def _persona_option(choice: PersonaChoice) -> Option:
    label = choice.name or choice.persona_id
    if choice.tagline:
        label = f"{label} — {choice.tagline}"
    if not choice.ok:
        return Option(choice.persona_id, f"{label} (does not load)", False, choice.error)
    return Option(choice.persona_id, label if choice.trusted else f"{label} (imported, untrusted)")


class GeneralSettings:
    """The persona in use and whether replies are spoken.

    Args:
        runtime: the app's policy runtime (its settings store).
        personas: the persona service (None: the persona cannot change here).
        voice: the running voice host, or None before voice has started.
    """

    def __init__(
        self,
        *,
        runtime: PolicyRuntime,
        personas: PersonaChooser | None,
        voice: Callable[[], VoiceControl | None] = lambda: None,
    ) -> None:
        self._rt, self._personas, self._voice = runtime, personas, voice

    def view(self) -> GeneralView:
        """The personas (the active one first found), and the two speech switches."""
        choices = list(self._personas.choices()) if self._personas is not None else []
        active = next((c.persona_id for c in choices if c.active), "")
        return GeneralView(
            personas=tuple(_persona_option(c) for c in choices),
            active_persona=active,
            speak=self._rt.settings.get_as(SETTING_SPEAK, bool, True),
            speak_typed=self._rt.settings.get_as(SETTING_SPEAK_TYPED, bool, False),
        )

    def choose_persona(self, persona_id: str) -> str:
        """Switch persona (``aether persona use ID``; the swap itself is audited).

        Raises:
            SettingRefused: it does not exist or does not load (the active one stays).
        """
        if self._personas is None:
            raise SettingRefused("The persona cannot be changed while Aether is starting.")
        try:
            self._personas.choose(persona_id)
        except PersonaError as exc:
            raise SettingRefused(f"That persona does not load: {exc.reason}.") from None
        return "Persona chosen: it takes over at the end of the current reply, if one is running."

    def set_speech(self, *, speak: bool, speak_typed: bool) -> str:
        """Speak replies (``voice.speak``) and replies to typed messages too (``voice.speak_typed``)."""
        self._rt.settings.set(SETTING_SPEAK, speak)
        self._rt.settings.set(SETTING_SPEAK_TYPED, speak_typed)
        voice = self._voice()
        if voice is not None:
            voice.set_speech(speak=speak, speak_typed=speak_typed)
        words = "Replies are spoken" if speak else "Replies are shown, not spoken"
        if speak and speak_typed:
            words += ", also to typed messages"
        return words + ("." if voice is not None else f" ({VOICE_PENDING}).")


class VoiceSettings:
    """The push-to-talk key and backend, and the speech model.

    Args:
        runtime: the app's policy runtime (its settings store).
        models_dir: where downloaded speech models live (each a folder).
        voice: the running voice host, or None before voice has started.
        default_stt: the speech model used when none is chosen (None: none installed).
    """

    def __init__(
        self,
        *,
        runtime: PolicyRuntime,
        models_dir: Path,
        voice: Callable[[], VoiceControl | None] = lambda: None,
        default_stt: Path | None = None,
    ) -> None:
        self._rt, self._models_dir, self._voice = runtime, models_dir, voice
        self._default_stt = default_stt

    def view(self) -> VoiceView:
        """What is stored and what is in use."""
        settings = self._rt.settings
        voice = self._voice()
        backend = settings.get_as(SETTING_PTT_BACKEND, str, "") or "auto"
        default = self._default_stt
        if default is None:
            models = [Option("", "None installed: typing only")]
        else:
            name = default.parent.name if default.name == "model" else default.name  # a package's model/
            models = [Option("", f"The one installed with Aether ({name})")]
        if self._models_dir.is_dir():
            for folder in sorted(self._models_dir.iterdir()):
                if looks_like_model(folder):
                    models.append(Option(str(folder), folder.name))
        stored = settings.get_as(SETTING_STT_MODEL, str, "")
        if stored and stored not in {m.value for m in models}:
            models.append(Option(stored, f"{Path(stored).name} (not found)", False))
        return VoiceView(
            ptt_key=settings.get_as(SETTING_PTT_KEY, str, "") or DEFAULT_PTT_KEY,
            backend=backend if backend in BACKENDS else "auto",
            backends=tuple(Option(k, v) for k, v in BACKENDS.items()),
            backend_in_use=voice.backend_name if voice is not None else "",
            stt_model=stored,
            stt_models=tuple(models),
        )

    def set_ptt_key(self, key: str) -> str:
        """Use ``key`` for push-to-talk: rebound at once when voice runs, then stored.

        Raises:
            SettingRefused: not a usable key, or the running backend cannot grab it (nothing stored).
        """
        key = check_ptt_key(key)
        shown = describe_stored(key)
        voice = self._voice()
        if voice is not None:
            try:
                voice.rebind(key)
            except ValueError as exc:
                raise SettingRefused(f"{shown} cannot be used here: {exc}.") from None
        self._rt.settings.set(SETTING_PTT_KEY, key)
        return f"Hold {shown} to talk." if voice is not None else f"Hold {shown} to talk ({VOICE_PENDING})."

    def set_backend(self, backend: str) -> str:
        """How the key is listened for (chosen when voice starts).

        Raises:
            SettingRefused: not a backend.
        """
        if backend not in BACKENDS:
            raise SettingRefused(f"{backend!r} is not a way to listen for the key.")
        self._rt.settings.set(SETTING_PTT_BACKEND, backend)
        return f"{BACKENDS[backend]}: {self._later()}."

    def set_stt_model(self, folder: str) -> str:
        """The speech model voice input uses (``""``: the default); loaded when voice starts.

        Raises:
            SettingRefused: the folder holds no speech model.
        """
        if folder and not looks_like_model(Path(folder)):
            raise SettingRefused(f"{folder} does not hold a speech model.")
        if folder:
            self._rt.settings.set(SETTING_STT_MODEL, folder)
        else:
            self._rt.settings.delete(SETTING_STT_MODEL)
        return f"Speech model chosen: {self._later()}."

    def _later(self) -> str:
        """When a choice read at voice's start applies: at its start, or after a restart once it runs."""
        return RESTART_NOTE if self._voice() is not None else VOICE_PENDING
