"""The active persona: swaps at turn boundaries, broken edits, clamps in the audit log."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from keyring_support import key_file_runtime
from router_fakes import LocalPlan

from aether_qt.companion import build_conductor
from aether_qt.core.bus import EventBus
from aether_qt.core.events import Envelope, PersonaActivated, PersonaFailed, PersonaRecovered
from aether_qt.core.generation import GenerationRequest, GenerationResult, Route, Tier, TokenSink
from aether_qt.engines.persona.errors import PersonaError
from aether_qt.engines.persona.registry import MINIMUM_TRUST, shipped_personas_dir
from aether_qt.policy.capabilities import Mode
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.interaction.conductor import Conductor, TurnReport
from aether_qt.services.persona.service import SETTING_ACTIVE, PersonaService


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[PolicyRuntime]:
    with key_file_runtime(tmp_path / "home") as rt:
        yield rt


@pytest.fixture
def events() -> tuple[EventBus, list[Envelope]]:
    bus = EventBus()
    seen: list[Envelope] = []
    bus.subscribe("*", seen.append)
    return bus, seen


def user_copy(user_dir: Path, shipped: str, persona_id: str) -> Path:
    """A user persona made from a shipped file, with its id changed."""
    text = (shipped_personas_dir() / f"{shipped}.yaml").read_text()
    text = text.replace(f"id: {shipped}\n", f"id: {persona_id}\n", 1)
    user_dir.mkdir(parents=True, exist_ok=True)
    path = user_dir / f"{persona_id}.yaml"
    path.write_text(text)
    return path


def swaps(rt: PolicyRuntime) -> list[dict[str, object]]:
    assert rt.audit is not None
    return [r.detail for r in rt.audit.rows() if r.decision == "persona_swap"]


def test_start_loads_the_default_and_audits_it(
    runtime: PolicyRuntime, events: tuple[EventBus, list[Envelope]], tmp_path: Path
) -> None:
    bus, seen = events
    service = PersonaService(runtime=runtime, bus=bus, user_dir=tmp_path / "personas")
    active = service.start()
    assert active.persona_id == "aether" and active.summary.trusted
    assert [e.payload.persona_id for e in seen if isinstance(e.payload, PersonaActivated)] == ["aether"]
    assert swaps(runtime)[-1]["to"] == "aether"
    assert service.turn_persona().system_prompt == active.router.system_prompt


def test_choose_applies_when_idle_and_narrows_the_gate(
    runtime: PolicyRuntime, events: tuple[EventBus, list[Envelope]], tmp_path: Path
) -> None:
    bus, _ = events
    service = PersonaService(runtime=runtime, bus=bus, user_dir=tmp_path / "personas")
    service.start()
    service.choose("sage")
    assert service.active.persona_id == "sage"
    assert runtime.settings.get(SETTING_ACTIVE) == "sage"
    assert runtime.gate.config.persona_defaults["sage"]["clipboard.read"] is Mode.DENY
    with pytest.raises(PersonaError, match="no persona with id 'nobody'"):
        service.choose("nobody")
    assert service.active.persona_id == "sage"


def test_a_broken_edit_keeps_the_last_good_persona_and_recovers(
    runtime: PolicyRuntime, events: tuple[EventBus, list[Envelope]], tmp_path: Path
) -> None:
    bus, seen = events
    user_dir = tmp_path / "personas"
    path = user_copy(user_dir, "aether", "mine")
    service = PersonaService(runtime=runtime, bus=bus, user_dir=user_dir)
    service.start()
    service.choose("mine")
    good = service.active
    path.write_text(path.read_text().replace("style:", "stlye:", 1))
    service.file_changed()
    failed = [e.payload for e in seen if isinstance(e.payload, PersonaFailed)]
    assert failed and failed[-1].path == str(path) and failed[-1].line > 0 and "stlye" in failed[-1].reason
    assert service.active is good
    path.write_text(path.read_text().replace("stlye:", "style:", 1).replace("You are", "You, Mine, are", 1))
    service.file_changed()
    assert any(isinstance(e.payload, PersonaRecovered) for e in seen)
    assert service.active.content_hash != good.content_hash
    assert "You, Mine, are" in service.active.router.system_prompt


def test_a_widening_persona_is_clamped_and_the_clamp_is_audited(
    runtime: PolicyRuntime, events: tuple[EventBus, list[Envelope]], tmp_path: Path
) -> None:
    bus, _ = events
    user_dir = tmp_path / "personas"
    path = user_copy(user_dir, "aether", "bold")
    text = path.read_text()
    assert "  overrides: {}\n" in text
    path.write_text(text.replace("  overrides: {}\n", "  overrides:\n    shell.exec: auto\n", 1))
    service = PersonaService(runtime=runtime, bus=bus, user_dir=user_dir)
    service.start()
    service.choose("bold")
    clamps = swaps(runtime)[-1]["clamps"]
    assert isinstance(clamps, list) and any(str(c).startswith("shell.exec auto -> deny") for c in clamps)
    assert runtime.gate.config.persona_defaults["bold"]["shell.exec"] is Mode.DENY


def test_nothing_loads_means_the_minimum_trust_persona(
    runtime: PolicyRuntime,
    events: tuple[EventBus, list[Envelope]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bus, _ = events
    monkeypatch.setattr("aether_qt.services.persona.service.find_persona", lambda *_a, **_k: None)
    service = PersonaService(runtime=runtime, bus=bus, user_dir=tmp_path / "personas")
    assert service.start() is MINIMUM_TRUST
    assert service.path is None


class SlowRouter(LocalPlan):
    """Streams a reply slowly so a persona edit can land in the middle of it."""

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.started = threading.Event()

    def model_ready(self) -> bool:
        return True

    def answer(
        self,
        request: GenerationRequest,
        category: str,
        on_token: TokenSink,
        cancel: threading.Event,
        **kw: Any,
    ) -> tuple[Route, GenerationResult]:
        self.prompts.append(request.system_prompt)
        self.started.set()
        for word in ("one ", "two ", "three"):
            time.sleep(0.3)
            on_token(word)
        return Route(Tier.LOCAL, "slow"), GenerationResult("one two three", 3, "done")


def test_an_edit_never_lands_in_the_middle_of_a_reply(
    runtime: PolicyRuntime, events: tuple[EventBus, list[Envelope]], tmp_path: Path
) -> None:
    bus, _ = events
    user_dir = tmp_path / "personas"
    path = user_copy(user_dir, "aether", "mine")
    service = PersonaService(runtime=runtime, bus=bus, user_dir=user_dir)
    service.start()
    service.choose("mine")
    router = SlowRouter()
    conductor: Conductor = build_conductor(
        runtime=runtime,
        bus=bus,
        router=router,  # type: ignore[arg-type]
        persona=service.turn_persona,
        spawn=lambda job: threading.Thread(target=job, daemon=True).start(),
        workdir=tmp_path,
        on_boundary=service.at_boundary,
    )
    service.bind_turns(conductor.busy)
    before = service.active.content_hash
    reports: list[TurnReport | None] = []
    worker = threading.Thread(target=lambda: reports.append(conductor.run_turn("tell me about rain")))
    worker.start()
    assert router.started.wait(10)
    path.write_text(path.read_text().replace("You are", "You, the edited one, are", 1))
    service.file_changed()
    assert service.active.content_hash == before, "no swap while a reply streams"
    worker.join(20)
    assert reports[0] is not None and reports[0].persona_hash == before
    assert service.active.content_hash != before, "applied at the end of the turn"
    second = conductor.run_turn("and snow?")
    assert second is not None and second.persona_hash == service.active.content_hash
    assert "the edited one" in router.prompts[-1] and "the edited one" not in router.prompts[0]


def test_a_choice_made_by_the_cli_is_picked_up_at_the_next_turn(
    runtime: PolicyRuntime, events: tuple[EventBus, list[Envelope]], tmp_path: Path
) -> None:
    bus, seen = events
    service = PersonaService(runtime=runtime, bus=bus, user_dir=tmp_path / "personas")
    service.start()
    runtime.settings.set(SETTING_ACTIVE, "pip")  # what `aether persona use pip` writes
    assert service.turn_persona().persona_id == "pip"
    runtime.settings.set(SETTING_ACTIVE, "ghost")  # a choice that cannot load is reported once
    service.at_boundary()
    service.at_boundary()
    assert service.active.persona_id == "pip"
    assert sum(isinstance(e.payload, PersonaFailed) for e in seen) == 1


def test_a_boundary_on_another_thread_never_undoes_the_users_choice(
    runtime: PolicyRuntime, events: tuple[EventBus, list[Envelope]], tmp_path: Path
) -> None:
    """The picker applies a choice on the GUI thread while a turn's end passes the boundary on the
    interaction thread (``aether bench soak`` hit it after some forty swaps). The boundary read the
    setting after the new persona was active but before the setting said so, took the old id for a
    choice made at the command line and swapped back: the window then showed one persona and the
    gate ran another, and the next pick of the "active" one did nothing."""
    bus, seen = events
    service = PersonaService(runtime=runtime, bus=bus, user_dir=tmp_path / "personas")
    service.start()
    stop = threading.Event()

    def boundaries() -> None:  # turns ending, one after another, on the interaction thread
        while not stop.is_set():
            service.at_boundary()

    other = threading.Thread(target=boundaries, daemon=True)
    other.start()
    chosen = [("pip", "sage")[i % 2] for i in range(12)]
    try:
        for persona_id in chosen:
            service.choose(persona_id)
    finally:
        stop.set()
        other.join(10)
    service.at_boundary()
    activated = [e.payload.persona_id for e in seen if isinstance(e.payload, PersonaActivated)]
    assert activated == ["aether", *chosen]
    assert service.active.persona_id == runtime.settings.get(SETTING_ACTIVE) == chosen[-1]
    assert [s["to"] for s in swaps(runtime)] == activated
