"""Rule scoring of replies for ``aether bench router``: facts present, identity kept, on topic.

No model judges a model here: each check is a plain rule a reader can verify by
eye, so a score moves only when replies really change. The checks:

* ``answered``: the reply is not empty;
* ``on_topic``: it contains one of the prompt's topic words (whole words, case-folded;
  a topic word also matches its plural/-ing/-ed forms);
* ``identity``: it invents no identity: no "my name is X"/"I'm X"/"call me X" for a
  name X other than Aether, no story about another world (planet, galaxy, alien...);
  for an ``identity`` prompt ("who are you?") it must also say "Aether";
* ``no_claimed_act``: it never says it did something only the app can do
  ("I've sent", "I have set a reminder"...);
* ``length``: at most ``max_words`` words.

A memory answer is right when the reply contains any of the fact's expected
strings (case-folded, spaces normalised).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_NAME_CLAIM = re.compile(
    r"\b(?:my name is|i am|i'm|call me|i am called|i'm called)\s+(?P<name>[A-Z][\w-]+)", re.IGNORECASE
)
_NOT_NAMES_TEXT = (
    "aether a an the your not here just always so sorry happy glad fine good well ai sure afraid "
    "unable able doing feeling really very only still"
)
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())
_OTHER_WORLD = re.compile(
    r"\b(?:planet|galaxy|galaxies|alien|spaceship|starship|another world)\b", re.IGNORECASE
)
_CLAIMED_ACT = re.compile(
    r"\b(?:i've|i have|i just|i)\s+(?:already\s+)?(?:sent|set|booked|scheduled|ordered|deleted|saved|"
    r"created|emailed|called|texted|installed|opened|added)\b",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Scored:
    """The checks of one reply: name -> passed; ``score`` is the share passed."""

    checks: dict[str, bool]

    @property
    def score(self) -> float:
        """Share of checks passed (0..1)."""
        return sum(self.checks.values()) / len(self.checks) if self.checks else 0.0

    @property
    def passed(self) -> bool:
        """Every check passed."""
        return all(self.checks.values())


def _mentions(words: set[str], topic: str) -> bool:
    topic = topic.casefold()
    if " " in topic:
        return False
    return any(
        w == topic or (w.startswith(topic) and w[len(topic) :] in ("s", "es", "ing", "ed")) for w in words
    )


def invented_identity(reply: str) -> str:
    """What identity the reply invents ("Elara", "planet"...), or "" when it invents none."""
    for match in _NAME_CLAIM.finditer(reply):
        name = match["name"]
        if name[0].isupper() and name.casefold() not in _NOT_NAMES:
            return name
    world = _OTHER_WORLD.search(reply)
    return world.group(0) if world else ""


def score_reply(reply: str, prompt: Mapping[str, Any]) -> Scored:
    """Score ``reply`` against one entry of ``tests/data/everyday_prompts.json``."""
    text = reply.strip()
    words = {w.casefold() for w in _WORD.findall(text)}
    folded = _SPACES.sub(" ", text.casefold())
    topics: Sequence[str] = prompt.get("topic", ())
    on_topic = any(_mentions(words, t) or (" " in t and t.casefold() in folded) for t in topics)
    identity = not invented_identity(text)
    if prompt.get("identity"):
        identity = identity and "aether" in words
    return Scored(
        {
            "answered": bool(text),
            "on_topic": on_topic,
            "identity": identity,
            "no_claimed_act": _CLAIMED_ACT.search(text) is None,
            "length": len(_WORD.findall(text)) <= int(prompt.get("max_words", 120)),
        }
    )


def fact_recalled(reply: str, expect: Sequence[str]) -> bool:
    """Whether ``reply`` contains one of the expected strings (case-folded, spaces normalised)."""
    folded = _SPACES.sub(" ", reply.casefold())
    return any(_SPACES.sub(" ", e.casefold()) in folded for e in expect)
