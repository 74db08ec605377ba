"""Tests for aether_qt/core/utterances.py: questions and small talk are never facts."""

from __future__ import annotations

import pytest

from aether_qt.core.utterances import is_fact_like, is_question, is_small_talk

# (utterance, question, small talk, fact-like)
TABLE = [
    ("what is my favourite colour?", True, False, False),
    ("What's my favourite colour", True, False, False),
    ("what’s my sister called", True, False, False),
    ("is my favourite colour green?", True, False, False),
    ("do I like green tea", True, False, False),
    ("where do I live?", True, False, False),
    ("my favourite colour?", True, False, False),
    ("can you tell me my dentist's name", True, False, False),
    ("hi", False, True, False),
    ("Hello!", False, True, False),
    ("thanks", False, True, False),
    ("Thank you so much, Aether!", False, True, False),
    ("how are you", True, True, False),
    ("How are you doing today?", True, True, False),
    ("how's it going", True, True, False),
    ("good morning", False, True, False),
    ("ok", False, True, False),
    ("my favourite colour is green", False, False, True),
    ("I like green tea in the morning", False, False, True),
    ("the bike lock code is in the blue notebook", False, False, True),
    ("can opener is in the second drawer", False, False, True),
    ("is", False, False, True),  # a lone word is not worth a rule; it is not a question either
    ("call the plumber on Monday", False, False, True),
    ("   ", False, False, False),
    ("?!", True, False, False),
]


@pytest.mark.parametrize(("text", "question", "small_talk", "fact_like"), TABLE)
def test_questions_and_small_talk_are_told_apart_from_facts(
    text: str, question: bool, small_talk: bool, fact_like: bool
) -> None:
    assert is_question(text) is question
    assert is_small_talk(text) is small_talk
    assert is_fact_like(text) is fact_like
