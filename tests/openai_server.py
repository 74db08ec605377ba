"""A real OpenAI-compatible HTTP server on 127.0.0.1 for the remote tier's tests.

``ThreadingHTTPServer`` on port 0 in a thread. ``POST /v1/chat/completions``
streams server-sent events exactly as the OpenAI API documents them (HTTP/1.1,
chunked): a role delta, one content delta per piece of text, a chunk with
``finish_reason``, a last chunk with empty ``choices`` and ``usage`` when
``stream_options.include_usage`` is set, then ``data: [DONE]``. A request with
``"stream": false`` gets one ``chat.completion`` object. ``GET /v1/models`` lists
the model.

The words come from a *text source* (``messages -> Iterator[str]``):
:func:`fixed_words` for fast tests, :func:`bundled_model_source` for the real
bundled model. :attr:`OpenAIServer.mode` switches failures (see :class:`Mode`);
every request is recorded (headers, JSON body) and so is every client disconnect
noticed while the server still had something to send, with how many events it had
sent by then, so a test can assert that a cancel closed the connection before the
rest of the answer went out.
"""

from __future__ import annotations

import json
import math
import queue
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TextSource = Callable[[list[dict[str, Any]]], Iterator[str]]


class Mode(StrEnum):
    """How the server answers chat requests."""

    OK = "ok"
    UNAUTHORIZED = "401"
    FORBIDDEN = "403"
    RATE_LIMITED = "429"  # with Retry-After: OpenAIServer.retry_after
    SERVER_ERROR = "500"
    CUT = "cut"  # the connection closes after ``cut_after`` content events (no final chunk)
    STALL = "stall"  # headers and ``cut_after`` content events, then no byte for ``stall_seconds``
    HOLD = "hold"  # no byte (not even headers) for ``stall_seconds``, then the answer: a server thinking
    PAUSE = "pause"  # ``cut_after`` content events, ``stall_seconds`` of silence, then the rest
    MALFORMED = "malformed"  # ``cut_after`` content events, then an event that is not JSON


@dataclass(frozen=True, slots=True)
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Disconnect:
    """The client closed while the server still had events to send.

    Attributes:
        at: ``time.monotonic()`` when the server noticed.
        events_sent: SSE events written before (the role delta and a keep-alive comment come
            first, so content events sent = ``events_sent - 2``).
    """

    at: float
    events_sent: int


def fixed_words(words: list[str] | str, *, delay: float = 0.0) -> TextSource:
    """A source that answers every request with ``words`` (a space before all but the first).

    ``delay`` seconds pass before each word, so a cancel test has time to act.
    """
    items = words.split() if isinstance(words, str) else list(words)

    def source(_messages: list[dict[str, Any]]) -> Iterator[str]:
        for index, word in enumerate(items):
            if delay:
                time.sleep(delay)
            yield word if index == 0 else " " + word

    return source


def bundled_model_source(models_dir: Path, *, max_tokens: int = 24) -> TextSource:
    """A source that generates with the real bundled model (SmolLM2-135M through gpt4all).

    The system message, history and last user message of the request become a
    :class:`GenerationRequest`; tokens stream as the model produces them.
    """
    from aether_qt.core.generation import GenerationRequest, Message
    from aether_qt.engines.router import models
    from aether_qt.engines.router.gpt4all_provider import Gpt4AllProvider
    from aether_qt.engines.router.prompt import DATA_RULE

    provider = Gpt4AllProvider(models.prepare_bundled(models_dir), n_threads=2, n_ctx=2048)
    provider.load()
    lock = threading.Lock()

    def source(messages: list[dict[str, Any]]) -> Iterator[str]:
        # The local provider adds the data rule itself: drop the copy the client's system message carries.
        system = "\n".join(m["content"] for m in messages if m["role"] == "system").replace(DATA_RULE, "")
        talk = [m for m in messages if m["role"] in ("user", "assistant")]
        history = tuple(Message(m["role"], m["content"]) for m in talk[:-1])
        user = talk[-1]["content"] if talk else ""
        request = GenerationRequest(
            "srv", system, user, history=history, max_tokens=max_tokens, temperature=0.0
        )
        tokens: queue.Queue[str | None] = queue.Queue()
        stop = threading.Event()

        def run() -> None:
            try:
                with lock:
                    provider.generate(request, tokens.put, stop)
            finally:
                tokens.put(None)

        threading.Thread(target=run, daemon=True).start()
        try:
            while (token := tokens.get()) is not None:
                yield token
        finally:
            stop.set()

    return source


