"""Gpt4AllProvider's bookkeeping with a scripted fake model (no gpt4all needed).

The real model is exercised in tests/integration/test_gpt4all_provider.py; here the
fake drives the callbacks the way llama.cpp does, including its error token (-1).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from gguf_builder import write

from aether_qt.core.generation import GenerationRequest, ModelInfo, ProviderError
from aether_qt.engines.router.gpt4all_provider import Gpt4AllProvider


class FakeLLM:
    """Counts tokens like llama.cpp's n_past; replies with a script."""

    def __init__(self, reply: list[tuple[int, str]]) -> None:
        self.reply = reply
        self.context = SimpleNamespace(n_past=0)
        self.calls: list[dict[str, Any]] = []
        self.shift_to: int | None = None  # simulate llama.cpp erasing the start of a full context

    def _prompt_callback(self, _token_id: int) -> bool:
        return True

    def prompt_model(
        self, prompt: str, template: str, callback: Callable[[int, str], bool], **kw: Any
    ) -> None:
        self.calls.append({"prompt": prompt, "n_past": self.context.n_past, **kw})
        if kw.get("reset_context"):
            self.context.n_past = 0
        for _ in range(len(prompt) // 4):
            if not self._prompt_callback(1):
                return
            self.context.n_past += 1
        for token_id, text in self.reply[: kw["n_predict"]]:
            self.context.n_past += 1
            if not callback(token_id, text):
                return
        if self.shift_to is not None and not kw.get("reset_context"):
            self.context.n_past = self.shift_to


def provider_with(
    tmp_path: Path, reply: list[tuple[int, str]], n_ctx: int = 2048
) -> tuple[Gpt4AllProvider, FakeLLM]:
    path = write(tmp_path / "m.gguf")
    info = ModelInfo(model_id="m", path=str(path), sha256="", size_bytes=0, source="user")
    llm = FakeLLM(reply)
    p = Gpt4AllProvider(
        info,
        n_ctx=n_ctx,
        clock=iter(float(i) for i in range(1000)).__next__,
        open_model=lambda _path, _threads, _ctx: SimpleNamespace(model=llm, close=lambda: None),
    )
    p.load()
    return p, llm


def req(**kw: Any) -> GenerationRequest:
    return GenerationRequest(turn_id="t", system_prompt="persona", user_text="hi", **kw)


def test_warm_then_generate_rewinds_to_the_system_turn(tmp_path: Path) -> None:
    p, llm = provider_with(tmp_path, [(5, "Hel"), (6, "lo")])
    assert p.warm("persona") > 0 and p.warm("persona") == 0.0
    system_past = llm.context.n_past
    tokens: list[str] = []
    result = p.generate(req(), tokens.append, threading.Event())
    assert (result.text, result.tokens, result.stopped) == ("Hello", 2, "done")
    assert llm.calls[-1]["n_past"] == system_past and llm.calls[-1]["reset_context"] is False
    assert llm.calls[-1]["special"] is True and llm.calls[-1]["n_batch"] == 128
    assert p.last_stats is not None and p.last_stats.system_reused and p.last_stats.tokens == 2
    assert result.prompt_tokens == llm.context.n_past - system_past - 2


def test_error_token_becomes_an_error_result(tmp_path: Path) -> None:
    p, _ = provider_with(tmp_path, [(-1, "ERROR: The prompt size exceeds the context window size")])
    result = p.generate(req(), lambda _t: None, threading.Event())
    assert result.stopped == "error" and "exceeds" in result.error


def test_max_tokens_stop(tmp_path: Path) -> None:
    p, _ = provider_with(tmp_path, [(i, "x") for i in range(10)])
    result = p.generate(req(max_tokens=3), lambda _t: None, threading.Event())
    assert (result.tokens, result.stopped) == (3, "max_tokens")


def test_a_failing_token_sink_stops_and_reraises(tmp_path: Path) -> None:
    p, _ = provider_with(tmp_path, [(1, "a"), (2, "b")])

    def sink(_t: str) -> None:
        raise RuntimeError("sink broke")

    with pytest.raises(RuntimeError, match="sink broke"):
        p.generate(req(), sink, threading.Event())


def test_a_context_shift_forces_re_ingestion(tmp_path: Path) -> None:
    p, llm = provider_with(tmp_path, [(1, "x")])
    p.warm("persona")
    llm.shift_to = 1
    p.generate(req(), lambda _t: None, threading.Event())
    llm.shift_to = None
    p.generate(req(), lambda _t: None, threading.Event())
    assert p.last_stats is not None and not p.last_stats.system_reused
    assert llm.calls[-2]["reset_context"] is True  # the system turn was evaluated again


def test_cancel_during_system_ingestion(tmp_path: Path) -> None:
    p, _ = provider_with(tmp_path, [(1, "a")])
    cancel = threading.Event()
    cancel.set()
    result = p.generate(req(), lambda _t: None, cancel)
    assert (result.stopped, result.tokens) == ("cancelled", 0)


def test_load_refuses_a_bad_file_before_gpt4all_sees_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF\x03\x00")
    info = ModelInfo(model_id="bad", path=str(bad), sha256="", size_bytes=0, source="user")
    steps: list[str] = []
    with pytest.raises(ProviderError, match="truncated"):
        Gpt4AllProvider(info).load(lambda _f, m: steps.append(m))
    assert steps == ["checking bad.gguf"]


def test_load_opens_the_checked_file_once_and_explains_a_failure(tmp_path: Path) -> None:
    path = write(tmp_path / "m.gguf")
    info = ModelInfo(model_id="m", path=str(path), sha256="", size_bytes=0, source="user")
    opened: list[tuple[Path, int, int]] = []

    def open_model(model_path: Path, n_threads: int, n_ctx: int) -> SimpleNamespace:
        opened.append((model_path, n_threads, n_ctx))
        return SimpleNamespace(model=FakeLLM([]), close=lambda: None)

    p = Gpt4AllProvider(info, n_threads=3, n_ctx=512, open_model=open_model)
    steps: list[str] = []
    p.load(lambda _f, m: steps.append(m))
    p.load(lambda _f, m: steps.append(m))
    assert opened == [(path, 3, 512)] and p.loaded
    assert steps == ["checking m.gguf", "loading m.gguf", "m is loaded", "m is loaded"]

    def unloadable(*_args: object) -> object:
        raise RuntimeError("unsupported architecture")

    with pytest.raises(ProviderError, match=r"gpt4all could not load .*m\.gguf: unsupported architecture"):
        Gpt4AllProvider(info, open_model=unloadable).load()

    def missing(*_args: object) -> object:
        raise ProviderError("the gpt4all package is not installed")

    with pytest.raises(ProviderError, match=r"^the gpt4all package is not installed$"):
        Gpt4AllProvider(info, open_model=missing).load()


def test_not_loaded(tmp_path: Path) -> None:
    info = ModelInfo(model_id="m", path=str(tmp_path / "m.gguf"), sha256="", size_bytes=0, source="user")
    p = Gpt4AllProvider(info)
    assert not p.loaded
    with pytest.raises(ProviderError, match="not loaded"):
        p.warm("x")
    p.close()
