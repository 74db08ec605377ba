"""A streaming sentence splitter: feed tokens, get whole sentences as soon as they end.

Text-to-speech starts speaking when the first sentence is complete
(DESIGN.md §7), so the splitter decides as early as it safely can: a sentence
ends at ``.``, ``!``, ``?`` or an ellipsis (with any closing quotes or
brackets) once the next non-space character has arrived, or at a newline.
It does not end inside a number (``3.5``), after a known abbreviation
(``e.g.``, ``Dr.``), after an initial (``J. Smith``), or at a period or
ellipsis followed by a lowercase word. CJK full stops end a sentence at once.
"""

from __future__ import annotations

import re

ENDERS = ".!?…"
CJK_ENDERS = "。！？"
CLOSERS = "\"')]}»”’"
ABBREVIATIONS = frozenset(
    {
        "e.g.",
        "i.e.",
        "cf.",
        "vs.",
        "mr.",
        "mrs.",
        "ms.",
        "dr.",
        "prof.",
        "st.",
        "jr.",
        "sr.",
        "approx.",
        "fig.",
        "no.",
        "vol.",
        "p.",
        "pp.",
        "a.m.",
        "p.m.",
        "u.s.",
        "inc.",
        "ltd.",
        "co.",
        "mt.",
        "jan.",
        "feb.",
        "aug.",
        "sept.",
        "oct.",
        "nov.",
        "dec.",
    }
)
_CLAUSE_BREAK = re.compile(r"[,;:](?=\s)|\s[—–-](?=\s)")
_INITIALS = re.compile(r"^(?:[A-Za-z]\.)+$")
_WORD_BEFORE = re.compile(r"(\S+)$")


class SentenceSplitter:
    """Accumulates streamed text and hands back complete sentences.

    Not thread-safe: one splitter per generation, used by one thread.
    """

    def __init__(self) -> None:
        self._buf = ""
        self._pos = 0  # where scanning resumes

    def feed(self, text: str) -> list[str]:
        """Add streamed ``text``; return the sentences it completed (stripped, non-empty)."""
        self._buf += text
        done: list[str] = []
        start = 0
        i = self._pos
        buf = self._buf
        while i < len(buf):
            ch = buf[i]
            if ch == "\n":
                done.append(buf[start:i])
                start = i = i + 1
                continue
            if ch in CJK_ENDERS:
                j = self._run_end(buf, i)
                done.append(buf[start:j])
                start = i = j
                continue
            if ch not in ENDERS:
                i += 1
                continue
            decision = self._decide(buf, start, i)
            if decision is None:  # need more text to decide
                break
            if decision > 0:
                done.append(buf[start:decision])
                start = i = decision
            else:
                i = -decision
        self._buf = buf[start:]
        self._pos = max(i - start, 0)
        return [s.strip() for s in done if s.strip()]

    def take_clause(self, min_words: int = 5) -> str | None:
        """Cut the pending text at its last clause break (``,`` ``;`` ``:`` or a dash, then a space).

        Speech uses it for the first words of a reply only, so audio starts
        before a long first sentence ends. The clause must hold ``min_words``
        words; ``None`` when there is no such break yet.
        """
        match = None
        for found in _CLAUSE_BREAK.finditer(self._buf):
            match = found
        if match is None:
            return None
        clause = self._buf[: match.end()].strip()
        if len(clause.split()) < min_words:
            return None
        self._buf = self._buf[match.end() :]
        self._pos = 0
        return clause

    def flush(self) -> list[str]:
        """End of stream: return whatever is left as a last sentence."""
        rest, self._buf, self._pos = self._buf.strip(), "", 0
        return [rest] if rest else []

    @staticmethod
    def _run_end(buf: str, i: int) -> int:
        j = i
        while j < len(buf) and (buf[j] in ENDERS or buf[j] in CJK_ENDERS or buf[j] in CLOSERS):
            j += 1
        return j

    def _decide(self, buf: str, start: int, i: int) -> int | None:
        """At a sentence ender at ``i``: ``None`` to wait, ``end > 0`` to cut, ``-resume`` to go on."""
        j = self._run_end(buf, i)
        if j == len(buf):
            return None
        if not buf[j].isspace():
            return -j  # "3.5", "e.g.x", "file.txt": not an end
        k = j
        while k < len(buf) and buf[k].isspace():
            if buf[k] == "\n":
                return j
            k += 1
        if k == len(buf):
            return None
        return -j if _continues(buf[start : i + 1], buf[i:j].rstrip(CLOSERS), buf[k]) else j


def _continues(before: str, run: str, nxt: str) -> bool:
    """True when the ender ``run`` does not end the sentence (``before`` ends with its first char)."""
    if run in {".", "...", "…"} and nxt.islower():
        return True  # "approx. five", "well... maybe"
    if run != ".":
        return False
    match = _WORD_BEFORE.search(before)
    word = match.group(1) if match else ""
    return word.lower() in ABBREVIATIONS or (bool(_INITIALS.match(word)) and word != "I.")


def split_all(text: str) -> list[str]:
    """Split a whole text at once (same rules as streaming)."""
    splitter = SentenceSplitter()
    return splitter.feed(text) + splitter.flush()
