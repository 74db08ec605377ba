"""``aether bench router``: how well the model in use answers, with what Aether knows and without.

Measured in a throw-away home (opt-in key file, never the user's keyring), with
the model the home uses (the bundled SmolLM2-135M unless ``--home`` chose another):

* memory QA (``tests/data/memory_qa.json``): every fact is told ("remember that
  …") in a first session without a model, the companion is closed, and a new
  one is opened on the same home (the encrypted database and index are read
  back from disk, as after quitting the app); each fact is then asked in other
  words through the conductor, all in that second session, as a user would. A
  reply is right when it contains an expected word. Reported: accuracy, how many
  were answered from memory (the ``reflex/memory`` route of
  :mod:`aether_qt.engines.router.grounding`) and how accurate each route was, and,
  for comparison, the model alone: the same recalled memories fenced into the same
  prompt and given straight to the router, with no grounding.
  Asking in the same process as the restart is a faithful stand-in for a second
  process: nothing of the first session survives in memory except the files.
* everyday (``tests/data/everyday_prompts.json``): 30 companion prompts in a
  fresh home, scored by the rules of :mod:`aether_qt.commands.bench.router_rules`
  (answered, on topic, no invented identity, no claimed act, length).

Quick mode asks 10 facts and 10 prompts.
"""

from __future__ import annotations

import json
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from aether_qt.commands.bench.router_rules import fact_recalled, invented_identity, score_reply
from aether_qt.companion import Companion
from aether_qt.core.generation import GenerationRequest
from aether_qt.core.paths import resolve_paths

DATA_DIR = Path(__file__).resolve().parents[3] / "tests" / "data"
QUICK = 10


def _progress(what: str, done: int, total: int) -> None:
    """One line on stderr per item: a full run makes ~120 generations (minutes on a busy machine)."""
    sys.stderr.write(f"bench router: {what} {done}/{total}\n")
    sys.stderr.flush()


def _load(name: str, key: str, quick: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads((DATA_DIR / name).read_text(encoding="utf-8"))[key]
    return rows[:QUICK] if quick else rows


def _open(home: Path, *, load_model: bool = True) -> Companion:
    return Companion.open(
        resolve_paths(home), allow_key_file=True, install_guard=False, load_model=load_model
    )


def _model_alone(comp: Companion, question: str, index: int) -> str:
    """The router's reply to ``question`` with this turn's recalled memories fenced in, no grounding."""
    assert comp.memory is not None
    persona = comp.personas.active
    _, fenced = comp.memory.recall_for_turn(
        question, turn_id=f"bench_alone_{index}", persona_id=persona.persona_id
    )
    request = GenerationRequest(
        turn_id=f"bench_alone_{index}",
        system_prompt=persona.router.system_prompt,
        user_text=question,
        data=fenced,
        temperature=persona.router.temperature,
        max_tokens=persona.router.max_tokens,
    )
    _, result = comp.router.answer(request, "DirectLocal", lambda _t: None, threading.Event())
    return result.text


def _memory_qa(home: Path, quick: bool) -> dict[str, Any]:
    facts = _load("memory_qa.json", "facts", quick)
    stored = 0
    with _open(home, load_model=False) as comp:  # session 1: tell (the memory tool needs no model)
        for fact in facts:
            report = comp.conductor.run_turn(fact["tell"], source="bench")
            stored += report is not None and report.outcome == "Answered"
    right, via_memory, memory_right, alone_right = 0, 0, 0, 0
    misses: list[dict[str, str]] = []
    with _open(home) as comp:  # session 2: after a restart, ask in other words
        model = comp.router.status.model_id
        for i, fact in enumerate(facts):
            report = comp.conductor.run_turn(fact["ask"], source="bench")
            reply = report.reply if report is not None else ""
            ok = fact_recalled(reply, fact["expect"])
            grounded = report is not None and report.route.get("provider") == "memory"
            right += ok
            via_memory += grounded
            memory_right += ok and grounded
            if not ok:
                misses.append({"id": fact["id"], "ask": fact["ask"], "reply": reply[:160]})
            alone_right += fact_recalled(_model_alone(comp, fact["ask"], i), fact["expect"])
            _progress("memory QA", i + 1, len(facts))
    n = len(facts)
    return {
        "model": model,
        "facts": n,
        "stored": stored,
        "accuracy": round(right / n, 3),
        "answered_from_memory": via_memory,
        "from_memory_accuracy": round(memory_right / via_memory, 3) if via_memory else None,
        "by_model_accuracy": round((right - memory_right) / (n - via_memory), 3) if n > via_memory else None,
        "model_alone_accuracy": round(alone_right / n, 3),
        "misses": misses,
    }


def _everyday(home: Path, quick: bool) -> dict[str, Any]:
    prompts = _load("everyday_prompts.json", "prompts", quick)
    scores: list[float] = []
    failed_checks: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []
    with _open(home) as comp:
        for i, prompt in enumerate(prompts):
            report = comp.conductor.run_turn(prompt["prompt"], source="bench")
            reply = report.reply if report is not None else ""
            scored = score_reply(reply, prompt)
            scores.append(scored.score)
            bad = [name for name, ok in scored.checks.items() if not ok]
            failed_checks.update(bad)
            if bad:
                invented = invented_identity(reply)
                failures.append(
                    {"id": prompt["id"], "failed": bad, "invented": invented, "reply": reply[:300]}
                )
            _progress("everyday", i + 1, len(prompts))
    n = len(prompts)
    return {
        "prompts": n,
        "score": round(sum(scores) / n, 3),
        "all_checks_passed": round(sum(s == 1.0 for s in scores) / n, 3),
        "failed_checks": dict(failed_checks),
        "failures": failures,
    }


def run_router_bench(home: Path, *, quick: bool = False) -> dict[str, Any]:
    """Run the router benchmark in ``home``; returns the JSON result with a ``table``."""
    import keyring
    import keyring.backends.fail

    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        qa = _memory_qa(home / "memory-qa", quick)
        everyday = _everyday(home / "everyday", quick)
    finally:
        keyring.set_keyring(previous)
    result: dict[str, Any] = {"model": qa["model"], "memory_qa": qa, "everyday": everyday}
    result["table"] = [
        ("model", qa["model"], ""),
        ("memory QA: facts told / stored", f"{qa['facts']} / {qa['stored']}", "told in session 1"),
        ("memory QA: accuracy after a restart", qa["accuracy"], "target >= 0.90"),
        ("memory QA: answered from memory", qa["answered_from_memory"], f"of {qa['facts']}"),
        ("memory QA: accuracy from memory", qa["from_memory_accuracy"], ""),
        ("memory QA: accuracy by the model", qa["by_model_accuracy"], "questions grounding left to it"),
        ("memory QA: model alone (same recall)", qa["model_alone_accuracy"], "no grounding, for comparison"),
        ("everyday: rule score", everyday["score"], f"{everyday['prompts']} prompts"),
        ("everyday: all checks passed", everyday["all_checks_passed"], ""),
        ("everyday: failed checks", ", ".join(f"{k} {v}" for k, v in everyday["failed_checks"].items()), ""),
    ]
    return result
