"""The streaming sentence splitter (aether_qt/engines/router/sentences.py)."""

from __future__ import annotations

import pytest

from aether_qt.engines.router.sentences import SentenceSplitter, split_all


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hello there! How are you? Fine.", ["Hello there!", "How are you?", "Fine."]),
        ("It costs 3.5 dollars. Cheap.", ["It costs 3.5 dollars.", "Cheap."]),
        ("Use tools, e.g. a hammer. Or not.", ["Use tools, e.g. a hammer.", "Or not."]),
        ("Ask Dr. Smith. He knows.", ["Ask Dr. Smith.", "He knows."]),
        ("J. R. R. Tolkien wrote it. Yes.", ["J. R. R. Tolkien wrote it.", "Yes."]),
        ("So did I. Then we left.", ["So did I.", "Then we left."]),
        ("Well... maybe. Wait... What?", ["Well... maybe.", "Wait...", "What?"]),
        ("Hmm… fine. Ok.", ["Hmm… fine.", "Ok."]),
        ('He said "stop." Then he left.', ['He said "stop."', "Then he left."]),
        ("Really?! Yes.", ["Really?!", "Yes."]),
        ("Open notes.txt now. Done.", ["Open notes.txt now.", "Done."]),
        ("A list:\n- one\n- two\n\nEnd", ["A list:", "- one", "- two", "End"]),
        ("안녕하세요。잘 지내요？네", ["안녕하세요。", "잘 지내요？", "네"]),
        ("no ending", ["no ending"]),
        ("", []),
    ],
)
def test_split_all(text: str, expected: list[str]) -> None:
    assert split_all(text) == expected


def test_sentences_come_out_as_soon_as_the_next_word_starts() -> None:
    s = SentenceSplitter()
    assert s.feed("Hello") == []
    assert s.feed(" world.") == []  # could still be "world.txt" or an abbreviation
    assert s.feed(" How") == ["Hello world."]
    assert s.feed(" are you?") == []
    assert s.feed("\n") == ["How are you?"]  # a newline decides at once
    assert s.feed("Bye") == []
    assert s.flush() == ["Bye"]
    assert s.flush() == []


def test_token_by_token_equals_all_at_once() -> None:
    text = "First one. Second, e.g. this 3.14 thing! Third... and more? Last line\nNext."
    s = SentenceSplitter()
    streamed: list[str] = []
    for ch in text:
        streamed += s.feed(ch)
    streamed += s.flush()
    assert streamed == split_all(text)


def test_waiting_for_a_decision_does_not_rescan_forever() -> None:
    s = SentenceSplitter()
    for _ in range(1000):
        assert s.feed("word ") == []
    assert s.feed("end. Next") == [("word " * 1000) + "end."]


def test_a_clause_is_taken_at_its_last_break_once_it_is_long_enough() -> None:
    splitter = SentenceSplitter()
    assert splitter.feed("Well, the sea is wide, deep and old") == []
    assert splitter.take_clause(min_words=3) == "Well, the sea is wide,"
    assert splitter.feed(" and it never sleeps. Next") == ["deep and old and it never sleeps."]
    assert splitter.flush() == ["Next"]


def test_no_clause_without_a_break_or_with_too_few_words() -> None:
    splitter = SentenceSplitter()
    splitter.feed("Hi, there")
    assert splitter.take_clause(min_words=5) is None
    splitter.feed(" my old friend who sails")
    assert splitter.take_clause(min_words=5) is None  # the only break leaves one word before it
    assert splitter.feed(" - and more") == []
    assert splitter.take_clause(min_words=5) == "Hi, there my old friend who sails -"
