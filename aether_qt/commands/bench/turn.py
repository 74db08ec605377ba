"""``aether bench turn``: a typed turn through every layer, next to raw gpt4all on the same prompt.

Measured in a throw-away home (opt-in key file, never the user's keyring):

* model ready: companion open -> model loaded and the persona pre-ingested;
* a typed turn: first visible state change, first token, completion
  (medians over several turns), the first turn and the follow-ups separately;
* raw gpt4all: the same full prompt given to the same model with no Aether
  code around it (cold context), first token and completion; the ratio of
  the first-token times (target <= 1.10);
* the GUI thread's longest stall while a turn generates (target <= 50 ms), and
  cold start to window visible (the start-up window, <= 300 ms), to the main
  window drawn, and to ready-to-answer (the model loaded, <= 2 s), measured
  first, while this process is still cold (see :mod:`aether_qt.commands.bench.gui`).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

# The companion, the engines and the services are imported inside run_turn_bench, after
# the GUI measure: it times the app's cold start in this very process.
if TYPE_CHECKING:
    from aether_qt.companion import Companion
    from aether_qt.services.interaction.conductor import TurnReport

KEYRING_ENV = "PYTHON_KEYRING_BACKEND"
FAIL_KEYRING = "keyring.backends.fail.Keyring"
PROMPTS = (
    "tell me something nice about mornings",
    "what is a good way to start a walk?",
    "say something kind about rain",
    "how do I make tea?",
    "what's a fun fact about cats?",
)


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else float("nan")


def _raw_first_token(model_path: str, prompt_text: str, max_tokens: int) -> tuple[float, float]:
    """First-token and completion time of gpt4all alone on ``prompt_text`` (fresh context)."""
    from gpt4all import GPT4All

    llm = GPT4All(
        Path(model_path).name,
        model_path=str(Path(model_path).parent),
        allow_download=False,
        device="cpu",
        n_threads=2,
        n_ctx=2048,
        verbose=False,
    )
    first: list[float] = []
    started = time.perf_counter()

    def on_token(_token_id: int, _text: str) -> bool:
        if not first:
            first.append((time.perf_counter() - started) * 1000)
        return True

    llm.model.prompt_model(prompt_text, "%1", on_token, n_predict=max_tokens, n_batch=128, special=True)
    done = (time.perf_counter() - started) * 1000
    llm.close()
    return (first[0] if first else done), done


def _turns(comp: Companion) -> list[TurnReport]:
    reports = []
    for prompt in PROMPTS:
        report = comp.conductor.run_turn(prompt, source="bench")
        assert report is not None
        reports.append(report)
    return reports


def _ms(report: TurnReport, key: str) -> float:
    value = report.timings[key]
    return float(value) if value is not None else float("nan")


def _fail_keyring() -> None:
    import keyring
    import keyring.backends.fail

    keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]


def run_turn_bench(home: Path, *, quick: bool = False) -> dict[str, Any]:
    """Run the turn benchmark in ``home``; returns the JSON result with a ``table``."""
    from aether_qt.commands.bench.gui import measure_gui

    # The opt-in key file, never the user's keyring. Chosen through keyring's environment
    # variable, read when the app first uses keyring: importing keyring here and asking for
    # its backend would cost the timed cold start a third of a second it does not pay.
    previous_env = os.environ.get(KEYRING_ENV)
    os.environ[KEYRING_ENV] = FAIL_KEYRING
    try:
        if "keyring" in sys.modules:  # already set up by someone: the variable would not be read
            _fail_keyring()
        gui = measure_gui(home / "gui", quick=quick)  # first: nothing is imported or loaded yet (cold)
        _fail_keyring()
        from aether_qt.companion import Companion
        from aether_qt.core.generation import GenerationRequest
        from aether_qt.core.paths import resolve_paths
        from aether_qt.engines.interaction.phrases import load_default_persona
        from aether_qt.engines.router.models import find_model
        from aether_qt.engines.router.prompt import build_prompt

        paths = resolve_paths(home / "home")
        t0 = time.perf_counter()
        with Companion.open(paths, allow_key_file=True, install_guard=False) as comp:
            ready_s = time.perf_counter() - t0
            reports = _turns(comp)[: 3 if quick else None]
            model = find_model(comp.router.models_dir, comp.router.status.model_id)
            assert model is not None, comp.router.banner()
            system = load_default_persona().system_prompt
            request = GenerationRequest("bench", system, PROMPTS[0], max_tokens=160)
        raw_first, raw_done = _raw_first_token(model.path, build_prompt(request).text, 160)
    finally:
        if previous_env is None:
            os.environ.pop(KEYRING_ENV, None)
        else:
            os.environ[KEYRING_ENV] = previous_env
    first, follow = reports[0], reports[1:]
    result: dict[str, Any] = {
        "model_ready_s": round(ready_s, 2),
        "first_turn": {k: _ms(first, k) for k in ("t_first_state_ms", "t_first_token_ms", "t_done_ms")},
        "followup_first_token_ms": _median([_ms(r, "t_first_token_ms") for r in follow]),
        "followup_done_ms": _median([_ms(r, "t_done_ms") for r in follow]),
        "raw_first_token_ms": round(raw_first, 1),
        "raw_done_ms": round(raw_done, 1),
        "first_token_ratio": round(_ms(first, "t_first_token_ms") / raw_first, 3),
        "routes": sorted({f"{r.route.get('tier')}/{r.route.get('provider')}" for r in reports}),
        **gui,
    }
    result["table"] = [
        ("model ready (open -> loaded, persona ingested) s", ready_s, "target <= 2.5 incl. start-up"),
        ("first turn: first visible state ms", result["first_turn"]["t_first_state_ms"], "target <= 250"),
        (
            "first turn: first token ms",
            result["first_turn"]["t_first_token_ms"],
            f"raw gpt4all {raw_first:.0f}",
        ),
        ("first turn: done ms", result["first_turn"]["t_done_ms"], f"raw gpt4all {raw_done:.0f}"),
        ("first-token ratio (Aether / raw)", result["first_token_ratio"], "target <= 1.10"),
        ("follow-up first token ms (median)", result["followup_first_token_ms"], ""),
        ("follow-up done ms (median)", result["followup_done_ms"], ""),
        ("GUI thread max stall while generating ms", gui["gui_max_stall_ms"], "target <= 50"),
        ("GUI thread stalls over 50 ms while generating", gui["gui_stalls_over_target"], "target 0"),
        ("cold start -> window visible ms", gui["cold_window_ms"], "target <= 300"),
        ("cold start -> main window drawn ms", gui["cold_window_usable_ms"], "typing possible"),
        ("cold start -> ready to answer ms", gui["cold_ready_ms"], "target <= 2,000"),
    ]
    return result
