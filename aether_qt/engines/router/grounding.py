"""Grounded answers: a fact the user told Aether answers their question, with its source and date.

A 135M model given "my dog is called Biscuit" as fenced data still answers
"what is my dog called?" with a story (measured: "Your dog's name in Russian…").
So when a recalled memory answers the question with high confidence, the reply
is written here, not by the model: the fact in the user's own words, where it
came from and when ("Biscuit — you told me on 7 December: “my dog is called
Biscuit”."). The conductor gives it as a ``reflex``/``memory`` route, whatever
model is in use: a bigger model would not make a remembered fact more true,
and a quoted fact with its date is easy to check and to correct.

The decision is deliberately narrow; any doubt leaves the question to the model:

* the text is a question (a question mark, or it opens like one) about the user
  (``my``, ``I``, ``me``, ``our``...), or about someone the fact names ("when is
  Jonas's birthday?" and "Jonas's birthday is on 3 July"): "what is your name?"
  is not about a fact the user told;
* the memory is the user's own words (:func:`~aether_qt.policy.provenance.memory_is_trusted`:
  said or confirmed by the user; never a file's or the assistant's text), a
  fact, preference or note (an episode is a past chat turn, often a question);
* it was recalled with at least :data:`MIN_SCORE` (the fused rank score of
  :mod:`aether_qt.engines.memory.recall`), so a hit near the bottom of the lists is
  not trusted whatever words it shares;
* the question's content words are found in the fact (:data:`MIN_COVERAGE`),
  after folding plurals, possessives and a few synonyms ("called"/"named"/"name").
  Words naming the kind of answer ("city", "colour", "breed", "name") are not
  required when the fact names no kind of its own ("I live in Lisbon" answers
  "which city do I live in?"), but must match when it does, so "my favourite
  colour is green" never answers "what's my favourite food?";
* the person or thing the fact is about ("my *brother* lives in Paris") is named
  in the question, so it never answers "where do I live?".

Among the facts that pass, the one with the fewest words the question does not
mention wins, then the newest (a fact told again later replaces the old one).

Pure: no Qt, no I/O; dates are formatted in the given time zone.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from aether_qt.core.generation import GenerationResult, Route, Tier, TokenSink
from aether_qt.policy.provenance import memory_is_trusted

REASON = "a remembered fact answers it"
MIN_SCORE = 0.025  # the fused score of a hit ranked ~10th lexically, or ~25th at full weight
MIN_COVERAGE = 0.75  # share of the question's content words found in the fact
MAX_QUOTE = 300  # characters of the fact quoted in the reply
GROUNDABLE_KINDS = frozenset({"fact", "preference", "note"})

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_QUESTION_OPENERS_TEXT = (
    "what whats who whom whose which where when how why do does did is are was were can could tell remind"
)
_QUESTION_OPENERS = frozenset(_QUESTION_OPENERS_TEXT.split())
_FIRST_PERSON = frozenset({"my", "i", "me", "mine", "our", "ours", "we", "myself"})
# Words that carry no subject: grammar, question words, and verbs about remembering itself.
_IGNORED_TEXT = """
    a about after all also am an and any are as at be been being but by can could did do does
    doing for from had has have having he her here him his how i if in into is it its just let me
    more most my myself no not now of off on once only or our ours out over own she should so some
    such than that the their them then there these they this those to too up very was we were what
    whats when where which while who whom whose why will with would you your yours s t d ll m re ve
    don didn doesn isn wasn tell remind recall remember know again please still ever mine again
    get got go goes going went thing things something anything one say said told
    """
_IGNORED = frozenset(_IGNORED_TEXT.split())
# Words naming the kind of answer: not required unless the fact names a kind itself (see the docstring).
_KIND_WORDS_TEXT = """
    city town country place colour food dish drink number year date day month time age breed
    kind type sort language sport book film song band game team brand model job instrument
    """
_KIND_WORDS = frozenset(_KIND_WORDS_TEXT.split())
_SYNONYMS = {
    "called": "name",
    "named": "name",
    "call": "name",
    "favorite": "favourite",
    "color": "colour",
    "movie": "film",
    "lived": "live",
    "living": "live",
    "born": "birth",
    "birthday": "birth",
    "work": "job",
    "works": "job",
    "working": "job",
    "worked": "job",
    "mom": "mother",
    "mum": "mother",
    "dad": "father",
    "like": "favourite",  # "the band I like best" is "my favourite band"
    "love": "favourite",
    "prefer": "favourite",
    "best": "favourite",
}
_PROPER_NOUN = re.compile(r"(?<!^)(?<![.!?]\s)\b(?!I\b)[A-Z][\w'-]+")
_NAMING = re.compile(r"\b(?:is|are|was|were)\s+[A-Z]")  # "my sister is Mira" (case-sensitive)
_QUALIFIERS_TEXT = "favourite favorite best little big older younger elder eldest oldest new old"
_QUALIFIERS = frozenset(_QUALIFIERS_TEXT.split())
_VALUE_PATTERNS = (
    re.compile(r"\b(?:is|are|was|were)\s+(?:called|named)\s+(?P<v>.+)$", re.IGNORECASE),
    re.compile(r"\bname\s+is\s+(?P<v>.+)$", re.IGNORECASE),
    re.compile(
        r"^(?:my|our)\s+[\w' -]{1,60}?\s+(?:is|are|was|were)\s+(?:an?\s+|the\s+)?(?P<v>.+)$", re.IGNORECASE
    ),
    re.compile(
        r"^i\s+(?:live|work|was born|grew up|study|studied)\s+(?:in|at|for|on)\s+(?P<v>.+)$", re.IGNORECASE
    ),
)


@dataclass(frozen=True, slots=True)
class Recalled:
    """One recalled memory as grounding sees it (built from a recall hit by the caller).

    Attributes:
        item_id: the memory's id.
        text: its words.
        kind: ``fact``, ``preference``, ``note`` or ``episode``.
        source: provenance source (``user_said``, ``user_confirmed``, ``file:…``...).
        trust: provenance trust tag.
        captured_at_ms: wall time it was told (epoch ms; 0: unknown).
        score: the fused recall score.
    """

    item_id: str
    text: str
    kind: str
    source: str
    trust: str
    captured_at_ms: int
    score: float


@dataclass(frozen=True, slots=True)
class Grounded:
    """A reply taken from a remembered fact.

    Attributes:
        item_id: the memory that answers.
        answer: the value the fact gives ("Biscuit"), or "" when no simple value was found.
        reply: the whole reply, with the source and date.
        source: the memory's provenance source.
        told_on: the date in words ("7 December"; with the year when it is not this year).
    """

    item_id: str
    answer: str
    reply: str
    source: str
    told_on: str

    @property
    def route(self) -> Route:
        """The route this reply takes: no model is called."""
        return Route(Tier.REFLEX, "memory", reason=REASON)

    def stream(self, on_token: TokenSink) -> GenerationResult:
        """Give the reply to ``on_token`` word by word (as a provider would) and return the result."""
        pieces = re.findall(r"\S+\s*", self.reply)
        for piece in pieces:
            on_token(piece)
        return GenerationResult(text=self.reply, tokens=len(pieces), stopped="done")


def _norm(word: str) -> str:
    w = word.casefold().replace("\u2019", "'")
    w = _SYNONYMS.get(w, w)
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
        w = w[:-1]
    return _SYNONYMS.get(w, w)


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text.replace("\u2019", "'"))]


def _terms(words: Sequence[str]) -> set[str]:
    return {_norm(w) for w in words if w not in _IGNORED} - {""}


def is_question(text: str) -> bool:
    """Whether ``text`` asks something (a question mark, or it opens like a question)."""
    words = _words(text)
    return bool(words) and (text.rstrip().endswith("?") or words[0] in _QUESTION_OPENERS)


def is_question_about_user(text: str) -> bool:
    """Whether ``text`` asks something about the user (a question that names ``my``/``I``/``me``...)."""
    return is_question(text) and any(w in _FIRST_PERSON for w in _words(text))


def named(text: str) -> set[str]:
    """The names in ``text`` (capitalised words past its first, ``I`` aside), case-folded, ``'s`` dropped."""
    return {
        re.sub(r"'s$", "", m.group(0).replace("\u2019", "'")).casefold()
        for m in _PROPER_NOUN.finditer(text.strip())
    }


