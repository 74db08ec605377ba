"""Route choice, start-up with visible progress, and degraded modes (aether_qt/engines/router/router.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from gguf_builder import write

from aether_qt.core.generation import (
    GenerationRequest,
    GenerationResult,
    ModelInfo,
    ProviderError,
    Tier,
    TokenSink,
)
from aether_qt.engines.router import models
from aether_qt.engines.router.router import ModelStatus, Router, choose_route


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.5
        return self.now


class FakeLocal:
    name = "gpt4all"

    def __init__(self, info: ModelInfo, *, fail_load: str = "", fail_generate: str = "") -> None:
        self.info = info
        self.fail_load = fail_load
        self.fail_generate = fail_generate
        self.loaded = False
        self.warmed: list[str] = []
        self.closed = 0
        self.requests: list[GenerationRequest] = []
        self.threads: list[int] = []

    def load(self, progress: Callable[[float, str], None] | None = None) -> None:
        assert progress is not None
        progress(0.5, "half")
        if self.fail_load:
            raise ProviderError(self.fail_load)
        self.loaded = True
        progress(1.0, "done")

    def warm(self, system_prompt: str) -> float:
        self.warmed.append(system_prompt)
        return 0.01

    def close(self) -> None:
        self.closed += 1
        self.loaded = False

    n_threads = 2

    def set_threads(self, n_threads: int) -> None:
        self.threads.append(n_threads)

    def generate(
        self, request: GenerationRequest, on_token: TokenSink, cancel: threading.Event
    ) -> GenerationResult:
        if self.fail_generate:
            raise ProviderError(self.fail_generate)
        self.requests.append(request)
        on_token("model says hi")
        return GenerationResult(text="model says hi", tokens=1, stopped="done")


@pytest.fixture
def bundled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "pkg"
    folder.mkdir()
    src = write(folder / models.BUNDLED_FILE)
    monkeypatch.setattr(models, "bundled_source", lambda: src)
    return src


def make_router(tmp_path: Path, **kw: object) -> tuple[Router, list[FakeLocal]]:
    made: list[FakeLocal] = []

    def factory(info: ModelInfo) -> FakeLocal:
        made.append(FakeLocal(info, **kw))  # type: ignore[arg-type]
        return made[-1]

    router = Router(models_dir=tmp_path / "models", clock=FakeClock(), provider_factory=factory)
    return router, made


def test_choose_route() -> None:
    greeting = choose_route("Acknowledge", True, "m1")
    assert (greeting.tier, greeting.reason) == (Tier.LOCAL, "acknowledgement")
    assert choose_route("Acknowledge", False).tier is Tier.REFLEX
    assert choose_route("DirectLocal", False).tier is Tier.REFLEX
    assert choose_route("DirectLocal", False).reason == "no local model is ready"
    local = choose_route("DirectLocal", True, "m1")
    assert (local.tier, local.provider, local.model) == (Tier.LOCAL, "gpt4all", "m1")
    assert all(choose_route(c, True).tier is not Tier.REMOTE for c in ("RemoteEscalation", "ToolPlan"))


def test_a_system_prompt_given_as_a_callable_is_read_once_the_model_has_loaded(
    tmp_path: Path, bundled: Path
) -> None:
    # the app starts loading before its persona is read: the prompt must be asked for after the load
    router, made = make_router(tmp_path)
    asked: list[bool] = []

    def persona_prompt() -> str:
        asked.append(made[0].loaded)
        return "You are the persona."

    final = router.start(None, system_prompt=persona_prompt)
    assert final.status == "ready"
    assert asked == [True]
    assert made[0].warmed == ["You are the persona."]


def test_start_prepares_the_bundled_model_loads_and_warms_with_progress(
    tmp_path: Path, bundled: Path
) -> None:
    router, made = make_router(tmp_path)
    assert not router.model_ready() and "Choose" in router.banner()
    seen: list[ModelStatus] = []
    final = router.start(seen.append, system_prompt="You are Aether.")
    assert final.status == "ready" and router.model_ready() and router.banner() == ""
    assert [s.status for s in seen][:-1] == ["loading"] * (len(seen) - 1)
    fractions = [s.progress for s in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert made[0].info.source == "bundled" and made[0].warmed == ["You are Aether."]
    assert "0.5 s" in final.message  # the injected clock measured the load
    route = router.route("DirectLocal")
    assert route.tier is Tier.LOCAL and route.model == models.BUNDLED_ID
    assert router.route("Acknowledge").tier is Tier.LOCAL
    tokens: list[str] = []
    route, result = router.answer(
        GenerationRequest("t", "sys", "tell me"), "DirectLocal", tokens.append, threading.Event()
    )
    assert result.text == "model says hi" and tokens == ["model says hi"]
    # the test model file is tiny: the local tier caps the persona's sampling for it (sampling.py)
    [request] = made[0].requests
    assert (request.temperature, request.max_tokens) == (0.2, 96)


def test_the_microphone_gets_the_cpu_while_it_is_live(tmp_path: Path, bundled: Path) -> None:
    router, made = make_router(tmp_path)
    router.share_cpu(True)  # no model yet: nothing to tell
    router.start(system_prompt="")
    router.share_cpu(True)
    router.share_cpu(False)
    assert made[0].threads == [1, 2]


def test_missing_bundled_model_leaves_reflex_only_with_a_banner(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> Path:
        raise models.ModelFileError("SmolLM2.gguf", "the bundled model is not installed")

    monkeypatch.setattr(models, "bundled_source", missing)
    router, made = make_router(tmp_path)
    status = router.start()
    assert status.status == "missing" and not router.model_ready() and made == []
    assert "aether models add PATH" in router.banner() and "not installed" in router.banner()
    assert router.route("DirectLocal").tier is Tier.REFLEX
    tokens: list[str] = []
    route, result = router.answer(
        GenerationRequest("t", "", "explain tides"), "DirectLocal", tokens.append, threading.Event()
    )
    assert route.tier is Tier.REFLEX and "No local model is loaded" in result.text


def test_a_chosen_model_that_is_not_registered_is_missing(tmp_path: Path, bundled: Path) -> None:
    router = Router(
        models_dir=tmp_path / "models",
        clock=FakeClock(),
        model_id="nope",
        provider_factory=lambda i: FakeLocal(i),
    )
    assert router.start().status == "missing"


def test_a_chosen_user_model_is_used_instead_of_the_bundled_one(tmp_path: Path, bundled: Path) -> None:
    info = models.add_model(write(tmp_path / "mine.gguf"), tmp_path / "models")
    made: list[FakeLocal] = []
    router = Router(
        models_dir=tmp_path / "models",
        clock=FakeClock(),
        model_id=info.model_id,
        provider_factory=lambda i: made.append(FakeLocal(i)) or made[-1],
    )
    assert router.start().status == "ready"
    assert made[0].info == info
    assert not (tmp_path / "models" / models.BUNDLED_FILE).exists()  # bundled not prepared


def test_a_deleted_user_model_is_missing(tmp_path: Path, bundled: Path) -> None:
    path = write(tmp_path / "mine.gguf")
    info = models.add_model(path, tmp_path / "models")
    path.unlink()
    router = Router(
        models_dir=tmp_path / "models",
        clock=FakeClock(),
        model_id=info.model_id,
        provider_factory=lambda i: FakeLocal(i),
    )
    status = router.start()
    assert status.status == "missing" and "gone" in status.message


def test_a_load_failure_is_failed_not_a_crash(tmp_path: Path, bundled: Path) -> None:
    router, made = make_router(tmp_path, fail_load="gpt4all could not load it")
    status = router.start()
    assert status.status == "failed" and "gpt4all could not load it" in router.banner()
    assert made[0].closed == 1
    assert router.route("DirectLocal").tier is Tier.REFLEX


def test_a_failing_generation_falls_back_to_an_apology(tmp_path: Path, bundled: Path) -> None:
    router, _ = make_router(tmp_path, fail_generate="boom")
    router.start()
    tokens: list[str] = []
    route, result = router.answer(
        GenerationRequest("t", "", "hello?"), "DirectLocal", tokens.append, threading.Event()
    )
    assert route.tier is Tier.REFLEX and "boom" in route.reason
    assert "Sorry" in result.text and "".join(tokens) == result.text


def test_stop_is_idempotent_and_restart_replaces_the_model(tmp_path: Path, bundled: Path) -> None:
    router, made = make_router(tmp_path)
    router.start()
    router.start()
    assert made[0].closed == 1 and made[1].loaded
    router.stop()
    router.stop()
    assert made[1].closed == 1
    assert router.warm("x") == 0.0


def test_an_unwritable_model_folder_is_failed_not_a_crash(tmp_path: Path, bundled: Path) -> None:
    blocker = tmp_path / "models"
    blocker.write_text("a file where the folder should be")
    router = Router(models_dir=blocker, clock=FakeClock(), provider_factory=lambda i: FakeLocal(i))
    status = router.start()
    assert status.status == "failed" and "cannot prepare the model" in status.message
