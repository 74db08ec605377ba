"""Real turns: the FSM, the gate, the effectors and the bundled model, end to end.

One companion (real SQLite, real audit chain, real gpt4all model) serves the
module; each test uses its own approved folder. Keys go to an opt-in key
file with the fail keyring backend, so the user's keyring is never touched.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import keyring.backends.fail
import pytest
from router_fakes import LocalPlan

from aether_qt.companion import Companion, build_conductor
from aether_qt.core.events import Envelope
from aether_qt.core.generation import GenerationRequest, GenerationResult, Route, Tier, TokenSink
from aether_qt.core.paths import resolve_paths
from aether_qt.engines.interaction.phrases import load_default_persona
from aether_qt.policy.approvals import TicketError
from aether_qt.policy.decisions import ApprovalChoice
from aether_qt.services.interaction.conductor import Conductor


@pytest.fixture(scope="module")
def comp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Companion]:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    home = tmp_path_factory.mktemp("companion")
    c = Companion.open(resolve_paths(home / "home"), allow_key_file=True, install_guard=False)
    try:
        assert c.router.model_ready(), c.router.banner()
        yield c
    finally:
        c.close()
        keyring.set_keyring(previous)


@pytest.fixture
def docs(comp: Companion, tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    comp.runtime.set_roots((root,))
    comp.conductor = build_conductor(
        runtime=comp.runtime,
        bus=comp.bus,
        router=comp.router,
        persona=load_default_persona(),
        spawn=lambda job: threading.Thread(target=job, daemon=True).start(),
        workdir=root,
    )
    return root


@pytest.fixture
def events(comp: Companion) -> Iterator[list[Envelope]]:
    seen: list[Envelope] = []
    unsubscribe = comp.bus.subscribe("*", seen.append)
    yield seen
    unsubscribe()


def audit_decision(comp: Companion, audit_id: str) -> str:
    assert comp.runtime.audit is not None
    row = comp.runtime.audit.get(audit_id)
    assert row is not None, "the decision must be in the audit log"
    return row.decision


def test_hello_is_answered_by_the_local_model(comp: Companion, docs: Path, events: list[Envelope]) -> None:
    report = comp.conductor.run_turn("hello, how are you today?")
    assert report is not None
    assert report.outcome == "Answered"
    assert report.route == {
        "tier": "local",
        "provider": "gpt4all",
        "model": comp.router.status.model_id,
        "reason": "category DirectLocal",  # no remote provider is set up: the plain local route
        "status": "",
    }
    assert report.reply.strip()
    assert report.state_trace[0] == "Classifying" and report.final_state == "Idle"
    assert "Streaming" in report.state_trace
    kinds = [e.kind for e in events]
    assert kinds[0] == "turn.did_begin" and kinds.count("turn.did_end") == 1 and kinds[-1] == "turn.did_end"
    assert kinds.count("router.did_stream_tokens") >= 2, "tokens must stream, not arrive as one block"
    assert len({e.change_id for e in events}) == 1
    assert all(v is not None for v in report.timings.values() if v is not report.timings["t_ack_ms"])


def test_read_uses_the_file_and_is_audited(comp: Companion, docs: Path) -> None:
    (docs / "notes.txt").write_text("The launch code is purple-42.\n")
    report = comp.conductor.run_turn("read notes.txt")
    assert report is not None
    assert report.decision is not None and report.decision["decision"] == "allow"
    assert audit_decision(comp, report.audit_id) == "allow"
    [quote] = [p for p in report.phrases if p["pool"] == "quote"]  # shown as data, not as Aether's words
    assert quote["text"] == "The launch code is purple-42." and quote["source"].endswith("notes.txt")
    assert report.tool == "I read notes.txt." and report.taint == [quote["source"]]
    assert report.outcome == "Answered"
    assert report.route["provider"] == "gpt4all"


def test_non_utf8_file_gives_a_clear_error(comp: Companion, docs: Path) -> None:
    (docs / "blob.bin").write_bytes(b"\xff\xfe\x00binary\x80")
    report = comp.conductor.run_turn(f"read {docs / 'blob.bin'}")
    assert report is not None
    assert report.outcome == "Repaired"
    assert any("not UTF-8 text" in n for n in report.notices)


def test_shell_is_denied_with_its_reason_and_a_repair_phrase(comp: Companion, docs: Path) -> None:
    marker = docs / "marker"
    report = comp.conductor.run_turn(f"shell touch {marker}")
    assert report is not None
    assert (report.outcome, report.final_state) == ("Denied", "Repairing")
    assert report.decision is not None and report.decision["reason"] == "shell_in_consumer_preset"
    assert audit_decision(comp, report.audit_id) == "deny"
    assert [p["pool"] for p in report.phrases] == ["repair"]
    assert not marker.exists()


def test_write_asks_and_the_answer_executes_exactly_once(comp: Companion, docs: Path) -> None:
    report = comp.conductor.run_turn(f"write {docs / 'todo.txt'} buy oat milk")
    assert report is not None
    assert report.decision is not None and report.decision["decision"] == "ask"
    assert report.final_state == "AwaitingApproval" and report.ticket_id
    assert not (docs / "todo.txt").exists(), "nothing is written before the approval"
    decision, result = comp.conductor.answer(report.ticket_id, ApprovalChoice.ALLOW_ONCE)
    assert decision.kind == "allow" and result is not None and result.ok
    assert (docs / "todo.txt").read_text() == "buy oat milk"
    with pytest.raises(TicketError):
        comp.conductor.answer(report.ticket_id, ApprovalChoice.ALLOW_ONCE)
    assert (docs / "todo.txt").read_text() == "buy oat milk"


def test_delete_is_high_risk_and_a_deny_keeps_the_file(comp: Companion, docs: Path) -> None:
    (docs / "keep.txt").write_text("x")
    report = comp.conductor.run_turn(f"delete {docs / 'keep.txt'}")
    assert report is not None and report.decision is not None
    assert (report.decision["decision"], report.decision["risk"]) == ("ask", "high")
    decision, result = comp.conductor.answer(report.ticket_id, ApprovalChoice.DENY)
    assert decision.kind == "deny" and result is None
    assert (docs / "keep.txt").exists()


def test_list_is_a_templated_reply(comp: Companion, docs: Path) -> None:
    (docs / "a.txt").write_text("a")
    (docs / "sub").mkdir()
    report = comp.conductor.run_turn(f"list {docs}")
    assert report is not None
    assert report.outcome == "Answered"
    assert "a.txt" in report.reply and "sub/" in report.reply
    assert not report.route, "a listing needs no model"


def test_empty_input_is_ignored_and_a_huge_paste_gets_a_notice(comp: Companion, docs: Path) -> None:
    assert comp.conductor.run_turn("   \n ") is None
    report = comp.conductor.run_turn("tell me a joke " * 70_000)
    assert report is not None
    assert report.outcome == "Answered"
    assert any("I used the first" in n for n in report.notices)


class SlowRouter(LocalPlan):
    """A router whose model takes ``delay`` seconds before the first token."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

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
        if cancel.wait(self.delay):
            return Route(Tier.LOCAL, "slow"), GenerationResult("", 0, "cancelled")
        for word in ("slow ", "but ", "here."):
            on_token(word)
        return Route(Tier.LOCAL, "slow"), GenerationResult("slow but here.", 3, "done")


