"""English stop words dropped from lexical recall queries (question words included).

BM25 already discounts common words, but with an OR query every one of them
still pulls in candidates; dropping them keeps the candidate list about the
content words. Kept small and English-only: other languages keep all words.
"""

from __future__ import annotations

_WORDS = """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just let me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves s t d ll m re ve don didn doesn isn wasn weren won wouldn
    shouldn couldn hasn haven hadn aren also ever kind kinds sort type types something anything thing
    things whats what's
"""

STOP_WORDS = frozenset(_WORDS.split())
