"""TTS voices: what an engine offers and how a persona's hint picks one (DESIGN.md §8, §10).

A persona's ``voice.voice_hint`` is "a substring of a TTS voice name or
language" (``en-us``, ``en-gb-scotland``, ``David``). :func:`select_voice`
prefers an exact match, so a hint that is a whole id or language tag never
lands on a longer neighbour (``en-us`` vs ``en-us-nyc``). Pure Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["VoiceInfo", "VoiceSettings", "select_voice", "voice_info"]


@dataclass(frozen=True, slots=True)
class VoiceInfo:
    """A voice the engine offers.

    Attributes:
        id: the engine's voice id (espeak-ng: ``gmw/en-us``).
        name: a readable name (``English (America)``).
        languages: language tags (``en-us``).
    """

    id: str
    name: str
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VoiceSettings:
    """How to speak: a persona's ``voice`` section. None keeps the engine's default.

    Attributes:
        voice_hint: id, name or language of a voice, or a part of one ("" = default voice).
        rate: words per minute.
        pitch: espeak scale 0-99 (ignored by engines without pitch).
        volume: 0.0-1.0.
    """

    voice_hint: str = ""
    rate: int | None = None
    pitch: int | None = None
    volume: float | None = None


def select_voice(voices: Sequence[VoiceInfo], hint: str | None) -> VoiceInfo | None:
    """The voice for ``hint``: an exact id, id tail, language or name match first, then a substring.

    Matching ignores case. ``gmw/en-us`` matches ``en-us`` exactly (its id tail and its
    language), so ``en-us`` never lands on ``en-us-nyc``. None when ``hint`` is empty
    or nothing matches (the caller keeps the default voice).
    """
    wanted = (hint or "").strip().lower()
    if not wanted:
        return None

    def keys(voice: VoiceInfo) -> list[str]:
        lowered = voice.id.lower()
        return [lowered, lowered.rsplit("/", 1)[-1], voice.name.lower()] + [
            lang.lower() for lang in voice.languages
        ]

    exact = next((v for v in voices if wanted in keys(v)), None)
    if exact is not None:
        return exact
    return next((v for v in voices if any(wanted in key for key in keys(v))), None)


def voice_info(voice: Any) -> VoiceInfo:
    """A pyttsx3 ``Voice`` (or anything with ``id``, ``name``, ``languages``) as a :class:`VoiceInfo`."""
    languages = tuple(
        lang.decode("utf-8", "ignore") if isinstance(lang, bytes) else str(lang)
        for lang in (getattr(voice, "languages", None) or [])
    )
    return VoiceInfo(id=str(voice.id), name=str(getattr(voice, "name", "") or voice.id), languages=languages)
