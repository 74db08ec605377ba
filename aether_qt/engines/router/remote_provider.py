"""A remote OpenAI-compatible model (Ollama, llama.cpp, vLLM, a hosted API) as a provider.

The provider never touches the network itself: the router redeems a
``router.remote`` permit and hands :meth:`RemoteProvider.generate_with` an
*opener*, :meth:`~aether_qt.policy.effects.Effectors.open_chat_stream` bound to
that permit and the provider's base URL. The provider builds the body
(:mod:`.openai_wire`), opens the stream, decodes events as they arrive and passes
their text to ``on_token``.

Cancel (barge-in) is the ``cancel`` event handed on to the opener: the effector's
watcher shuts the socket down within its poll interval (20 ms), whether the
server is still thinking or already streaming, so a blocked read returns and the
server sees the connection close. The result is then ``stopped="cancelled"``
with the text streamed so far.

Every failure is a :class:`~aether_qt.core.generation.RemoteError`, raised after
the partial text already went to ``on_token``. The API key is read from
``api_key()`` for each request, goes into the ``Authorization`` header and into
nothing else: no sentence, log record or attribute of this module holds it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from aether_qt.core.generation import GenerationRequest, GenerationResult, RemoteError, TokenSink
from aether_qt.engines.router import openai_wire as wire
from aether_qt.policy.effect_types import ChatStream


class ChatOpener(Protocol):
    """``Effectors.open_chat_stream`` bound to a permit and a base URL (``functools.partial``)."""

    def __call__(
        self,
        *,
        body: bytes,
        headers: Mapping[str, str],
        connect_timeout: float,
        read_timeout: float,
        cancel: threading.Event | None = None,
    ) -> ChatStream:
        """Open the stream (see :meth:`~aether_qt.policy.effects.Effectors.open_chat_stream`)."""
        ...


def count_tokens(text: str) -> int:
    """Tokens of ``text`` when the server reports no usage: characters / 4, rounded up."""
    return math.ceil(len(text) / 4)


@dataclass(slots=True)
class _Reply:
    """What the stream produced so far."""

    parts: list[str]
    usage: wire.Usage | None = None
    finish: str | None = None
    done: bool = False

    @property
    def text(self) -> str:
        return "".join(self.parts)


class RemoteProvider:
    """An OpenAI-compatible chat-completions endpoint.

    Args:
        name: the provider's name (in sentences and routes).
        base_url: e.g. ``http://127.0.0.1:8080/v1`` (the gate's resource for ``router.remote``).
        model: the model id sent in each request.
        api_key: returns the key (from the keyring) or None for a keyless server;
            called once per request, so a changed key takes effect at once.
        connect_timeout: seconds to connect.
        read_timeout: seconds without a byte before the stream counts as stalled.
        now: the wall clock in UTC (Retry-After dates); a parameter for tests.
    """

    def __init__(
        self,
        name: str,
        base_url: str,
        model: str,
        *,
        api_key: Callable[[], str | None],
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        now: Callable[[], datetime] = wire.utc_now,
    ) -> None:
        self.name = name
        self.base_url = base_url
        self.model = model
        self._api_key = api_key
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._now = now

    def __repr__(self) -> str:
        return f"RemoteProvider({self.name!r}, {self.base_url!r}, {self.model!r})"

    def generate_with(
        self, opener: ChatOpener, request: GenerationRequest, on_token: TokenSink, cancel: threading.Event
    ) -> GenerationResult:
        """Stream the reply to ``request`` through ``opener``.

        Returns:
            The result: ``done``, ``max_tokens`` (the server stopped at the limit) or
            ``cancelled``; token counts from the server's ``usage`` when it sent one.

        Raises:
            RemoteError: the request failed (AUTH, RATE_LIMITED, SERVER_ERROR, BAD_REQUEST,
                UNREACHABLE, TIMEOUT, DROPPED, MALFORMED); text already streamed stays streamed.
        """
        body = wire.request_body(request, self.model)
        prompt_chars = sum(len(m["content"]) for m in wire.chat_messages(request))
        reply = _Reply(parts=[])
        if cancel.is_set():
            return self._result(reply, prompt_chars, cancelled=True)
        try:
            stream = opener(
                body=body,
                headers=wire.request_headers(self._api_key(), self.name),
                connect_timeout=self.connect_timeout,
                read_timeout=self.read_timeout,
                cancel=cancel,
            )
        except RemoteError:
            if not cancel.is_set():
                raise
            return self._result(reply, prompt_chars, cancelled=True)
        with stream:
            if stream.status_code != 200:
                raise wire.error_for_status(stream.status_code, stream.headers, self.name, now=self._now())
            try:
                self._consume(stream, reply, on_token, cancel)
            except RemoteError:
                if not cancel.is_set():
                    raise
        cancelled = cancel.is_set() and not (reply.done or reply.finish)
        if not cancelled and not (reply.done or reply.finish):
            raise wire.dropped(self.name)  # the body ended before the answer did
        return self._result(reply, prompt_chars, cancelled=cancelled)

    def _consume(
        self, stream: ChatStream, reply: _Reply, on_token: TokenSink, cancel: threading.Event
    ) -> None:
        """Decode events into ``reply`` until ``[DONE]``, the end of the body or ``cancel``."""
        decoder = wire.SseDecoder(self.name)
        for line in stream.iter_lines():
            if self._take(decoder.feed(line), reply, on_token) or cancel.is_set():
                return
        self._take(decoder.flush(), reply, on_token)

    @staticmethod
    def _take(event: wire.StreamEvent | None, reply: _Reply, on_token: TokenSink) -> bool:
        """Apply one event; True at ``[DONE]``."""
        if event is None:
            return False
        if event.text:
            reply.parts.append(event.text)
            on_token(event.text)
        if event.finish_reason:
            reply.finish = event.finish_reason
        if event.usage is not None:
            reply.usage = event.usage
        reply.done = reply.done or event.done
        return event.done

    def _result(self, reply: _Reply, prompt_chars: int, *, cancelled: bool) -> GenerationResult:
        text = reply.text
        stopped = "cancelled" if cancelled else "max_tokens" if reply.finish == "length" else "done"
        if reply.usage is not None:
            return GenerationResult(
                text=text,
                tokens=reply.usage.completion_tokens,
                stopped=stopped,
                prompt_tokens=reply.usage.prompt_tokens,
                usage_reported=True,
            )
        return GenerationResult(
            text=text, tokens=count_tokens(text), stopped=stopped, prompt_tokens=math.ceil(prompt_chars / 4)
        )
