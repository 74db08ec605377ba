"""What of a streaming reply to speak, and when: whole sentences, but the first words early.

Speech waits for a sentence to end (the router's splitter), except at the very
start of a reply: while nothing has been spoken yet, a clause break after a few
words (``Well, the sea is wide,``) is enough, so the voice starts sooner. Used
by the voice host and by ``aether bench voice``, so the benchmark measures what
the app does.
"""

from __future__ import annotations

from aether_qt.engines.router.sentences import SentenceSplitter

FIRST_CLAUSE_WORDS = 5


class SpeechChunker:
    """Turns one reply's streamed text into chunks to synthesise (not thread-safe: one per reply)."""

    def __init__(self, first_clause_words: int = FIRST_CLAUSE_WORDS) -> None:
        self._splitter = SentenceSplitter()
        self._first_clause_words = first_clause_words
        self.chunks = 0

    def feed(self, text: str) -> list[str]:
        """Add streamed text; return the chunks it completed."""
        out = self._splitter.feed(text)
        if not out and self.chunks == 0:
            clause = self._splitter.take_clause(self._first_clause_words)
            out = [clause] if clause else []
        self.chunks += len(out)
        return out

    def flush(self) -> list[str]:
        """End of the reply: the rest, if any."""
        out = self._splitter.flush()
        self.chunks += len(out)
        return out
