"""Speech chunks: the first words of a reply go early at a clause break, then whole sentences."""

from __future__ import annotations

from aether_qt.services.voice.speech_chunks import SpeechChunker


def test_the_first_clause_is_spoken_before_its_sentence_ends() -> None:
    chunker = SpeechChunker(first_clause_words=4)
    assert chunker.feed("Well, the sea is very wide") == []
    assert chunker.feed(", and deep") == ["Well, the sea is very wide,"]
    assert chunker.feed(" too. Rivers run, as they always did, into it") == ["and deep too."]
    assert chunker.flush() == ["Rivers run, as they always did, into it"]  # later clauses wait for the end


def test_short_replies_are_spoken_whole() -> None:
    chunker = SpeechChunker()
    assert chunker.feed("Hi, you!") == []
    assert chunker.flush() == ["Hi, you!"]
