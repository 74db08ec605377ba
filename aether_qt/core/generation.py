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
    status: str = ""  # a :class:`RemoteStatus` when a remote try failed ("" otherwise)


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
    reply_prefix: str = ""  # the start of the reply, already given (a cut reply): the model goes on from it


@dataclass(frozen=True, slots=True)
class GenerationResult:
    """What a finished (or cancelled) generation produced."""

    text: str
    tokens: int
    stopped: str  # "done", "max_tokens", "cancelled", "error"
    prompt_tokens: int = 0
    error: str = ""
    usage_reported: bool = False  # a remote server reported ``usage`` (else tokens were counted)


TokenSink = Callable[[str], None]


class ProviderError(Exception):
    """A provider cannot answer (missing or broken model, load failure); the message says why."""


class RemoteStatus(StrEnum):
    """Why a remote generation ended without a complete answer (typed, for the turn and the breaker)."""

    AUTH = "auth"  # 401/403: shown to the user, never retried silently
    RATE_LIMITED = "rate_limited"  # 429 (``retry_after`` honoured)
    SERVER_ERROR = "server_error"  # 5xx
    MALFORMED = "malformed"  # an event that is not the documented protocol
    DROPPED = "dropped"  # the connection closed mid-stream
    TIMEOUT = "timeout"  # connect or read timeout (a stalled server)
    UNREACHABLE = "unreachable"  # refused, no route, name not resolved
    BAD_REQUEST = "bad_request"  # other 4xx (unknown model, bad URL path)


class RemoteError(ProviderError):
    """A remote provider failed; ``str(self)`` is a sentence for the user (never a key or a body).

    Attributes:
        status: what went wrong.
        retry_after: seconds the server asked to wait (429), else None.
        counts_for_breaker: whether this failure is the server's (5xx, drops, timeouts,
            malformed events, unreachable) rather than the user's setup (auth, bad request).
    """

    def __init__(self, status: RemoteStatus, sentence: str, *, retry_after: float | None = None) -> None:
        super().__init__(sentence)
        self.status = status
        self.retry_after = retry_after

    @property
    def counts_for_breaker(self) -> bool:
        """True for failures of the server or the network, which the circuit breaker counts."""
        return self.status not in (RemoteStatus.AUTH, RemoteStatus.BAD_REQUEST)


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
