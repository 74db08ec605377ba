"""Which part of a local model's context a new prompt can reuse (the KV cache kept across turns).

The local model keeps the key/value cache of everything it evaluated. A
follow-up's prompt starts with the same turns as the previous prompt (system
turn, older history); only the turns after the first difference need
evaluating. The unit of reuse is a whole ChatML turn (``<|im_start|>…``):

* llama.cpp splits a prompt at special tokens before it tokenizes the text
  between them, so the tokens of a turn do not depend on what follows it, and
  rewinding the context to the end of a turn and evaluating the rest gives
  exactly the tokens of the whole prompt evaluated at once;
* the assistant's reply is *not* reused: the sampled tokens need not be the
  tokens its text gets when it comes back as history, so the previous reply
  is evaluated again as text (correctness over a few dozen tokens).

Where each turn ends (``n_past``) is read from the prompt's token ids: every
turn starts with ``<|im_start|>``, so where that token's id occurs are the turn
boundaries. That holds only for a model that has ``<|im_start|>`` as one
special token; :func:`marker_ids` finds out from the system turn's ids (the
system turn holds ``<|im_start|>`` once, and ``<|im_end|>`` and the data rule
would repeat the first piece of a ``<|im_start|>`` spelled as ordinary text).
For any other model, or when the ids do not show exactly one marker per turn,
nothing new is trusted and only the prefix already known is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aether_qt.engines.router.prompt import IM_START


@dataclass(frozen=True, slots=True)
class KeptTurn:
    """One turn held in the model's context.

    Attributes:
        text: the turn's prompt text, ``<|im_start|>`` to the newline after ``<|im_end|>``.
        end: the context position (``n_past``) just after it.
    """

    text: str
    end: int


def split_turns(text: str) -> list[str]:
    """``text`` cut before every ``<|im_start|>`` (the first piece may be text before any turn)."""
    pieces = text.split(IM_START)
    turns = [IM_START + p for p in pieces[1:]]
    return [pieces[0], *turns] if pieces[0] else turns


def reusable(kept: Sequence[KeptTurn], turns: Sequence[str]) -> int:
    """How many leading ``turns`` the context already holds, as ``kept`` says.

    Never all of them: the last turn is always evaluated, because generation
    samples from the logits of the last evaluated token.
    """
    count = 0
    for have, want in zip(kept, turns[:-1], strict=False):
        if have.text != want:
            break
        count += 1
    return count


def marker_ids(system_ids: Sequence[int]) -> frozenset[int]:
    """The ids that may be ``<|im_start|>``: the first two ids of the system turn that occur once.

    Two because a model may put a BOS token first. A model spelling
    ``<|im_start|>`` as ordinary text yields no candidate that ever starts a later turn.
    """
    return frozenset(t for t in system_ids[:2] if system_ids.count(t) == 1)


def turn_ends(
    turns: Sequence[str], prompt_ids: Sequence[int], base: int, markers: frozenset[int]
) -> list[KeptTurn] | None:
    """The :class:`KeptTurn` of every complete turn of ``turns`` but the last, from their token ids.

    Args:
        turns: the turns evaluated in one call, in order (each starts with ``<|im_start|>``).
        prompt_ids: every prompt token id that call evaluated, in order.
        base: the context position before the call.
        markers: the ids :func:`marker_ids` found for this model.

    Returns:
        One entry per turn except the last (the assistant header, followed by the
        reply), or ``None`` when the ids do not show one ``<|im_start|>`` per turn.
    """
    if not turns or not prompt_ids or prompt_ids[0] not in markers:
        return None
    if not all(t.startswith(IM_START) for t in turns):
        return None
    marker = prompt_ids[0]
    starts = [i for i, token in enumerate(prompt_ids) if token == marker]
    if len(starts) != len(turns):
        return None
    return [KeptTurn(text, base + starts[i + 1]) for i, text in enumerate(turns[:-1])]
