"""Which banner a voice state shows: the live microphone, voice unavailable, or a passing notice.

The voice host publishes ``voice.did_change_state`` with a state and a sentence;
each state has its own banner so each can carry its own action ("Voice
settings…" when voice input is unavailable) and rank (DESIGN.md §11). "Muted"
comes from the microphone switch, not from here, and clears the live banner.
"""

from __future__ import annotations

from typing import Final

LIVE: Final = "microphone_live"
UNAVAILABLE: Final = "voice_unavailable"
NOTICE: Final = "voice"
MUTED: Final = "microphone_muted"
MUTED_TEXT: Final = "Voice input is off: push-to-talk does nothing until you unmute the microphone."
MUTED_NOTE: Final = "Microphone muted"


def voice_conditions(state: str, message: str) -> dict[str, str | None]:
    """The banners to set (a sentence) or clear (``None``) for a voice state and its sentence."""
    shown = message or None
    return {
        LIVE: shown if state == "listening" else None,
        UNAVAILABLE: shown if state == "unavailable" else None,
        NOTICE: shown if state not in {"listening", "unavailable", "muted"} else None,
    }
