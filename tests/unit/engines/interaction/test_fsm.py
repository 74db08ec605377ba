"""Tests of the turn FSM, driven on a fake clock through the turn's timer schedule."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aether_qt.engines.interaction.fsm import (
    REPLY_MEMORY_DRAFT,
    WAITING_NOTICE,
    ApprovalAnswered,
    Cancel,
    CancelGeneration,
    Classified,
    Effect,
    EndTurn,
    EnterState,
    Event,
    Fault,
    FirstToken,
    GenerationDone,
    GenerationFailed,
    GenerationStarted,
    PolicyDecided,
    RequestPolicy,
    RunTool,
    ShowPhrase,
    ShowThinking,
    StartGeneration,
    Timer,
    ToolDone,
    TurnBegin,
    TurnModel,
    replay,
    run,
    transition,
)
from aether_qt.engines.interaction.phrases import DEFAULT_PHRASES, PhrasePools
from aether_qt.engines.interaction.states import Category, Degraded, Outcome, TurnState
from aether_qt.engines.interaction.timing import TimerSchedule
from aether_qt.policy.contracts import FakeClock
from aether_qt.policy.decisions import ActionRequest

S = TurnState


def action(capability: str = "files.read", resource: str = "/home/u/notes.txt") -> ActionRequest:
    return ActionRequest(capability, resource, change_id="chg_1", request_id="req_1")


@dataclass
class Host:
    """A minimal conductor: feeds events and due timers, picks phrases, records everything."""

    turn_id: str = "turn-1"
    clock: FakeClock = field(default_factory=FakeClock)
    pools: PhrasePools = field(default_factory=lambda: PhrasePools(DEFAULT_PHRASES))
    model: TurnModel = field(default_factory=TurnModel)
    events: list[Event] = field(default_factory=list)
    effects: list[tuple[float, Effect]] = field(default_factory=list)
    shown: list[tuple[float, str, str]] = field(default_factory=list)
    schedule: TimerSchedule | None = None

    def begin(self, text: str = "tell me about tides", degraded: Degraded = Degraded.NONE) -> None:
        self.schedule = TimerSchedule(clock=self.clock)
        self.send(TurnBegin(self.turn_id, text, degraded=degraded))

    def send(self, event: Event) -> None:
        assert self.schedule is not None
        self.events.append(event)
        self.model, effects = transition(self.model, event)
        for effect in effects:
            self.effects.append((self.schedule.elapsed_ms(), effect))
            if isinstance(effect, ShowPhrase):
                text = self.pools.pick(effect.pool, turn_seed=self.turn_id)
                self.shown.append((self.schedule.elapsed_ms(), effect.pool, text))
            if isinstance(effect, EndTurn):
                self.schedule.cancel()

    def wait_until(self, ms: float) -> None:
        """Let time pass up to ``ms`` after turn_begin, delivering timers when they fall due."""
        assert self.schedule is not None
        while True:
            deadline = self.schedule.next_deadline_ns()
            target_ns = self.schedule.started_ns + int(ms * 1_000_000)
            if deadline is None or deadline > target_ns:
                self.clock.advance((target_ns - self.clock.monotonic_ns()) / 1e9)
                return
            self.clock.advance((deadline - self.clock.monotonic_ns()) / 1e9)
            for timer in self.schedule.due():
                self.send(timer)

    def ends(self) -> list[EndTurn]:
        return [e for _, e in self.effects if isinstance(e, EndTurn)]

    def of_type(self, kind: type) -> list[Effect]:
        return [e for _, e in self.effects if isinstance(e, kind)]


# ---------------------------------------------------------------- scenarios on the fake clock


def test_slow_model_gets_ack_then_different_ack_then_progress_then_answer() -> None:
    host = Host()
    host.begin()
    host.send(Classified(Category.DIRECT_LOCAL))
    assert host.of_type(StartGeneration) == [StartGeneration()]
    host.wait_until(799)
    assert host.shown == []
    host.wait_until(800)
    assert [(ms, pool) for ms, pool, _ in host.shown] == [(800, "ack")]
    host.wait_until(2000)
    assert [(ms, pool) for ms, pool, _ in host.shown] == [(800, "ack"), (2000, "ack2")]
    assert host.shown[0][2] != host.shown[1][2]
    host.wait_until(4000)
    assert [(ms, pool) for ms, pool, _ in host.shown][-1] == (4000, "progress")
    host.wait_until(4500)
    host.send(FirstToken())
    host.send(GenerationDone("done"))
    assert host.ends() == [EndTurn(Outcome.ANSWERED)]
    assert host.model.trace == (S.CLASSIFYING, S.THINKING, S.ACKNOWLEDGING, S.STREAMING, S.IDLE)


def test_fast_answer_shows_no_ack() -> None:
    host = Host()
    host.begin()
    host.send(Classified(Category.DIRECT_LOCAL))
    host.wait_until(300)
    host.send(FirstToken())
    host.wait_until(5000)
    host.send(GenerationDone())
    assert host.shown == []
    assert host.ends() == [EndTurn(Outcome.ANSWERED)]
    assert host.model.acks_shown == 0


def test_every_slow_turn_shows_something_by_800_ms() -> None:
    # Whatever the turn is waiting for (classifier, gate, tool, model), nothing stays silent.
    for events in ([], [Classified(Category.TOOL_PLAN, action())], [Classified(Category.DIRECT_LOCAL)]):
        host = Host()
        host.begin()
        for event in events:
            host.send(event)
        host.wait_until(800)
        assert host.model.visible
        assert host.shown or host.model.state not in (S.CLASSIFYING, S.AWAITING_POLICY)


def test_reflex_timeout_treats_as_acknowledge_and_drops_the_late_verdict() -> None:
    host = Host()
    host.begin()
    host.wait_until(150)
    assert host.model.category == Category.ACKNOWLEDGE
    assert host.model.state == S.THINKING
    host.send(Classified(Category.TOOL_PLAN, action()))
    assert host.of_type(RequestPolicy) == []
    assert host.model.category == Category.ACKNOWLEDGE


def test_first_visible_shows_thinking_when_the_gate_is_slow() -> None:
    host = Host()
    host.begin()
    host.send(Classified(Category.TOOL_PLAN, action()))
    host.wait_until(250)
    assert host.of_type(ShowThinking) == [ShowThinking()]
    host.wait_until(4000)
    # the gate never answered: repaired at the hard deadline, not silently cancelled
    assert [pool for _, pool, _ in host.shown] == ["ack", "ack2", "repair"]
    assert host.ends()[0].outcome == Outcome.REPAIRED


def test_first_visible_is_quiet_once_something_is_visible() -> None:
    host = Host()
    host.begin()
    host.send(Classified(Category.DIRECT_LOCAL))
    host.wait_until(250)
    assert host.of_type(ShowThinking) == []


def test_allowed_read_runs_tool_then_replies_with_the_file() -> None:
    host = Host()
    host.begin("read ~/notes.txt")
    act = action()
    host.send(Classified(Category.TOOL_PLAN, act))
    host.send(PolicyDecided("allow"))
    assert host.of_type(RunTool) == [RunTool(act)]
    host.send(ToolDone(ok=True, summary="12 lines"))
    assert host.of_type(StartGeneration) == [StartGeneration(with_tool_result=True)]
    host.send(FirstToken())
    host.send(GenerationDone())
    assert host.model.trace == (
        S.CLASSIFYING,
        S.AWAITING_POLICY,
        S.EXECUTING,
        S.THINKING,
        S.STREAMING,
        S.IDLE,
    )
    assert host.ends() == [EndTurn(Outcome.ANSWERED)]


def test_slow_tool_gets_progress_message() -> None:
    host = Host()
    host.begin()
    host.send(Classified(Category.TOOL_PLAN, action("files.list", "/home/u")))
    host.send(PolicyDecided("allow"))
    host.wait_until(4000)
    assert [pool for _, pool, _ in host.shown] == ["ack", "ack2", "progress"]
    assert host.model.state == S.EXECUTING
    host.send(ToolDone(ok=True, summary="3 files"))
    assert host.ends() == [EndTurn(Outcome.ANSWERED, reply="3 files")]


@pytest.mark.parametrize(
    "capability", ["files.create", "files.delete", "browser.open", "memory.write.durable"]
)
def test_tools_without_model_reply_answer_with_their_summary(capability: str) -> None:
    final, effects = run(
        [
            TurnBegin("t", "x"),
            Classified(Category.TOOL_PLAN, action(capability)),
            PolicyDecided("allow"),
            ToolDone(ok=True, summary="done it"),
        ]
    )
    assert not [e for e in effects if isinstance(e, StartGeneration)]
    assert effects[-1] == EndTurn(Outcome.ANSWERED, reply="done it")
    assert final.state == S.IDLE


def test_failed_tool_is_repaired() -> None:
    final, effects = run(
        [
            TurnBegin("t", "x"),
            Classified(Category.TOOL_PLAN, action()),
            PolicyDecided("allow"),
            ToolDone(False, "gone"),
        ]
    )
    assert effects[-2:] == (ShowPhrase("repair"), EndTurn(Outcome.REPAIRED, notice="gone"))
    assert final.state == S.REPAIRING


@pytest.mark.parametrize("kind", ["deny", "needs_upgrade"])
def test_deny_gives_repair_phrase_and_denied(kind: str) -> None:
    host = Host()
    host.begin("delete ~/x")
    host.send(Classified(Category.TOOL_PLAN, action("files.delete")))
    host.send(PolicyDecided(kind, reason="outside approved folders"))  # type: ignore[arg-type]
    assert [pool for _, pool, _ in host.shown] == ["repair"]
    assert host.ends() == [EndTurn(Outcome.DENIED, notice="outside approved folders")]
    assert host.model.trace == (S.CLASSIFYING, S.AWAITING_POLICY, S.REPAIRING)
    host.wait_until(5000)
    assert len(host.ends()) == 1 and host.shown[-1][1] == "repair"


def test_ask_ends_the_turn_waiting_for_approval() -> None:
    final, effects = run(
        [
            TurnBegin("t", "write x"),
            Classified(Category.TOOL_PLAN, action("files.create")),
            PolicyDecided("ask", ticket_id="tkt_9"),
            ApprovalAnswered("allow_once"),
            Timer("hard"),
        ]
    )
    ends = [e for e in effects if isinstance(e, EndTurn)]
    assert ends == [EndTurn(Outcome.ANSWERED, notice=WAITING_NOTICE)]
    assert final.state == S.AWAITING_APPROVAL


def test_draft_produces_a_draft_reply() -> None:
    final, effects = run(
        [
            TurnBegin("t", "x"),
            Classified(Category.TOOL_PLAN, action("files.create")),
            PolicyDecided("draft"),
            FirstToken(),
            GenerationDone(),
        ]
    )
    assert StartGeneration(draft=True) in effects
    assert effects[-1] == EndTurn(Outcome.ANSWERED)
    assert final.trace[-3:] == (S.THINKING, S.STREAMING, S.IDLE)


@pytest.mark.parametrize("category", [Category.MEMORY_WRITE, Category.MEMORY_FORGET])
def test_memory_draft_is_not_kept_and_says_so(category: Category) -> None:
    final, effects = run(
        [TurnBegin("t", "x"), Classified(category, action("memory.write.durable")), PolicyDecided("draft")]
    )
    assert not [e for e in effects if isinstance(e, StartGeneration | RunTool)]
    assert effects[-1] == EndTurn(Outcome.DENIED, reply=REPLY_MEMORY_DRAFT)
    assert final.state == S.IDLE


def test_remote_escalation_allowed_generates_remotely_without_a_tool() -> None:
    _, effects = run(
        [TurnBegin("t", "ask gpt"), Classified(Category.REMOTE_ESCALATION, action("router.remote", "remote"))]
    )
    assert isinstance(effects[-1], RequestPolicy)
    _, effects = run(
        [PolicyDecided("allow")],
        replay(
            [
                TurnBegin("t", "ask gpt"),
                Classified(Category.REMOTE_ESCALATION, action("router.remote", "remote")),
            ]
        ),
    )
    assert effects == (EnterState(S.THINKING), StartGeneration(remote=True))


@pytest.mark.parametrize(
    ("category", "pool"), [(Category.SAFETY_DEFLECTION, "safety"), (Category.CLARIFY, "clarify")]
)
def test_phrase_only_categories_answer_at_once(category: Category, pool: str) -> None:
    final, effects = run([TurnBegin("t", "x"), Classified(category)])
    assert effects[-2:] == (ShowPhrase(pool), EndTurn(Outcome.ANSWERED))  # type: ignore[arg-type]
    assert final.state == S.IDLE


def test_side_effect_without_action_asks_to_clarify() -> None:
    _, effects = run([TurnBegin("t", "x"), Classified(Category.TOOL_PLAN, None)])
    assert effects[-2:] == (ShowPhrase("clarify"), EndTurn(Outcome.ANSWERED))


def test_no_policy_denies_every_side_effect() -> None:
    host = Host()
    host.begin(degraded=Degraded.NO_POLICY | Degraded.NO_TTS)
    host.send(Classified(Category.TOOL_PLAN, action()))
    assert host.of_type(RequestPolicy) == []
    assert host.ends()[0].outcome == Outcome.DENIED
    assert "permission gate" in host.ends()[0].notice


def test_no_memory_denies_memory_but_not_tools() -> None:
    _, effects = run(
        [
            TurnBegin("t", "x", degraded=Degraded.NO_MEMORY),
            Classified(Category.MEMORY_FORGET, action("memory.delete")),
        ]
    )
    assert effects[-1] == EndTurn(Outcome.DENIED, notice="memory is unavailable right now")
    _, effects = run(
        [TurnBegin("t", "x", degraded=Degraded.NO_MEMORY), Classified(Category.TOOL_PLAN, action())]
    )
    assert isinstance(effects[-1], RequestPolicy)


def test_generation_failure_is_repaired() -> None:
    host = Host()
    host.begin()
    host.send(Classified(Category.DIRECT_LOCAL))
    host.send(GenerationStarted())
    host.send(GenerationFailed("no model"))
    assert host.ends() == [EndTurn(Outcome.REPAIRED, notice="no model")]
    assert [pool for _, pool, _ in host.shown] == ["repair"]
    assert host.of_type(CancelGeneration) == []


def test_generation_stopping_with_error_is_repaired() -> None:
    _, effects = run(
        [TurnBegin("t", "x"), Classified(Category.DIRECT_LOCAL), FirstToken(), GenerationDone("error")]
    )
    assert isinstance(effects[-1], EndTurn) and effects[-1].outcome == Outcome.REPAIRED


def test_cancel_mid_stream_ends_once_cancelled() -> None:
    host = Host()
    host.begin()
    host.send(Classified(Category.DIRECT_LOCAL))
    host.send(FirstToken())
    host.send(Cancel("user"))
    host.send(GenerationDone("cancelled"))
    host.send(Cancel("user"))
    host.wait_until(6000)
    assert host.ends() == [EndTurn(Outcome.CANCELLED)]
    assert host.of_type(CancelGeneration) == [CancelGeneration()]
    assert host.model.state == S.IDLE


def test_barge_in_goes_through_barged_in() -> None:
    final, effects = run([TurnBegin("t", "x"), Classified(Category.DIRECT_LOCAL), Cancel("barge_in")])
    assert effects[-3:] == (EnterState(S.BARGED_IN), CancelGeneration(), EndTurn(Outcome.CANCELLED))
    assert final.trace[-1] == S.BARGED_IN


def test_cancel_before_generation_does_not_cancel_generation() -> None:
    _, effects = run([TurnBegin("t", "x"), Cancel("superseded")])
    assert CancelGeneration() not in effects
    assert effects[-1] == EndTurn(Outcome.CANCELLED)


def test_fault_ends_with_error() -> None:
    final, effects = run([TurnBegin("t", "x"), Classified(Category.DIRECT_LOCAL), Fault("bug")])
    assert effects[-1] == EndTurn(Outcome.ERROR, notice="bug")
    assert final.state == S.ERROR and final.outcome == Outcome.ERROR


def test_events_after_end_and_before_begin_are_ignored() -> None:
    fresh = TurnModel()
    assert transition(fresh, FirstToken()) == (fresh, ())
    ended, _ = run([TurnBegin("t", "x"), Classified(Category.CLARIFY)])
    for event in (Cancel(), Fault("x"), TurnBegin("t2", "y"), Timer("hard"), GenerationDone()):
        assert transition(ended, event) == (ended, ())


def test_second_turn_begin_on_an_open_turn_is_ignored() -> None:
    model, _ = run([TurnBegin("t", "x")])
    assert transition(model, TurnBegin("t2", "y")) == (model, ())


def test_events_in_the_wrong_state_are_ignored() -> None:
    model, _ = run([TurnBegin("t", "x")])
    for event in (PolicyDecided("allow"), ToolDone(True), FirstToken(), GenerationDone(), GenerationFailed()):
        assert transition(model, event) == (model, ())
    thinking, _ = run([Classified(Category.DIRECT_LOCAL)], model)
    assert transition(thinking, ToolDone(True)) == (thinking, ())


def test_soft_timer_alone_shows_a_first_ack_and_duplicates_are_quiet() -> None:
    model, effects = run([TurnBegin("t", "x"), Classified(Category.DIRECT_LOCAL), Timer("soft")])
    assert ShowPhrase("ack") in effects
    model, effects = run([Timer("soft"), Timer("soft"), Timer("ack"), Timer("hard"), Timer("hard")], model)
    assert effects == (ShowPhrase("ack2"), ShowPhrase("progress"))


def test_replay_reproduces_the_trace() -> None:
    host = Host()
    host.begin()
    host.send(Classified(Category.TOOL_PLAN, action()))
    host.wait_until(900)
    host.send(PolicyDecided("allow"))
    host.wait_until(2100)
    host.send(ToolDone(True, "ok"))
    host.send(FirstToken())
    host.send(GenerationDone())
    replayed = replay(host.events)
    assert replayed == host.model
    assert replayed.trace == (
        S.CLASSIFYING,
        S.AWAITING_POLICY,
        S.EXECUTING,
        S.THINKING,
        S.STREAMING,
        S.IDLE,
    )


def test_classifier_verdicts_drive_the_fsm() -> None:
    from aether_qt.engines.interaction.classifier import classify

    verdict = classify("delete the file ~/x.txt", turn_id="t", home="/home/u")
    assert verdict is not None
    _, effects = run([TurnBegin("t", verdict.text), Classified(verdict.category, verdict.action)])
    assert effects[-1] == RequestPolicy(verdict.action)  # type: ignore[arg-type]


# ---------------------------------------------------------------- properties

_ACTIONS = st.sampled_from([None, action(), action("files.delete"), action("router.remote", "remote")])
_EVENTS: st.SearchStrategy[Event] = st.one_of(
    st.builds(Classified, st.sampled_from(list(Category)), _ACTIONS),
    st.builds(Timer, st.sampled_from(["reflex", "first_visible", "ack", "soft", "hard"])),
    st.builds(
        PolicyDecided,
        st.sampled_from(["allow", "ask", "draft", "deny", "needs_upgrade"]),
        st.text(max_size=5),
    ),
    st.builds(ApprovalAnswered, st.just("allow_once")),
    st.builds(ToolDone, st.booleans(), st.text(max_size=5)),
    st.just(GenerationStarted()),
    st.just(FirstToken()),
    st.builds(GenerationDone, st.sampled_from(["done", "max_tokens", "cancelled", "error"])),
    st.builds(GenerationFailed, st.text(max_size=5)),
    st.builds(Cancel, st.sampled_from(["user", "barge_in", "superseded"])),
    st.builds(Fault, st.text(max_size=5)),
    st.builds(TurnBegin, st.just("t2"), st.text(max_size=5)),
)
_DEGRADED = st.sampled_from([Degraded.NONE, Degraded.NO_POLICY, Degraded.NO_MEMORY, Degraded.NO_ROUTER])


@settings(max_examples=400, deadline=None)
@given(events=st.lists(_EVENTS, max_size=25), degraded=_DEGRADED)
def test_any_sequence_has_at_most_one_end_and_a_valid_trace(events: list[Event], degraded: Degraded) -> None:
    log: list[Event] = [TurnBegin("t1", "hello", degraded=degraded), *events]
    model = TurnModel()
    all_effects: list[Effect] = []
    for event in log:
        was_ended = model.ended
        model, effects = transition(model, event)
        if was_ended:
            assert effects == ()
        all_effects.extend(effects)
    ends = [e for e in all_effects if isinstance(e, EndTurn)]
    assert len(ends) <= 1
    assert model.ended == (len(ends) == 1)
    if ends:
        assert all_effects[-1] == ends[0] and model.outcome == ends[0].outcome
    assert all(isinstance(state, TurnState) for state in model.trace)
    assert [e.state for e in all_effects if isinstance(e, EnterState)] == list(model.trace)
    assert model.turn_id == "t1"
    assert replay(log) == model


@settings(max_examples=200, deadline=None)
@given(events=st.lists(_EVENTS, max_size=25))
def test_a_turn_past_its_hard_deadline_has_never_been_silent(events: list[Event]) -> None:
    timers: list[Event] = [
        Timer("reflex"),
        Timer("first_visible"),
        Timer("ack"),
        Timer("soft"),
        Timer("hard"),
    ]
    model, effects = run([TurnBegin("t1", "hello"), *events, *timers])
    visible = any(isinstance(e, ShowPhrase | EndTurn) for e in effects) or model.answer_started
    assert visible
