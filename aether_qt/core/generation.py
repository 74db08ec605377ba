"""Vocabulary shared by the interaction engine, the router and the conductor (DESIGN.md §7).

A :class:`Provider` turns a :class:`GenerationRequest` into streamed tokens.
Providers are blocking and are run in the router thread; ``cancel`` is set
from another thread and must stop generation promptly (the barge-in budget is
150 ms). Untrusted text (file contents, web pages, recalled memories of
untrusted origin) is never mixed into instructions: it travels as
:class:`FencedData` and the prompt builder fences and labels it as data.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Tier(StrEnum):
    """Where an answer comes from."""

    REFLEX = "reflex"
    LOCAL = "local"
    REMOTE = "remote"


@dataclass(frozen=True, slots=True)
class Route:
    """The decision, made before any model is called."""

    tier: Tier
    provider: str  # "reflex", "gpt4all", an OpenAI-compatible provider id
    model: str = ""  # model id or file name; "" for reflex
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FencedData:
    """Untrusted text shown to the model as data, never as instructions.

    Attributes:
        source: where it came from (``file:/home/u/notes.txt``, ``memory``...).
        text: the content (already truncated to a budget by the caller).
        trust: ``untrusted`` or ``user_confirmed``.
    """

    source: str
    text: str
    trust: str = "untrusted"


@dataclass(frozen=True, slots=True)
class Message:
    """One earlier message of the conversation.

    Attributes:
        role: ``user`` or ``assistant``.
        text: what was said (the assistant's own words, never a file's).
        data: untrusted text shown in that turn (a file read): the prompt fences
            it as data next to the message, never as the message's words.
    """

    role: str
    text: str
    data: tuple[FencedData, ...] = ()


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """Everything a provider needs for one reply."""

    turn_id: str
    system_prompt: str
    user_text: str
    history: tuple[Message, ...] = ()
    data: tuple[FencedData, ...] = ()
    max_tokens: int = 200
    temperature: float = 0.7
    interrupted_previous: bool = False  # the last answer was cut off by barge-in


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """What a finished (or cancelled) generation produced."""

    text: str
    tokens: int
    stopped: str  # "done", "max_tokens", "cancelled", "error"
    prompt_tokens: int = 0
    error: str = ""


TokenSink = Callable[[str], None]


class ProviderError(Exception):
    """A provider cannot answer (missing or broken model, load failure); the message says why."""


class Provider(Protocol):
    """A source of replies."""

    name: str

    def generate(
        self, request: GenerationRequest, on_token: TokenSink, cancel: threading.Event
    ) -> GenerationResult:
        """Stream tokens of the reply to ``on_token`` until done, ``max_tokens`` or ``cancel``.

        Raises:
            ProviderError: the provider cannot answer at all.
        """
        ...


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A local model the user can choose."""

    model_id: str
    path: str
    sha256: str
    size_bytes: int
    source: str  # "bundled" or "user"
    source_sha256: str = ""  # for the bundled model: the hash of the unpatched package file
    notes: tuple[str, ...] = field(default_factory=tuple)