class _ClientGone(Exception):
    """The client closed the connection."""


class OpenAIServer:
    """The server; use as a context manager (or :meth:`start` / :meth:`stop`).

    Args:
        text_source: chooses the words of each answer.
        model: the model id it serves.
        port: 0 for any free port; an earlier server's port to stand in for it after a stop.

    Attributes:
        mode: the current :class:`Mode` (switch it at any time).
        retry_after: the Retry-After value of a 429.
        cut_after: content events sent before a cut, stall or malformed event.
        stall_seconds: how long STALL and HOLD keep quiet (they end early when the client leaves).
        requests: every request received.
        disconnects: every early close the server noticed.
    """

    def __init__(self, text_source: TextSource, *, model: str = "test-model", port: int = 0) -> None:
        self.text_source = text_source
        self.model = model
        self.mode = Mode.OK
        self.retry_after = "2"
        self.cut_after = 2
        self.stall_seconds = 30.0
        self.requests: list[Recorded] = []
        self.disconnects: list[Disconnect] = []
        self.finished = threading.Event()  # set after each response the server completed or abandoned
        self.quiet = threading.Event()  # set when a HOLD, STALL or PAUSE silence begins
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))  # port: a restart
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> OpenAIServer:
        """Serve in a thread."""
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="openai-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler_for(server: OpenAIServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        owner = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    owner: OpenAIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: requests are recorded instead

    def _record(self, body: dict[str, Any] | None) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.owner.requests.append(Recorded(self.command, self.path, headers, body))

    def do_GET(self) -> None:
        self._record(None)
        if self.path.rstrip("/") != "/v1/models":
            self._json(404, {"error": {"message": "not found", "type": "invalid_request_error"}})
            return
        model = {"id": self.owner.model, "object": "model", "created": 0, "owned_by": "aether-tests"}
        self._json(200, {"object": "list", "data": [model]})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            body = None
        self._record(body if isinstance(body, dict) else None)
        try:
            self._answer(body)
        finally:
            self.owner.finished.set()

    def _answer(self, body: Any) -> None:
        owner, mode = self.owner, self.owner.mode
        if self.path.rstrip("/") != "/v1/chat/completions" or not isinstance(body, dict):
            self._json(404 if isinstance(body, dict) else 400, {"error": {"message": "bad request"}})
            return
        statuses = {
            Mode.UNAUTHORIZED: 401,
            Mode.FORBIDDEN: 403,
            Mode.RATE_LIMITED: 429,
            Mode.SERVER_ERROR: 500,
        }
        if mode in statuses:
            extra = {"Retry-After": owner.retry_after} if mode is Mode.RATE_LIMITED else {}
            # The body echoes the Authorization header, as careless servers do: nothing may show it.
            echo = {"message": f"rejected {self.headers.get('Authorization', '')}", "code": statuses[mode]}
            self._json(statuses[mode], {"error": echo}, extra)
            return
        if mode is Mode.HOLD and self._quiet(0):
            return
        words = owner.text_source(body.get("messages", []))
        if body.get("stream"):
            self._stream(body, words, mode)
        else:
            self._complete(body, list(words))

    def _json(self, status: int, payload: dict[str, Any], extra: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.send_header(
            "Connection", "close"
        )  # one request per connection: a client never reuses a closed one
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _complete(self, body: dict[str, Any], words: list[str]) -> None:
        message = {"role": "assistant", "content": "".join(words)}
        self._json(
            200,
            {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.owner.model,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": _usage(body, len(words)),
            },
        )

    def _chunk(self, choices: list[dict[str, Any]], usage: Any = None, *, with_usage: bool) -> str:
        chunk: dict[str, Any] = {
            "id": "chatcmpl-test",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.owner.model,
            "system_fingerprint": None,
            "choices": choices,
        }
        if with_usage:
            chunk["usage"] = usage  # null on every chunk but the last, as the API documents
        return "data: " + json.dumps(chunk) + "\n\n"

    def _events(self, body: dict[str, Any], words: Iterator[str]) -> Iterator[str]:
        """The answer's events, produced as the source produces words."""
        with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        limit = body.get("max_tokens")

        def choice(delta: dict[str, Any], reason: str | None = None) -> list[dict[str, Any]]:
            return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}]

        yield self._chunk(choice({"role": "assistant", "content": ""}), with_usage=with_usage)
        yield ": keep-alive\n\n"  # a comment line, as proxies and some servers send
        count, finish = 0, "stop"
        for word in words:
            if isinstance(limit, int) and count >= limit:
                finish = "length"
                break
            count += 1
            yield self._chunk(choice({"content": word}), with_usage=with_usage)
        yield self._chunk(choice({}, finish), with_usage=with_usage)
        if with_usage:
            yield self._chunk([], _usage(body, count), with_usage=True)
        yield "data: [DONE]\n\n"

    def _stream(self, body: dict[str, Any], words: Iterator[str], mode: Mode) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        faults = (Mode.CUT, Mode.STALL, Mode.MALFORMED, Mode.PAUSE)
        fault_at = 2 + self.owner.cut_after if mode in faults else -1
        try:
            for sent, event in enumerate(self._events(body, words)):
                if sent == fault_at and (mode is not Mode.PAUSE or self._quiet(sent)):
                    if mode is not Mode.PAUSE:
                        self._fault(mode, sent)
                    return
                self._send_chunk(event.encode(), sent)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except _ClientGone:
            return

    def _fault(self, mode: Mode, sent: int) -> None:
        if mode is Mode.CUT:
            self.connection.shutdown(socket.SHUT_RDWR)  # no terminating chunk: a dropped stream
        elif mode is Mode.STALL:
            self._quiet(sent)
        else:
            self._send_chunk(b'data: {"choices": [{"delta": {"content": "x"\n\n', sent)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def _send_chunk(self, data: bytes, sent: int) -> None:
        if self._client_gone():
            self.owner.disconnects.append(Disconnect(time.monotonic(), sent))
            raise _ClientGone
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except OSError:
            self.owner.disconnects.append(Disconnect(time.monotonic(), sent))
            raise _ClientGone from None

    def _quiet(self, sent: int) -> bool:
        """Send nothing for ``stall_seconds``; True if the client left meanwhile (it is recorded)."""
        self.owner.quiet.set()
        end = time.monotonic() + self.owner.stall_seconds
        while time.monotonic() < end:
            if self._client_gone(wait=0.01):
                self.owner.disconnects.append(Disconnect(time.monotonic(), sent))
                return True
        return False

    def _client_gone(self, wait: float = 0.0) -> bool:
        """True when the client closed its end (readable, and a peek reads nothing)."""
        readable, _, _ = select.select([self.connection], [], [], wait)
        if not readable:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True


def _usage(body: dict[str, Any], completion: int) -> dict[str, int]:
    chars = sum(len(str(m.get("content", ""))) for m in body.get("messages", []))
    prompt = math.ceil(chars / 3)  # deliberately not the client's chars/4: tests tell reported from counted
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


__all__ = [
    "Disconnect",
    "Mode",
    "OpenAIServer",
    "Recorded",
    "TextSource",
    "bundled_model_source",
    "fixed_words",
]