def slow_conductor(comp: Companion, delay: float, workdir: Path) -> Conductor:
    return build_conductor(
        runtime=comp.runtime,
        bus=comp.bus,
        router=SlowRouter(delay),  # type: ignore[arg-type]
        persona=load_default_persona(),
        spawn=lambda job: threading.Thread(target=job, daemon=True).start(),
        workdir=workdir,
    )


def test_a_slow_model_never_leaves_a_silent_turn(comp: Companion, tmp_path: Path) -> None:
    report = slow_conductor(comp, 4.4, tmp_path).run_turn("tell me about the sea")
    assert report is not None
    pools = [p["pool"] for p in report.phrases]
    assert pools == ["ack", "ack2", "progress"]
    acks = [p["text"] for p in report.phrases[:2]]
    assert acks[0] != acks[1]
    assert report.timings["t_ack_ms"] is not None and 790 <= report.timings["t_ack_ms"] < 1500
    assert report.outcome == "Answered" and report.reply == "slow but here."


def test_cancel_ends_the_turn_once_as_cancelled(
    comp: Companion, tmp_path: Path, events: list[Envelope]
) -> None:
    conductor = slow_conductor(comp, 30.0, tmp_path)
    threading.Timer(0.3, conductor.cancel).start()
    started = time.monotonic()
    report = conductor.run_turn("tell me a long story")
    assert report is not None
    assert report.outcome == "Cancelled"
    assert time.monotonic() - started < 5
    assert [e.kind for e in events].count("turn.did_end") == 1


class RecordingSlowRouter(SlowRouter):
    """A slow router that remembers whether each request said the previous answer was cut off."""

    def __init__(self, delay: float) -> None:
        super().__init__(delay)
        self.interrupted: list[bool] = []

    def answer(
        self,
        request: GenerationRequest,
        category: str,
        on_token: TokenSink,
        cancel: threading.Event,
        **kw: Any,
    ) -> tuple[Route, GenerationResult]:
        self.interrupted.append(request.interrupted_previous)
        return super().answer(request, category, on_token, cancel, **kw)


def test_barge_in_during_a_turn_or_while_its_reply_is_spoken_is_told_to_the_next_prompt(
    comp: Companion, tmp_path: Path
) -> None:
    router = RecordingSlowRouter(0.05)
    conductor = build_conductor(
        runtime=comp.runtime,
        bus=comp.bus,
        router=router,  # type: ignore[arg-type]
        persona=load_default_persona(),
        spawn=lambda job: threading.Thread(target=job, daemon=True).start(),
        workdir=tmp_path,
    )
    first = conductor.run_turn("tell me about the sea")
    assert first is not None and first.outcome == "Answered"
    conductor.interrupt()  # idle: the reply was being spoken when the key went down
    conductor.run_turn("and rivers?")
    conductor.run_turn("and lakes?")
    assert router.interrupted == [False, True, False]

    router.delay = 5.0
    threading.Timer(0.3, conductor.interrupt).start()  # during generation
    cut = conductor.run_turn("tell me a long story")
    assert cut is not None and cut.outcome == "Cancelled" and cut.final_state == "BargedIn"
    router.delay = 0.05
    conductor.run_turn("go on")
    assert router.interrupted[-1] is True


def test_a_folder_approved_while_the_app_runs_is_written_without_a_restart(
    comp: Companion, docs: Path, tmp_path: Path
) -> None:
    later = tmp_path / "approved-later"
    later.mkdir()
    comp.runtime.set_roots((docs, later))  # the conductor above was built before this folder existed
    report = comp.conductor.run_turn(f"write {later / 'note.txt'} call the plumber")
    assert report is not None and report.ticket_id
    decision, result = comp.conductor.answer(report.ticket_id, ApprovalChoice.ALLOW_ONCE)
    assert decision.kind == "allow" and result is not None and result.ok, result
    assert (later / "note.txt").read_text() == "call the plumber"
