"""Grounding: when a remembered fact answers the question, and, above all, when it must not.

Every refusal case is built as a pair: the same question and fact answered when
all is well, and refused when exactly one thing is wrong (the trust, the kind,
the score, the subject), so a test fails if the rule it names is missing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from aether_qt.core.generation import Tier
from aether_qt.engines.router.grounding import (
    MIN_SCORE,
    REASON,
    Grounded,
    Recalled,
    answer_value,
    ground,
    is_question_about_user,
    told_on,
)

NOW = int(dt.datetime(2026, 12, 7, 11, 0, tzinfo=dt.UTC).timestamp() * 1000)
TOLD = int(dt.datetime(2026, 12, 5, 9, 30, tzinfo=dt.UTC).timestamp() * 1000)


def fact(
    text: str,
    *,
    source: str = "user_confirmed",
    trust: str | None = None,
    kind: str = "fact",
    score: float = 0.09,
    at: int = TOLD,
    item_id: str = "",
) -> Recalled:
    return Recalled(item_id or text, text, kind, source, trust or source, at, score)


DOG = fact("my dog is called Biscuit", item_id="dog")


def answer(question: str, *facts: Recalled) -> Grounded | None:
    return ground(question, facts, now_ms=NOW, tz=dt.UTC)


def test_the_acceptance_question_is_answered_with_the_fact_its_source_and_date() -> None:
    grounded = answer("what's my dog's name?", DOG)
    assert grounded is not None
    assert grounded.item_id == "dog" and grounded.answer == "Biscuit"
    assert grounded.reply == "Biscuit — you told me on 5 December: “my dog is called Biscuit”."
    assert grounded.route.tier is Tier.REFLEX and grounded.route.provider == "memory"
    assert grounded.route.reason == REASON


@pytest.mark.parametrize(
    "question",
    [
        "what is my dog called?",
        "What's my dog's name?",
        "do you remember my dog's name?",
        "tell me my dog's name",
    ],
)
def test_other_wordings_of_the_question_are_answered(question: str) -> None:
    grounded = answer(question, DOG)
    assert grounded is not None and "Biscuit" in grounded.reply


@pytest.mark.parametrize(
    "question",
    [
        "what is the capital of France?",  # unrelated, not about the user
        "what is your name?",  # about the assistant
        "what is my cat called?",  # about something else of the user's
        "what is my dog's favourite food?",  # about the same dog, but not its name
        "how is my dog?",  # names the dog and asks nothing the fact says
        "how do I train my dog?",  # advice, not a fact
        "my dog is called Biscuit and he is sick",  # not a question
        "",
    ],
)
def test_questions_the_fact_does_not_answer_are_left_to_the_model(question: str) -> None:
    assert answer(question, DOG) is None


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"source": "file:/home/u/notes.txt", "trust": "untrusted"}, "a file's words, not the user's"),
        ({"source": "user_confirmed", "trust": "untrusted"}, "a trusted source with an untrusted tag"),
        ({"source": "assistant_said"}, "the assistant's own words"),
        ({"source": "imported", "trust": "untrusted"}, "an imported memory"),
        ({"kind": "episode"}, "a past chat turn"),
        ({"score": MIN_SCORE * 0.9}, "recalled too weakly"),
    ],
)
def test_a_memory_that_is_not_the_users_confident_fact_never_answers(
    change: dict[str, object], why: str
) -> None:
    assert answer("what's my dog's name?", DOG) is not None  # the same question with the good fact: answered
    assert answer("what's my dog's name?", dataclasses.replace(DOG, **change)) is None, why


def test_a_fact_about_someone_else_does_not_answer_a_question_about_the_user() -> None:
    brother = fact("my brother lives in Paris")
    assert answer("where do I live?", brother) is None
    assert answer("where does my brother live?", brother) is not None
    lisbon = fact("I live in Lisbon")
    grounded = answer("which city do I live in?", brother, lisbon)
    assert grounded is not None and grounded.answer == "Lisbon"


def test_a_kind_word_in_the_fact_must_match_the_question() -> None:
    colour = fact("my favourite colour is green")
    assert answer("what's my favourite food?", colour) is None
    grounded = answer("which colour is my favourite?", colour)
    assert grounded is not None and grounded.answer == "Green"


def test_a_name_question_needs_a_fact_that_names() -> None:
    beach = fact("my dog loves the beach", source="user_said", item_id="beach")
    assert answer("what's my dog's name?", beach) is None
    grounded = answer("what's my dog's name?", beach, DOG)
    assert grounded is not None and grounded.item_id == "dog"
    grounded = answer("what does my dog love?", beach, DOG)
    assert grounded is not None and grounded.item_id == "beach"
    assert grounded.reply == "You mentioned it on 5 December: “my dog loves the beach”."


def test_the_newest_of_two_equal_facts_wins() -> None:
    older = fact("my dog is called Rex", at=TOLD - 86_400_000 * 40, item_id="rex")
    grounded = answer("what is my dog called?", older, DOG)
    assert grounded is not None and grounded.answer == "Biscuit"
    grounded = answer("what is my dog called?", DOG, older)
    assert grounded is not None and grounded.answer == "Biscuit"


def test_the_year_is_said_only_for_another_year_and_long_facts_are_cut() -> None:
    last_year = int(dt.datetime(2025, 3, 1, tzinfo=dt.UTC).timestamp() * 1000)
    assert told_on(last_year, NOW, dt.UTC) == "1 March 2025"
    assert told_on(TOLD, NOW, dt.UTC) == "5 December"
    long = fact("my garden plan is " + "tomatoes and beans, " * 40)
    grounded = answer("what is my garden plan?", long)
    assert grounded is not None and len(grounded.reply) < 400 and "…" in grounded.reply


def test_the_reply_streams_as_tokens_that_make_up_the_reply() -> None:
    grounded = answer("what's my dog's name?", DOG)
    assert grounded is not None
    tokens: list[str] = []
    result = grounded.stream(tokens.append)
    assert "".join(tokens) == grounded.reply == result.text
    assert result.stopped == "done" and result.tokens == len(tokens) > 1


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("my dog is called Biscuit", "Biscuit"),
        ("my sister's name is Mira", "Mira"),
        ("I live in Lisbon", "Lisbon"),
        ("my car is a red Fiat", "Red Fiat"),
        ("I like to swim in the mornings before work every single day", ""),
    ],
)
def test_answer_value(text: str, value: str) -> None:
    assert answer_value(text) == value


def test_question_detection() -> None:
    assert is_question_about_user("where do I live")
    assert is_question_about_user("Tell me my dog's name.")
    assert not is_question_about_user("where is Lisbon?")
    assert not is_question_about_user("I live in Lisbon.")


def test_a_question_about_someone_the_fact_names_is_answered_but_general_knowledge_is_not() -> None:
    jonas = fact("Jonas's birthday is on 3 July")
    grounded = answer("when is Jonas's birthday?", jonas)
    assert grounded is not None and "3 July" in grounded.reply
    assert answer("when is Anna's birthday?", jonas) is None  # someone else
    party = fact("Jonas's birthday party is in July at the lake")
    assert answer("where is Jonas's birthday party in July?", party) is not None
    assert answer("where is Anna's birthday party in July?", party) is None  # 3 of 4 words, not her
    france = fact("my sister lives in France")
    trip = fact("I went to France in May")
    assert answer("what's the capital of France?", france, trip) is None


def test_everyday_rewordings_fold_to_the_same_words() -> None:
    assert answer("when is my mom's birthday?", fact("my mother's birthday is on 12 March")) is not None
    grounded = answer("which band do I like best?", fact("my favourite band is Radiohead"))
    assert grounded is not None and grounded.answer == "Radiohead"
    assert answer("where did I say my wifi router is?", fact("my wifi router is in the hallway cupboard"))


def test_a_name_question_is_not_answered_by_a_fact_that_only_mentions_a_name() -> None:
    lisbon = fact("I live in Lisbon")
    assert answer("what's my name?", lisbon) is None
    grounded = answer("what's my sister's name?", fact("my sister is Mira"), lisbon)
    assert grounded is not None and grounded.answer == "Mira"
    assert answer("what's my name?", fact("my name is Sam"), lisbon) is not None