def _about(fact_words: Sequence[str]) -> set[str]:
    """Who or what the fact is about: the noun after ``my``/``our`` (past a qualifier), normalised."""
    about: set[str] = set()
    for i, word in enumerate(fact_words[:-1]):
        if word in ("my", "our"):
            nxt = fact_words[i + 1]
            if nxt in _QUALIFIERS and i + 2 < len(fact_words):
                about.add(_norm(fact_words[i + 2]))
            about.add(_norm(nxt))
    return about


def _match(question_terms: set[str], fact: Recalled, *, how: bool) -> tuple[float, int] | None:
    """``(coverage, extra fact words)`` when the fact answers the question's words, else None.

    ``how``: the question opens with "how" or "why"; it must ask more than who the fact is
    about ("how is my dog?" is not answered by "my dog is called Biscuit").
    """
    fact_words = _words(fact.text)
    fact_terms = _terms(fact_words)
    if _NAMING.search(fact.text):
        fact_terms.add("name")  # "my sister is Mira" names her
    fact_kinds = fact_terms & _KIND_WORDS
    required = {t for t in question_terms if t not in _KIND_WORDS or fact_kinds}
    if not required:
        required = question_terms  # "what's my name?": the kind word is all there is
    if not required:
        return None
    about = _about(fact_words)
    if about and not about & question_terms:
        return None
    if how and required <= about:
        return None
    coverage = len(required & fact_terms) / len(required)
    if coverage < MIN_COVERAGE:
        return None
    return coverage, len(fact_terms - question_terms)


