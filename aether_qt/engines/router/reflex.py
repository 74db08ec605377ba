"""The reflex tier: templated replies without any model.

It answers acknowledgements, greetings, thanks, "who are you", "what can you
do" and help at once, and keeps the app useful when no local model is loaded:
anything else gets a clear reply saying so and how to choose a model. The
reply is streamed as a few word-sized tokens, like a model's, so the rest of
the pipeline (transcript, sentence splitter, TTS) needs no special case.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from aether_qt.core.generation import GenerationRequest, GenerationResult, TokenSink

NO_MODEL_REPLY = (
    "No local model is loaded, so I can only give short built-in answers right now. "
    "Choose a model (File > Choose model, or `aether models add PATH`) and ask me again."
)


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    pattern: re.Pattern[str]
    reply: str


def _rule(name: str, pattern: str, reply: str) -> _Rule:
    return _Rule(name, re.compile(pattern, re.IGNORECASE), reply)


# Whole-message patterns: a rule answers only when the message is (nearly) just that.
_END = r"[\s!.?,~]*(?:aether)?[\s!.?,~]*$"
RULES: tuple[_Rule, ...] = (
    _rule(
        "greeting",
        r"^\s*(?:hi|hello|hey|hiya|howdy|good (?:morning|afternoon|evening)|yo)\b(?:\s+there)?" + _END,
        "Hello! I'm here.",
    ),
    _rule(
        "thanks",
        r"^\s*(?:thanks|thank you|thx|ty|cheers|much appreciated)\b(?:\s+\w+)?" + _END,
        "You're welcome.",
    ),
    _rule(
        "ack",
        r"^\s*(?:ok|okay|k|sure|alright|all right|got it|cool|great|nice|yes|yeah|yep|no|nope|fine)" + _END,
        "Okay.",
    ),
    _rule("bye", r"^\s*(?:bye|goodbye|good night|see you|see ya|later)\b" + _END, "Goodbye! Talk soon."),
    _rule(
        "identity",
        r"^\s*(?:who|what) are you\b" + _END,
        "I'm Aether, a companion that lives on your computer. I keep our conversations and memories "
        "on this machine, and I ask before I touch anything outside it.",
    ),
    _rule(
        "capabilities",
        r"^\s*(?:what can you do|what do you do|how can you help(?: me)?)\b" + _END,
        "I can chat, remember things you tell me, read files you allow, set reminders and more. "
        "Anything that touches your computer or the internet goes through a permission check first.",
    ),
    _rule(
        "help",
        r"^\s*(?:help|\?|/help|commands)" + _END,
        "Talk to me in plain words. Try: 'remember that ...', 'read ~/notes.txt', "
        "'remind me in 5 minutes to ...'. The Trust Centre shows what I may do.",
    ),
)


def match(text: str) -> _Rule | None:
    """The first rule whose pattern matches the whole message, if any."""
    return next((r for r in RULES if r.pattern.match(text)), None)


def reply_for(text: str, *, model_ready: bool = False) -> str | None:
    """The reflex reply to ``text``; ``None`` when a model should answer instead.

    Without a model every message gets a reply: a templated one, else :data:`NO_MODEL_REPLY`.
    """
    rule = match(text)
    if rule is not None:
        return rule.reply
    return None if model_ready else NO_MODEL_REPLY


def chunks(text: str) -> list[str]:
    """Word-sized tokens (each word with its leading space), like a model would stream."""
    return re.findall(r"\s*\S+", text) or [text]


ACK_REPLY = "Okay."


class ReflexProvider:
    """A :class:`~aether_qt.core.generation.Provider` that needs no model.

    Args:
        model_ready: tells whether a local model is ready; when it is, an
            unmatched message (an acknowledgement the rules do not know) gets
            :data:`ACK_REPLY` instead of :data:`NO_MODEL_REPLY`.

    Attributes:
        name: ``"reflex"``.
    """

    name = "reflex"

    def __init__(self, *, model_ready: Callable[[], bool] | None = None) -> None:
        self._model_ready = model_ready or (lambda: False)

    def generate(
        self, request: GenerationRequest, on_token: TokenSink, cancel: threading.Event
    ) -> GenerationResult:
        """Stream the templated reply (or the no-model reply) for ``request.user_text``."""
        reply = reply_for(request.user_text, model_ready=self._model_ready()) or ACK_REPLY
        return self.say(reply, request.max_tokens, on_token, cancel)

    @staticmethod
    def say(text: str, max_tokens: int, on_token: TokenSink, cancel: threading.Event) -> GenerationResult:
        """Stream ``text`` as word-sized tokens (at most ``max_tokens``), honouring ``cancel``."""
        pieces = chunks(text)
        sent: list[str] = []
        for token in pieces[: max(max_tokens, 1)]:
            if cancel.is_set():
                return GenerationResult(text="".join(sent), tokens=len(sent), stopped="cancelled")
            on_token(token)
            sent.append(token)
        stopped = "done" if len(sent) == len(pieces) else "max_tokens"
        return GenerationResult(text="".join(sent), tokens=len(sent), stopped=stopped)
