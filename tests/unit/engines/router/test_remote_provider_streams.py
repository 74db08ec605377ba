"""RemoteProvider against scripted streams: how a stream's end, usage and errors become a result.

The network path (effector, gate, a real server) is in
``tests/integration/test_remote_provider.py``; here a :class:`ChatStream` is
built from a list of lines, which is what the effector hands the provider.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from aether_qt.core.generation import GenerationRequest, RemoteError, RemoteStatus
from aether_qt.engines.router.remote_provider import RemoteProvider, count_tokens
from aether_qt.policy.effect_types import ChatStream


def data(payload: dict[str, Any]) -> str:
    return "data: " + json.dumps(payload)


def content(text: str) -> str:
    return data({"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]})


FINISH = data({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
USAGE = data({"choices": [], "usage": {"prompt_tokens": 40, "completion_tokens": 2}})


class Script:
    """An opener that returns one scripted stream and remembers what it was given."""

    def __init__(self, lines: list[str], *, status: int = 200, fail: RemoteError | None = None) -> None:
        self.lines, self.status, self.fail = lines, status, fail
        self.calls: list[dict[str, Any]] = []
        self.closed = 0

    def __call__(self, **kw: Any) -> ChatStream:
        self.calls.append(kw)

        def lines() -> Iterator[str]:
            for line in self.lines:
                yield line
                yield ""
            if self.fail is not None:
                raise self.fail

        def release() -> None:
            self.closed += 1

        return ChatStream(
            status_code=self.status,
            headers={"retry-after": "3"},
            lines=lines,
            read=lambda _n: b"",
            shutdown=lambda: None,
            release=release,
        )


def generate(script: Script, tokens: list[str] | None = None, **kw: Any) -> Any:
    provider = RemoteProvider("lan", "http://127.0.0.1:1/v1", "m", api_key=lambda: "sk-test", **kw)
    sink = tokens if tokens is not None else []
    return provider.generate_with(
        script, GenerationRequest("t", "p", "hello"), sink.append, threading.Event()
    )


def test_usage_from_the_server_wins_over_counting() -> None:
    script = Script([content("Hi"), content(" there"), FINISH, USAGE, "data: [DONE]"])
    result = generate(script)
    assert (result.text, result.tokens, result.prompt_tokens, result.usage_reported) == (
        "Hi there",
        2,
        40,
        True,
    )
    assert script.closed == 1
    (call,) = script.calls
    assert call["headers"]["Authorization"] == "Bearer sk-test" and call["cancel"] is not None
    assert (call["connect_timeout"], call["read_timeout"]) == (5.0, 30.0)


def test_without_usage_tokens_are_counted_at_four_characters_each() -> None:
    result = generate(Script([content("abcdefghi"), FINISH, "data: [DONE]"]))
    assert result.tokens == count_tokens("abcdefghi") == 3 and not result.usage_reported
    assert result.prompt_tokens > 0


def test_a_finish_reason_without_done_is_a_complete_answer() -> None:
    assert generate(Script([content("ok"), FINISH])).stopped == "done"


def test_length_is_max_tokens() -> None:
    length = data({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
    assert generate(Script([content("ok"), length, "data: [DONE]"])).stopped == "max_tokens"


def test_a_body_that_ends_before_the_answer_is_dropped_after_streaming_the_partial_text() -> None:
    tokens: list[str] = []
    with pytest.raises(RemoteError) as raised:
        generate(Script([content("half")]), tokens)
    assert raised.value.status is RemoteStatus.DROPPED and tokens == ["half"]


def test_a_network_error_of_the_stream_passes_through_and_the_stream_is_closed() -> None:
    script = Script([content("a")], fail=RemoteError(RemoteStatus.TIMEOUT, "stalled"))
    with pytest.raises(RemoteError) as raised:
        generate(script)
    assert raised.value.status is RemoteStatus.TIMEOUT and script.closed == 1


def test_a_status_is_mapped_without_reading_the_body() -> None:
    with pytest.raises(RemoteError) as raised:
        generate(Script([], status=429))
    assert raised.value.status is RemoteStatus.RATE_LIMITED and raised.value.retry_after == 3.0


def test_a_cancel_during_the_stream_keeps_the_text_so_far() -> None:
    cancel = threading.Event()
    tokens: list[str] = []

    def on_token(token: str) -> None:
        tokens.append(token)
        cancel.set()

    provider = RemoteProvider("lan", "http://127.0.0.1:1/v1", "m", api_key=lambda: None)
    script = Script([content("a"), content("b"), FINISH])
    result = provider.generate_with(script, GenerationRequest("t", "p", "x"), on_token, cancel)
    assert (result.stopped, result.text, tokens) == ("cancelled", "a", ["a"])
    assert "Authorization" not in script.calls[0]["headers"]  # a keyless server gets no header


def test_an_opener_error_after_a_cancel_is_a_cancelled_result() -> None:
    cancel = threading.Event()

    def opener(**_kw: Any) -> ChatStream:
        cancel.set()  # the watcher cut the socket while the server was thinking
        raise RemoteError(RemoteStatus.DROPPED, "cut")

    provider = RemoteProvider("lan", "http://127.0.0.1:1/v1", "m", api_key=lambda: None)
    result = provider.generate_with(opener, GenerationRequest("t", "p", "x"), lambda _t: None, cancel)
    assert result.stopped == "cancelled" and result.text == ""


def test_the_key_is_read_for_every_request_and_never_shown_by_the_provider() -> None:
    keys = iter(["sk-one", "sk-two"])
    provider = RemoteProvider("lan", "http://127.0.0.1:1/v1", "m", api_key=lambda: next(keys))
    script = Script([FINISH])
    for _ in range(2):
        provider.generate_with(script, GenerationRequest("t", "p", "x"), lambda _t: None, threading.Event())
    assert [c["headers"]["Authorization"] for c in script.calls] == ["Bearer sk-one", "Bearer sk-two"]
    assert "sk-" not in repr(provider) + repr(vars(provider))  # only the callable is kept


def test_chat_stream_abort_and_close_are_idempotent_and_abort_after_close_does_nothing() -> None:
    calls: list[str] = []
    stream = ChatStream(
        status_code=200,
        headers={},
        lines=lambda: iter(()),
        read=lambda _n: b"",
        shutdown=lambda: calls.append("shutdown"),
        release=lambda: calls.append("release"),
    )
    threads = [threading.Thread(target=stream.abort) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stream.close()
    stream.close()
    stream.abort()
    assert calls == ["shutdown", "release"] and stream.aborted
