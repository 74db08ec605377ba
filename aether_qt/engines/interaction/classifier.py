"""The reflex classifier: deterministic rules from a message to a category (DESIGN.md §4).

It never executes anything: side-effecting categories only build an
:class:`~aether_qt.policy.decisions.ActionRequest` for the gate. Rules run in a
few milliseconds even on a 1 MB paste: the text is truncated to
:data:`MAX_INPUT_CHARS` first, and every pattern is anchored at the start (no
unanchored search, no nested quantifiers), so matching stays linear.

Order of the rules: nothing readable -> ``Clarify``; self-harm or violence ->
``SafetyDeflection``; "ask gpt"/"use the cloud" -> ``RemoteEscalation``; a
command or a plain-language variant (:mod:`.commands`) -> ``ToolPlan``,
``MemoryWrite`` or ``MemoryForget``; greetings and thanks -> ``Acknowledge``;
everything else -> ``DirectLocal``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Final

from aether_qt.core.utterances import ACKNOWLEDGEMENTS, is_fact_like, is_question
from aether_qt.engines.interaction.commands import Command, parse_command
from aether_qt.engines.interaction.states import Category
from aether_qt.policy.decisions import ActionRequest

MAX_INPUT_CHARS: Final = 16_384
"""Longer messages are truncated to this many characters, with a notice."""

_SAFETY_PHRASES: Final = (
    "kill myself",
    "killing myself",
    "end my life",
    "take my own life",
    "commit suicide",
    "suicidal",
    "i want to die",
    "hurt myself",
    "harm myself",
    "self-harm",
    "self harm",
    "cut myself",
    "make a bomb",
    "build a bomb",
    "kill someone",
    "murder someone",
    "poison someone",
    "hurt someone",
)

_REMOTE_PHRASES: Final = (
    "ask gpt",
    "ask chatgpt",
    "ask openai",
    "ask claude",
    "ask the cloud",
    "use the cloud",
    "use gpt",
    "use chatgpt",
    "use a remote model",
    "use the remote model",
    "ask a remote model",
    "ask the remote model",
    "ask a bigger model",
    "use a bigger model",
    "ask the big model",
)

_ACK_MAX_CHARS: Final = 40
_PUNCTUATION_RE: Final = re.compile(r"[!.,?~:;]+")
_POLITE_RE: Final = re.compile(
    r"(?:(?:hey|ok|okay)\s+)?(?:aether[,:]?\s+)?(?:(?:please|pls|can\s+you|could\s+you|would\s+you|will\s+you)\s+)*",
    re.IGNORECASE,
)
_LETTERS_RE: Final = re.compile(r"[a-z]+")
_VOWELS: Final = frozenset("aeiouy")


@dataclass(frozen=True, slots=True)
class Classification:
    """The classifier's verdict on one message.

    Attributes:
        category: what the message is.
        text: the sanitised (stripped, maybe truncated) message.
        action: the side effect to put to the gate, for side-effecting categories.
        notice: a note for the user (truncation), or "".
        payload: extra data of the action the conductor keeps for the approval or
            the reply (the text of ``write``; the message of a reminder; the
            question of a remote escalation).
        delay_s: for reminders, seconds from now.
    """

    category: Category
    text: str
    action: ActionRequest | None = None
    notice: str = ""
    payload: str = ""
    delay_s: float | None = None


def sanitize(raw: str) -> tuple[str, str]:
    """Strip ``raw`` and truncate it to :data:`MAX_INPUT_CHARS`.

    Returns:
        The text to classify and a notice ("" unless it was truncated).
    """
    text = raw.strip().replace("\x00", "")
    if len(text) <= MAX_INPUT_CHARS:
        return text, ""
    notice = f"your message was {len(text):,} characters; I used the first {MAX_INPUT_CHARS:,}"
    return text[:MAX_INPUT_CHARS].rstrip(), notice


def classify(
    raw: str, *, turn_id: str | None = None, persona: str = "default", home: str | None = None
) -> Classification | None:
    """Classify one message; None when it is empty (the message is ignored).

    Args:
        raw: the message as typed or transcribed.
        turn_id: stamped on the action request.
        persona: the persona proposing the action (``actor_persona``).
        home: what ``~`` expands to (the user's home folder when omitted).

    Returns:
        The verdict, or None for empty input.
    """
    text, notice = sanitize(raw)
    if not text:
        return None
    verdict = _classify_text(text, turn_id=turn_id, persona=persona, home=home)
    return replace(verdict, notice=notice) if notice else verdict


def _classify_text(text: str, *, turn_id: str | None, persona: str, home: str | None) -> Classification:
    lowered = text.lower()
    if _is_unreadable(text, lowered):
        return Classification(Category.CLARIFY, text)
    if any(phrase in lowered for phrase in _SAFETY_PHRASES):
        return Classification(Category.SAFETY_DEFLECTION, text)
    body = _strip_politeness(text)
    remote = _remote_question(body)
    if remote is not None:
        action = ActionRequest(
            "router.remote", "remote", actor_persona=persona, turn_id=turn_id, intended_route="remote"
        )
        return Classification(Category.REMOTE_ESCALATION, text, action=action, payload=remote)
    command = parse_command(body, home=home)
    if command is not None and command.category is Category.MEMORY_WRITE and _not_a_fact(text, body, command):
        command = None  # "remember my favourite colour?" asks; the conversation answers it
    if command is not None:
        return _from_command(command, text, turn_id=turn_id, persona=persona)
    if _is_acknowledgement(lowered):
        return Classification(Category.ACKNOWLEDGE, text)
    return Classification(Category.DIRECT_LOCAL, text)


_STATES_RE: Final = re.compile(
    r"\b(?:is|are|was|were|am|has|have|had|lives?|works?|likes?|loves?|hates?|prefers?|'s|'re)\b",
    re.IGNORECASE,
)


def _not_a_fact(text: str, body: str, command: Command) -> bool:
    """Whether a "remember …" message asks or chats instead of telling something to keep.

    The fact itself may be a question ("remember what is my favourite colour") or
    small talk ("remember thanks"). A question mark on the message only turns a
    bare topic into a question ("remember my favourite colour?"): a request that
    states something ("can you remember that my dentist is Dr Rao?") is kept.
    """
    fact = command.resource
    if not is_fact_like(fact):
        return True
    told = body.lower().startswith("remember that ") or _STATES_RE.search(fact) is not None
    return is_question(text) and not told


def _from_command(command: Command, text: str, *, turn_id: str | None, persona: str) -> Classification:
    action = ActionRequest(command.capability, command.resource, actor_persona=persona, turn_id=turn_id)
    return Classification(
        command.category, text, action=action, payload=command.payload, delay_s=command.delay_s
    )


def _is_unreadable(text: str, lowered: str) -> bool:
    """Single punctuation, emoji-only or keyboard mash: nothing to answer without asking."""
    if not any(ch.isalnum() for ch in text):
        return True
    if len(text) > _ACK_MAX_CHARS or not text.isascii():
        return False
    if not all(ch.isalpha() or ch.isspace() for ch in text):
        return False
    words = _LETTERS_RE.findall(lowered)
    letters = "".join(words)
    if len(letters) >= 5 and len(set(letters)) == 1:
        return True  # "aaaaaa"
    return len(letters) >= 4 and not any(ch in _VOWELS for ch in letters)  # "sdfghjkl"


def _strip_politeness(text: str) -> str:
    """Drop "please", "can you", "hey aether," in front and "please", "?" or "!" at the end."""
    match = _POLITE_RE.match(text)
    body = text[match.end() :] if match else text
    body = body.rstrip("?! ")
    if body.lower().endswith(" please"):
        body = body[: -len(" please")].rstrip(", ")
    if len(body) > 1 and body.endswith(".") and body[-2].isalnum():
        body = body[:-1]  # a sentence's full stop, not a path's "."
    return body or text


def _remote_question(body: str) -> str | None:
    """The question of an explicit request for a remote model, or None."""
    lowered = body.lower()
    for phrase in _REMOTE_PHRASES:
        if lowered.startswith(phrase):
            rest = body[len(phrase) :].lstrip(" ,:")
            if rest.lower().startswith("to "):
                rest = rest[3:]
            return rest or body
        if phrase in lowered:
            return body
    return None


def _is_acknowledgement(lowered: str) -> bool:
    if len(lowered) > _ACK_MAX_CHARS:
        return False
    words = _PUNCTUATION_RE.sub(" ", lowered).split()
    if words and words[-1] == "aether":
        words = words[:-1]
    return " ".join(words) in ACKNOWLEDGEMENTS
