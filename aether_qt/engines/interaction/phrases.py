"""Phrase pools and their seeded, non-repeating selection (DESIGN.md §4, §10).

Pools come from the persona (``ack``, ``clarify``, ``repair``, ``progress``);
the ``safety`` pool is built in and no persona can change it. ``ack2`` is the
second acknowledgement of a turn: drawn from the ``ack`` pool, never equal to
this turn's first ack. Selection is seeded per turn (a stable hash of the turn
id, so a turn replays to the same phrases) and never repeats the last pick of
a pool; with pools of five or more phrases the last two picks are excluded,
which keeps repetition between consecutive turns at zero.

Until the persona layer lands, :func:`load_default_pools` reads the shipped
``personas/aether.yaml``; it falls back to built-in constants when the file
cannot be read.
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import yaml

from aether_qt.engines.interaction.turn_io import PhrasePool

_LOG = logging.getLogger(__name__)

SAFETY_PHRASES: Final[tuple[str, ...]] = (
    "I can't help with that. If you're thinking about hurting yourself or someone else, please reach "
    "out now to someone you trust or to a local emergency or crisis line.",
    "That's not something I can help with. If you're in danger or thinking of harming yourself, please "
    "contact your local emergency number or a crisis line; you don't have to face it alone.",
    "I won't help with that. If things feel overwhelming, please talk to someone you trust or call a "
    "crisis line near you; they are there for exactly this.",
)
"""The built-in Safety pool; personas cannot replace it."""

DEFAULT_PHRASES: Final[Mapping[str, tuple[str, ...]]] = {
    "ack": (
        "Let me think about that.",
        "One moment.",
        "Okay, give me a second.",
        "Thinking it over.",
        "Right, on it.",
        "Just a moment while I work on that.",
    ),
    "clarify": (
        "Sorry, I didn't catch that. Could you say it another way?",
        "I'm not sure what you mean. Could you tell me a little more?",
        "Could you rephrase that for me?",
        "Hmm, I didn't quite get that. What would you like me to do?",
        "I want to get this right. Can you say a bit more?",
    ),
    "repair": (
        "Sorry, I couldn't do that.",
        "That didn't work out, I'm sorry.",
        "I wasn't able to manage that one.",
        "Apologies, that didn't go through.",
        "I'm sorry, I hit a snag with that.",
    ),
    "progress": (
        "Still working on it, thanks for your patience.",
        "This is taking a little longer than usual.",
        "Nearly there, still thinking.",
        "Bear with me, I'm still on it.",
        "It's taking a moment, but I'm on it.",
    ),
}
"""Built-in Normal, Clarify, Repair and Progress pools, used when the persona file cannot be read."""

PERSONA_POOLS: Final = ("ack", "clarify", "repair", "progress")

# The top-level ``personas/`` folder of the source tree: phrases.py -> interaction -> engines
# -> aether_qt -> the repository (parents[3]). Not packaged; the persona layer replaces this.
DEFAULT_PERSONA_FILE: Final = Path(__file__).resolve().parents[3] / "personas" / "aether.yaml"

_WIDE_POOL: Final = 5  # from this size on, the last two picks are excluded


def _seed(turn_seed: str, pool: str) -> int:
    digest = hashlib.sha256(f"{turn_seed}\x00{pool}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


class PhrasePools:
    """The phrase pools of the active persona, with per-pool memory of recent picks.

    Not thread-safe: one instance belongs to the interaction thread.
    """

    def __init__(self, phrases: Mapping[str, Sequence[str]]) -> None:
        """Build the pools.

        Args:
            phrases: pool name -> phrases. Missing or empty persona pools fall back to
                :data:`DEFAULT_PHRASES`; a ``safety`` entry is ignored (the pool is built in).
        """
        pools: dict[str, tuple[str, ...]] = {}
        for name in PERSONA_POOLS:
            given = tuple(dict.fromkeys(p.strip() for p in phrases.get(name, ()) if p.strip()))
            pools[name] = given or DEFAULT_PHRASES[name]
        pools["safety"] = SAFETY_PHRASES
        self._pools = pools
        self._recent: dict[str, list[str]] = {name: [] for name in pools}
        self._first_ack: tuple[str, str] | None = None  # (turn_seed, phrase)

    def phrases(self, pool: PhrasePool) -> tuple[str, ...]:
        """The phrases of ``pool`` (``ack2`` shares the ``ack`` pool)."""
        return self._pools[_base(pool)]

    def pick(self, pool: PhrasePool, *, turn_seed: str) -> str:
        """Pick a phrase from ``pool`` for the turn ``turn_seed``.

        Never the previous pick of the pool (nor the one before, for pools of five
        or more), and for ``ack2`` never this turn's first ack.

        Args:
            pool: ``ack``, ``ack2``, ``progress``, ``clarify``, ``repair`` or ``safety``.
            turn_seed: the turn id; the choice is a pure function of it and the history.
        """
        base = _base(pool)
        phrases = self._pools[base]
        recent = self._recent[base]
        window = 2 if len(phrases) >= _WIDE_POOL else 1
        excluded = set(recent[-window:])
        if pool == "ack2" and self._first_ack is not None and self._first_ack[0] == turn_seed:
            excluded.add(self._first_ack[1])
        candidates = [p for p in phrases if p not in excluded] or list(phrases)
        choice = random.Random(_seed(turn_seed, pool)).choice(candidates)
        if pool == "ack":
            self._first_ack = (turn_seed, choice)
        recent.append(choice)
        del recent[:-2]
        return choice


def _base(pool: str) -> str:
    return "ack" if pool == "ack2" else pool


@dataclass(frozen=True, slots=True)
class DefaultPersona:
    """What one turn needs from the active persona (taken once, at the turn's start).

    ``content_hash`` identifies the compiled persona the turn used ("" for the
    built-in default); ``temperature`` and ``max_tokens`` are its router settings;
    ``taint`` names it as untrusted content (``card:<id>`` for an imported
    character card), so every request made while it is active carries the tag.
    """

    persona_id: str
    name: str
    system_prompt: str
    pools: PhrasePools
    content_hash: str = ""
    temperature: float = 0.7
    max_tokens: int = 160
    taint: tuple[str, ...] = ()
    preferred_tier: str = "remote"  # the persona's routing: used only as far as the user's posture allows
    privacy_posture: str = "allow_remote"


DEFAULT_SYSTEM_PROMPT: Final = (
    "You are Aether, a warm, calm companion on the user's own computer. Answer briefly and kindly, "
    "say so when you are unsure, and never claim to have done something you have not done."
)


def load_default_persona(path: Path | None = None) -> DefaultPersona:
    """Read the default persona file; fall back to the built-in constants when it is unreadable.

    Args:
        path: the YAML file (``personas/aether.yaml`` of the source tree by default).
    """
    source = DEFAULT_PERSONA_FILE if path is None else path
    try:
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        _LOG.info("default persona %s unreadable (%s); using built-in phrases", source, exc)
        data = None
    if not isinstance(data, dict):
        data = {}
    raw_phrases = data.get("phrases")
    phrases = _phrase_lists(raw_phrases) if isinstance(raw_phrases, dict) else {}
    routing = data.get("routing")
    if not isinstance(routing, dict):
        routing = {}
    return DefaultPersona(
        persona_id=_text(data.get("id"), "aether"),
        name=_text(data.get("name"), "Aether"),
        system_prompt=_text(data.get("system_prompt"), DEFAULT_SYSTEM_PROMPT),
        pools=PhrasePools(phrases),
        preferred_tier=_text(routing.get("preferred_tier"), "remote"),
        privacy_posture=_text(routing.get("privacy_posture"), "allow_remote"),
    )


def load_default_pools(path: Path | None = None) -> PhrasePools:
    """The phrase pools of the default persona (see :func:`load_default_persona`)."""
    return load_default_persona(path).pools


def _text(value: object, default: str) -> str:
    return value.strip() if isinstance(value, str) and value.strip() else default


def _phrase_lists(raw: dict[object, object]) -> dict[str, list[str]]:
    """Keep the persona pools whose value is a list of strings; drop anything else."""
    pools: dict[str, list[str]] = {}
    for name in PERSONA_POOLS:
        value = raw.get(name)
        if isinstance(value, list):
            pools[name] = [item for item in value if isinstance(item, str)]
    return pools