def answer_value(fact: str) -> str:
    """The value a simple fact gives ("my dog is called Biscuit" -> "Biscuit"), else ""."""
    text = fact.strip().rstrip(".!")
    for pattern in _VALUE_PATTERNS:
        match = pattern.search(text)
        if match is not None:
            value = match["v"].strip(" \"'“”")
            if value and len(value.split()) <= 6:
                return value[0].upper() + value[1:]
    return ""


def told_on(captured_at_ms: int, now_ms: int, tz: dt.tzinfo | None = None) -> str:
    """The day a memory was told, in words: ``7 December`` (``7 December 2025`` in another year)."""
    when = dt.datetime.fromtimestamp(captured_at_ms / 1000, tz=dt.UTC).astimezone(tz)
    now = dt.datetime.fromtimestamp(now_ms / 1000, tz=dt.UTC).astimezone(tz)
    day = f"{when.day} {when:%B}"
    return day if when.year == now.year else f"{day} {when.year}"


def _reply(fact: Recalled, value: str, now_ms: int, tz: dt.tzinfo | None) -> tuple[str, str]:
    quote = fact.text.strip()
    if len(quote) > MAX_QUOTE:
        quote = quote[: MAX_QUOTE - 1].rstrip() + "…"
    verb = "you told me" if fact.source == "user_confirmed" else "you mentioned it"
    if fact.captured_at_ms > 0:
        day = told_on(fact.captured_at_ms, now_ms, tz)
        source = f"{verb} on {day}"
    else:
        day, source = "", verb
    if value:
        return f"{value} — {source}: “{quote}”.", day
    return f"{source[0].upper()}{source[1:]}: “{quote}”.", day


def ground(
    question: str, recalled: Sequence[Recalled], *, now_ms: int, tz: dt.tzinfo | None = None
) -> Grounded | None:
    """The reply from a remembered fact when one answers ``question`` confidently, else None.

    Args:
        question: the user's words.
        recalled: this turn's recall hits.
        now_ms: the wall clock (epoch ms), to say the year only when it is not this one.
        tz: the time zone of the date in the reply (None: the machine's).
    """
    if not is_question(question):
        return None
    names = set() if is_question_about_user(question) else named(question)
    if not is_question_about_user(question) and not names:
        return None
    words = _words(question)
    question_terms = _terms(words)
    how = words[0] in ("how", "why")
    best: tuple[tuple[float, int, int], Recalled] | None = None
    for fact in recalled:
        if fact.kind not in GROUNDABLE_KINDS or fact.score < MIN_SCORE:
            continue
        if not memory_is_trusted(fact.source, fact.trust):
            continue
        if names and not names <= set(_words(fact.text)):
            continue  # not about the user: it must be about someone the fact names ("Jonas")
        matched = _match(question_terms, fact, how=how)
        if matched is None:
            continue
        rank = (matched[0], -matched[1], fact.captured_at_ms)
        if best is None or rank > best[0]:
            best = (rank, fact)
    if best is None:
        return None
    fact = best[1]
    value = answer_value(fact.text)
    reply, day = _reply(fact, value, now_ms, tz)
    return Grounded(item_id=fact.item_id, answer=value, reply=reply, source=fact.source, told_on=day)
