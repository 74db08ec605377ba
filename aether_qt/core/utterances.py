"""What a sentence is, for deciding what memory keeps: a question, small talk, or something to keep.

"what is my favourite colour?" asks; "thanks" and "how are you" are small
talk. Both belong to the conversation (a session episode at most) and never
become a fact, a preference or a note. The rules are deliberately simple and
anchored at the start of the sentence, so they are cheap and predictable:

* a question ends with ``?`` or opens like one: a question word ("what",
  "where's", "how"), or an auxiliary verb followed by its subject ("is my…",
  "do I…", "can you…"), so "can opener is in the drawer" stays a statement;
* small talk is one of a few fixed phrases (greetings, thanks, "how are you"),
  whatever the punctuation, optionally addressed to Aether.

Pure: no Qt, no I/O. The reflex classifier keeps its acknowledgements here too.
"""

from __future__ import annotations

import re
from typing import Final

ACKNOWLEDGEMENTS: Final = frozenset(
    {
        "hi", "hello", "hey", "hiya", "yo", "howdy", "good morning", "good afternoon", "good evening",
        "good night", "thanks", "thank you", "thanks a lot", "thank you so much", "many thanks", "thx",
        "ty", "cheers", "ok", "okay", "cool", "great", "nice", "got it", "bye", "goodbye", "see you",
        "see you later", "never mind", "nevermind", "forget it", "sounds good", "perfect", "awesome",
    }
)  # fmt: skip
"""Greetings, thanks and "ok": answered by the reflex tier."""

SMALL_TALK: Final = ACKNOWLEDGEMENTS | frozenset(
    {
        "how are you", "how are you doing", "how are you doing today", "how are you today",
        "how's it going", "hows it going", "how is it going", "what's up", "whats up", "sup",
        "how do you do", "nice to meet you", "good to see you", "i'm fine", "im fine", "i'm good",
        "fine thanks", "good thanks", "yes", "no", "yeah", "nope", "sure", "lol", "haha", "wow", "hmm",
        "oh", "oh ok", "alright", "all right",
    }
)  # fmt: skip
"""Conversation that carries nothing to remember."""

_QUESTION_WORDS: Final = frozenset(
    {
        "what", "whats", "what's", "who", "whos", "who's", "whom", "whose", "which", "where", "wheres",
        "where's", "when", "whens", "when's", "why", "how", "hows", "how's",
    }
)  # fmt: skip
_AUXILIARIES: Final = frozenset(
    {
        "is", "are", "am", "was", "were", "do", "does", "did", "can", "could", "will", "would", "should",
        "shall", "may", "might", "must", "have", "has", "had",
    }
)  # fmt: skip
_SUBJECTS: Final = frozenset(
    {
        "i", "you", "we", "they", "he", "she", "it", "my", "your", "our", "their", "his", "her", "its",
        "the", "there", "this", "that", "these", "those", "aether",
    }
)  # fmt: skip
_WORD: Final = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)
_PUNCTUATION: Final = re.compile(r"[!.,?~:;…]+")


def _words(text: str) -> list[str]:
    return [w.replace("’", "'") for w in _WORD.findall(text.casefold())]


def is_question(text: str) -> bool:
    """Whether ``text`` asks something (see the module docstring)."""
    stripped = text.strip()
    if stripped.rstrip("! ").endswith("?"):  # "really?!" too
        return True
    words = _words(stripped)
    if not words:
        return False
    if words[0] in _QUESTION_WORDS:
        return True
    return words[0] in _AUXILIARIES and len(words) > 1 and words[1] in _SUBJECTS


def is_small_talk(text: str) -> bool:
    """Whether ``text`` is a greeting, thanks or another fixed phrase of small talk."""
    words = _PUNCTUATION.sub(" ", text.casefold().replace("’", "'")).split()
    if words and words[-1] == "aether":
        words = words[:-1]
    return bool(words) and " ".join(words) in SMALL_TALK


def is_fact_like(text: str) -> bool:
    """Whether ``text`` could be kept as a fact, preference or note: not a question nor small talk."""
    return bool(_words(text)) and not is_question(text) and not is_small_talk(text)
