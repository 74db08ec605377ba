"""The conversation the conductor re-sends, and the taint and task that go with it.

The local model reads the history before every reply, so the conductor keeps a
short window of answered turns (:func:`history_window`, a token budget). The
window keeps its oldest exchange while everything since still fits, so that
consecutive prompts share their history and the model's KV cache (kept across
turns) covers it; only when the budget is exceeded does it restart at the newest
exchanges that fit half of it. Each
turn is kept as an :class:`Exchange`: the user's words, the assistant's own
words, and apart from both the untrusted data shown in that turn (a file's text),
which later prompts fence as data with its source, never as anyone's words.

**Taint** (DESIGN.md §5, "Taint in production"). An exchange names the untrusted
content it holds (:attr:`Exchange.sources`: the file it read, a remote model's
reply) and the untrusted content that was in the model's context when it wrote
the reply (:attr:`Exchange.derived`: the window's sources then, untrusted
memories recalled for it, an imported card's persona). The conversation is
tainted by every tag of every exchange still in the window, so the taint clears
once those exchanges have left it. A reply written from tainted content stays
tainted while it is in the window (one hop: a later reply written from that
reply is not tainted by it, or the taint could never clear).

**Task.** The gate's silent-upload rule needs "read user data, then send it
away" to share one task id. :meth:`ConversationHistory.task_id` is the task of
the oldest exchange in the window that read user data, so a read and a later
network request share a task while the read is in the window; with no read in
the window each turn starts a task of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from aether_qt.core.generation import FencedData, Message
from aether_qt.engines.router.prompt import estimate_tokens

HISTORY_BUDGET_TOKENS = 192  # the history re-read before each reply: bounds a follow-up's first token
MESSAGE_BUDGET_TOKENS = 64  # one earlier message (or its data) at most: a long one is cut, the gist stays


@dataclass(frozen=True, slots=True)
class Exchange:
    """One answered turn as the conversation keeps it.

    Attributes:
        user: what the user said.
        reply: the assistant's own words (never a file's text).
        data: untrusted text shown in the turn (a file read), fenced in later prompts.
        sources: tags of the untrusted content this exchange holds.
        derived: tags of the untrusted content in the model's context when it wrote ``reply``.
        task_id: the task the turn's requests carried.
        read: the turn read user data (the gate allowed a read).
        turn_id: the turn it was (regenerate and edit replace the last exchange by its turn).
    """

    user: str
    reply: str
    data: tuple[FencedData, ...] = ()
    sources: tuple[str, ...] = ()
    derived: tuple[str, ...] = ()
    task_id: str = ""
    read: bool = False
    turn_id: str = ""

    @property
    def taint(self) -> tuple[str, ...]:
        """Every tag this exchange brings to the context it is in."""
        return _union(self.sources, self.derived)

    def messages(self) -> tuple[Message, Message]:
        """The user's message and the reply, which carries the turn's data."""
        return Message("user", self.user), Message("assistant", self.reply, self.data)


def _union(*groups: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(tag for group in groups for tag in group))


def history_window(
    history: list[Message], *, budget: int = HISTORY_BUDGET_TOKENS, per_message: int = MESSAGE_BUDGET_TOKENS
) -> tuple[Message, ...]:
    """The most recent messages that fit ``budget`` estimated tokens, each cut to ``per_message``.

    The local model reads again whatever history its KV cache does not hold
    (after a restart of the window, a trimmed history, another persona), so an
    unbounded history can make a follow-up slow: six long replies cost seconds
    before the first token. Newest messages are kept
    first; a message's data counts towards the budget and each block is cut like
    a message; a user message is never kept without the reply that followed it.
    """
    kept: list[Message] = []
    used = 0
    for message in reversed(history):
        cut = Message(
            message.role,
            _cut(message.text, per_message),
            tuple(replace(block, text=_cut(block.text, per_message)) for block in message.data),
        )
        cost = estimate_tokens(cut.text) + sum(estimate_tokens(block.text) for block in cut.data)
        if used + cost > budget:
            break
        kept.append(cut)
        used += cost
    while kept and kept[-1].role == "assistant":  # oldest kept is a reply whose question was dropped
        kept.pop()
    return tuple(reversed(kept))


def _cut(text: str, tokens: int) -> str:
    return _cut_to_tokens(text, tokens) if estimate_tokens(text) > tokens else text


def _cut_to_tokens(text: str, tokens: int) -> str:
    """``text`` shortened at a word boundary to about ``tokens`` estimated tokens, with an ellipsis."""
    words, out = text.split(), ""
    for word in words:
        candidate = f"{out} {word}".strip()
        if estimate_tokens(candidate + " …") > tokens:
            break
        out = candidate
    return f"{out} …" if out else text[: tokens * 3]


class ConversationHistory:
    """The answered turns of one conversation, newest last (owned by the thread running turns).

    Args:
        turns: how many exchanges are kept at most (the window is usually shorter).
        budget: the window's token budget (:func:`history_window`).
    """

    def __init__(self, *, turns: int = 6, budget: int = HISTORY_BUDGET_TOKENS) -> None:
        self._turns = turns
        self._budget = budget
        self._exchanges: list[Exchange] = []
        self._first = 0  # the window starts at this exchange while everything since fits

    def add(self, exchange: Exchange) -> None:
        """Keep an answered turn (the oldest beyond ``turns`` is forgotten)."""
        self._exchanges.append(exchange)
        before = len(self._exchanges)
        del self._exchanges[: -self._turns or len(self._exchanges)]
        self._first = max(self._first - (before - len(self._exchanges)), 0)

    def drop_last(self, turn_id: str) -> Exchange | None:
        """Forget the newest exchange if it is turn ``turn_id`` (regenerate, edit, continue); it, or None.

        The model must not read an answer it is asked to write again: the next
        prompt's history ends before the dropped exchange.
        """
        if not self._exchanges or self._exchanges[-1].turn_id != turn_id:
            return None
        dropped = self._exchanges.pop()
        self._first = min(self._first, len(self._exchanges))
        return dropped

    def messages(self) -> tuple[Message, ...]:
        """The window as the prompt's history: recent whole exchanges within the budget, cut.

        The window keeps its start while every exchange since fits the budget (a
        stable prefix for the model's KV cache); past the budget it restarts at the
        newest exchanges that fit half of it, or, when not even one does, the
        newest that fit the whole budget. It is always a suffix of the exchanges,
        never longer than :func:`history_window` would keep.
        """
        held = [m for exchange in self._exchanges[self._first :] for m in exchange.messages()]
        window = history_window(held, budget=self._budget)
        if len(window) == len(held):
            return window
        recent = [m for exchange in self._exchanges for m in exchange.messages()]
        window = history_window(recent, budget=self._budget // 2) or history_window(
            recent, budget=self._budget
        )
        self._first = len(self._exchanges) - len(window) // 2
        return window

    def window(self) -> tuple[Exchange, ...]:
        """The exchanges whose messages :meth:`messages` keeps (always whole exchanges)."""
        count = len(self.messages()) // 2
        return tuple(self._exchanges[-count:]) if count else ()

    def taint(self) -> tuple[str, ...]:
        """Every tag of the exchanges in the window (empty: the conversation is clean)."""
        return _union(*(exchange.taint for exchange in self.window()))

    def sources(self) -> tuple[str, ...]:
        """The untrusted content itself in the window (what a new reply is written from)."""
        return _union(*(exchange.sources for exchange in self.window()))

    def task_id(self) -> str | None:
        """The task of the oldest exchange in the window that read user data; None if none did."""
        return next((exchange.task_id for exchange in self.window() if exchange.read), None)
