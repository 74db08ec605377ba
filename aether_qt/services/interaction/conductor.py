"""The conductor runs turns: the interaction FSM driving the gate, the tools and the router.

One turn is a small event loop over a queue: the pure FSM
(:mod:`aether_qt.engines.interaction.fsm`) decides, the conductor performs its
effects (policy requests through the gate, tool calls through the effectors,
generation on the router's thread) and feeds the results back as events. Timers
come from :class:`~aether_qt.engines.interaction.timing.TimerSchedule` on the
injected clock, so an acknowledgement is shown by 800 ms, a second one by
2000 ms and progress by 4000 ms whenever the answer has not started.

``run_turn`` blocks; the app calls it in the interaction thread and the command
line in its main thread. ``spawn`` runs generation jobs on the router thread.
Every step is published on the bus (the events :class:`aether_qt.widgets.ports.Conversation` lists).

Taint (DESIGN.md §5): every request the conductor builds carries, as
``provenance_tags``, the untrusted content in the model's context at that moment
(the window of :class:`~aether_qt.services.interaction.history.ConversationHistory`
and an imported card's persona), and the task id of that window. A file's text
is shown to the user as a ``quote`` phrase with its source and given to the
model only fenced as data, in this turn and in the history.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from aether_qt.core.bus import EventBus
from aether_qt.core.errors import ExplainedError
from aether_qt.core.events import (
    ActionFinished,
    PhraseShown,
    TokensStreamed,
    TurnBegan,
    TurnEnded,
    TurnStateChanged,
)
from aether_qt.core.generation import (
    FencedData,
    GenerationRequest,
    GenerationResult,
    Route,
    Tier,
    TokenSink,
)
from aether_qt.engines.interaction import fsm
from aether_qt.engines.interaction.classifier import Classification, classify
from aether_qt.engines.interaction.phrases import DefaultPersona
from aether_qt.engines.interaction.states import Category, Degraded, Outcome
from aether_qt.engines.interaction.timing import TimerSchedule
from aether_qt.engines.memory.sensitivity import sensitive_reason
from aether_qt.engines.router.grounding import Grounded, Recalled, ground
from aether_qt.engines.router.route_plan import route_caption
from aether_qt.policy.capabilities import CAPABILITIES, ResourceKind
from aether_qt.policy.contracts import Clock, PolicyError
from aether_qt.policy.decisions import (
    ActionRequest,
    Allow,
    ApprovalChoice,
    Ask,
    Decision,
    Deny,
    decision_as_dict,
)
from aether_qt.policy.provenance import memory_is_trusted, memory_tag, remote_tag
from aether_qt.policy.user_words import MEMORY_MISS, explain_error, leaks, user_notice
from aether_qt.services.gate.gate_on_bus import GateOnBus
from aether_qt.services.interaction.approval_folders import ApprovalFolders
from aether_qt.services.interaction.history import ConversationHistory, Exchange
from aether_qt.services.interaction.pending_actions import STORE_ERRORS, PendingActions, refused_by_user
from aether_qt.services.interaction.previews import describe_call
from aether_qt.services.interaction.tools import ToolCall, ToolResult, ToolRunner

if TYPE_CHECKING:
    from aether_qt.engines.memory.recall import RecallHit, RecallResult

_log = logging.getLogger(__name__)
SOURCE = "L1"
STALL_S = 120.0  # no event and no timer for this long: the turn ends in Error, never hangs
Spawn = Callable[[Callable[[], None]], None]
_MEMORY_TOOLS = {"memory.write.durable": "memory:fact", "memory.delete": "memory:topic"}
_CHAT = frozenset({Category.DIRECT_LOCAL, Category.ACKNOWLEDGE})
_CLOSING_POOLS = frozenset({"repair", "clarify", "safety"})  # a phrase that ends a turn is its reply
STUCK = "I got stuck on this one, so I stopped. Please try again."
GENERATION_FAILED = "Something went wrong while I was writing the reply. Please try again."
MODEL_FAILED = (
    "The model couldn't finish this reply. Please try again, or choose another model in the settings."
)
_MORE_MARK = re.compile(r"\s*[\[(]\s*(?:more|continued|cont(?:inued)?\.?|to be continued)\s*[\])]\W*$", re.I)


class MemoryPort(Protocol):
    """What the conductor needs from L2 (:class:`~aether_qt.services.memory.service.MemoryService`)."""

    @property
    def started(self) -> bool:
        """Whether memory can be used."""
        ...

    def recall_for_turn(
        self, query: str, *, turn_id: str, persona_id: str
    ) -> tuple[RecallResult, tuple[FencedData, ...]]:
        """Memories for this turn's prompt (gated, within the recall deadline)."""
        ...

    def record_episode(self, text: str, *, turn_id: str, persona_id: str) -> object:
        """Keep an answered turn as a session episode (gated)."""
        ...


class RouterPort(Protocol):
    """What the conductor needs from the router engine."""

    def model_ready(self) -> bool:
        """Whether the local model answers."""
        ...

    def plan(
        self,
        category: str,
        *,
        persona_name: str,
        persona_tier: str,
        persona_posture: str,
        sensitive: str,
        sensitive_memories: int,
        taint: tuple[str, ...],
    ) -> Route:
        """The route of a turn, decided before any model call (``taint``: the turn's provenance tags)."""
        ...

    def remote_resource(self) -> str:
        """The active remote provider's base URL (the ``router.remote`` resource), "" without one."""
        ...

    def answer(
        self,
        request: GenerationRequest,
        category: str,
        on_token: TokenSink,
        cancel: threading.Event,
        *,
        route: Route | None = None,
        permit: object = None,
    ) -> tuple[Route, GenerationResult]:
        """Generate one reply on ``route`` (blocking; run on the router thread)."""
        ...


@dataclass(frozen=True, slots=True)
class EndedTurn:
    """A turn as the conversation list keeps it, handed to ``record`` when the turn ends.

    Attributes:
        conversation_id: the conversation the turn began in.
        turn_id: the turn.
        user: the user's words (as the transcript showed them).
        reply: the reply shown ("" when none).
        outcome: how the turn ended (``Answered``, ``Cancelled``...).
        route: where the answer came from, as the transcript says it.
        taint: the provenance tags the exchange brings to the model's context.
        began_ms, ended_ms: wall-clock times of the question and the reply.
        replaces: the earlier turn this one takes the place of (regenerate, edit and resend,
            or a continuation, whose reply holds the cut reply's words), "" for a new turn.
    """

    conversation_id: str
    turn_id: str
    user: str
    reply: str
    outcome: str
    route: str
    taint: tuple[str, ...]
    began_ms: int
    ended_ms: int
    replaces: str = ""


RecordTurn = Callable[[EndedTurn], None]
"""Keeps an ended turn (``services/interaction/conversations.record_turn``); raising loses only the record."""


@dataclass(frozen=True, slots=True)
class _Token:
    text: str


@dataclass(frozen=True, slots=True)
class _Generated:
    route: Route
    result: GenerationResult


@dataclass
class TurnReport:
    """Everything ``aether say --json`` prints about one turn."""

    turn_id: str
    text: str
    category: str
    persona_id: str = ""
    persona_hash: str = ""
    final_state: str = ""
    outcome: str = ""
    state_trace: list[str] = field(default_factory=list)
    decision: dict[str, Any] | None = None
    audit_id: str = ""
    ticket_id: str = ""
    route: dict[str, str] = field(default_factory=dict)
    reply: str = ""
    phrases: list[dict[str, str]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    tool: str = ""
    recalled: list[dict[str, Any]] = field(default_factory=list)
    taint: list[str] = field(default_factory=list)
    task_id: str = ""
    timings: dict[str, float | None] = field(
        default_factory=lambda: dict.fromkeys(
            ("t_first_state_ms", "t_ack_ms", "t_first_token_ms", "t_done_ms")
        )
    )

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class _Redo:
    """What a turn does to the one before it: replace its exchange, or go on with its cut reply."""

    replaces: str = ""  # regenerate, edit and resend: that turn's exchange is replaced
    continues: str = ""  # Continue: that turn's cut reply is given back to the model to go on from
    prefix: str = ""  # the cut reply
    dropped: Exchange | None = None  # the exchange taken out of the history for this turn


@dataclass(frozen=True, slots=True)
class _Last:
    """The last turn run, for regenerate, edit and resend, and continue."""

    turn_id: str
    text: str  # what the user said, as they said it
    source: str
    reply: str
    cut: bool  # a chat reply that stopped at the length limit


@dataclass
class _Turn:
    """Mutable state of the running turn (owned by the thread running it)."""

    report: TurnReport
    classification: Classification
    schedule: TimerSchedule
    persona: DefaultPersona
    history: ConversationHistory  # the history of the conversation the turn began in
    conversation_id: str
    began_ms: int
    inbox: queue.Queue[object] = field(default_factory=queue.Queue)
    model: fsm.TurnModel = field(default_factory=fsm.TurnModel)
    cancel: threading.Event = field(default_factory=threading.Event)
    allow: Allow | None = None
    data: tuple[FencedData, ...] = ()
    shown: tuple[FencedData, ...] = ()  # untrusted data the turn showed (a file read): kept fenced in history
    context: tuple[str, ...] = ()  # taint of the model's context: the window, the persona, this turn's data
    window_sources: tuple[str, ...] = ()  # the untrusted content in the window when the turn began
    picked_up: tuple[str, ...] = ()  # untrusted content this turn brought in (file, memories, remote reply)
    remote: str = ""  # the remote provider that wrote the reply, if one did
    route_caption: str = ""  # where the answer came from, for the window
    streamed: list[str] = field(default_factory=list)
    last_phrase: str = ""
    closing_phrase: str = ""  # the repair/clarify/safety phrase: shown once, as the reply when there is none
    shown_notices: tuple[str, ...] = ()  # notices already published as a phrase (not repeated at the end)
    action: ActionRequest | None = None
    change_id: str = ""
    redo: _Redo = field(default_factory=_Redo)
    cut: bool = False  # the model stopped at the length limit


class Conductor:
    """Runs one turn at a time (see the module docstring).

    Args:
        gate: the gate, publishing on the bus.
        tools: performs allowed tool calls.
        pending: tool calls waiting for approval.
        router: routes and generates replies.
        persona: the persona, or a callable returning the active one: it is called once at the
            start of each turn, so a persona swap never lands in the middle of a reply.
        bus: where turn events go.
        clock: monotonic time for the turn clock.
        spawn: runs a generation job on the router thread.
        workdir: relative paths in commands are resolved against it.
        on_boundary: called after each turn ends (a safe point to apply a pending persona swap).
        memory: L2, for recall into chat prompts, episodes and the memory tools; None: no memory.
        record: keeps each ended turn in the conversation it began in (the conversation list); None:
            nothing is kept.
    """

    def __init__(
        self,
        *,
        gate: GateOnBus,
        tools: ToolRunner,
        pending: PendingActions,
        router: RouterPort,
        persona: DefaultPersona | Callable[[], DefaultPersona],
        bus: EventBus,
        clock: Clock,
        spawn: Spawn,
        workdir: Path,
        history_turns: int = 6,
        on_boundary: Callable[[], None] | None = None,
        memory: MemoryPort | None = None,
        record: RecordTurn | None = None,
    ) -> None:
        self._memory = memory
        self._record = record
        self._gate, self._tools, self._pending, self._router = gate, tools, pending, router
        self._persona_source: Callable[[], DefaultPersona] = (
            persona if callable(persona) else (lambda: persona)  # type: ignore[assignment,return-value]
        )
        self._bus, self._clock, self._spawn = bus, clock, spawn
        self._workdir = workdir
        self._on_boundary = on_boundary
        self._history_turns = history_turns
        self._history = ConversationHistory(turns=history_turns)
        self._conversation_id = ""
        self._interrupted = False
        self._lock = threading.Lock()
        self._current: _Turn | None = None
        self._last: _Last | None = None
        self.folders = ApprovalFolders(gate=gate, tools=tools, pending=pending, bus=bus, clock=clock)

    @property
    def history(self) -> ConversationHistory:
        """The conversation the model re-reads (owned by the thread running turns)."""
        return self._history

    # ------------------------------------------------------------------ public

    def busy(self) -> bool:
        """Whether a turn is running (a persona swap waits for its end)."""
        with self._lock:
            return self._current is not None

    def cancel(self, reason: fsm.CancelReason = "user") -> None:
        """Cancel the running turn (thread-safe); nothing when idle."""
        with self._lock:
            turn = self._current
        if turn is not None:
            turn.cancel.set()
            turn.inbox.put(fsm.Cancel(reason))

    @property
    def conversation_id(self) -> str:
        """The conversation new turns go into ("" until one is opened)."""
        with self._lock:
            return self._conversation_id

    def open_conversation(
        self, conversation_id: str, exchanges: tuple[Exchange, ...] = (), *, redo_last: bool = False
    ) -> None:
        """Continue ``conversation_id`` from ``exchanges`` (thread-safe): the model's history is reset.

        A running turn is cancelled; it ends in, and is kept in, the conversation it
        began in, and its exchange never enters the new history. ``redo_last``: the
        last exchange is the conversation's last turn, so regenerate and edit and resend
        may replace it (a reopened conversation); otherwise nothing can be redone yet.
        """
        history = ConversationHistory(turns=self._history_turns)
        for exchange in exchanges[-self._history_turns :]:
            history.add(exchange)
        last = exchanges[-1] if redo_last and exchanges and exchanges[-1].turn_id else None
        with self._lock:
            self._conversation_id, self._history = conversation_id, history
            self._interrupted = False
            self._last = None if last is None else _Last(last.turn_id, last.user, "typed", last.reply, False)
        self.cancel("superseded")

    def interrupt(self) -> None:
        """Barge-in: cancel the running turn as ``BargedIn``; with none running, the reply was being
        spoken, so the next prompt still says the previous answer was cut off."""
        with self._lock:
            turn = self._current
            if turn is None:
                self._interrupted = True
        if turn is not None:
            self.cancel("barge_in")

    def run_turn(self, text: str, *, source: str = "typed", turn_id: str | None = None) -> TurnReport | None:
        """Run one turn to its end and return its report; None for empty input."""
        return self._run(text, source=source, turn_id=turn_id, redo=_Redo())

    def regenerate(self, *, turn_id: str | None = None) -> TurnReport | None:
        """Answer the last message again: its exchange leaves the history first, so the model
        does not read its old answer; the new turn ``replaces`` it. None when there is no last turn."""
        last = self._last
        if last is None:
            return None
        return self.edit_last(last.text, turn_id=turn_id)

    def edit_last(self, text: str, *, turn_id: str | None = None) -> TurnReport | None:
        """Edit and resend: ``text`` replaces the last message and its answer (history and transcript).

        None when there is no last turn to replace, or ``text`` is empty.
        """
        last = self._last
        if last is None or not text.strip():
            return None
        dropped = self._history.drop_last(last.turn_id)
        redo = _Redo(replaces=last.turn_id, dropped=dropped)
        return self._run(text, source=last.source, turn_id=turn_id, redo=redo)

    def continue_reply(self, *, turn_id: str | None = None) -> TurnReport | None:
        """Continue a reply cut at the length limit: the model goes on from its last word, and the
        new words are appended to that reply (the turn ``continues`` it). None when nothing was cut."""
        last = self._last
        if last is None or not last.cut:
            return None
        dropped = self._history.drop_last(last.turn_id)
        redo = _Redo(continues=last.turn_id, prefix=last.reply, dropped=dropped)
        return self._run(last.text, source=last.source, turn_id=turn_id, redo=redo)

    def _run(self, text: str, *, source: str, turn_id: str | None, redo: _Redo) -> TurnReport | None:
        tid = turn_id or f"turn_{uuid.uuid4().hex[:12]}"
        persona = self._persona_source()  # the turn keeps this persona to its end
        classification = classify(text, turn_id=tid, persona=persona.persona_id, home=str(Path.home()))
        if classification is None:
            return None
        report = TurnReport(
            turn_id=tid,
            text=classification.text,
            category=classification.category.value,
            persona_id=persona.persona_id,
            persona_hash=persona.content_hash,
        )
        with self._lock:
            history, conversation_id = self._history, self._conversation_id
        turn = _Turn(
            report,
            classification,
            TimerSchedule(clock=self._clock),
            persona,
            history=history,
            conversation_id=conversation_id,
            began_ms=self._clock.wall_ms(),
            redo=redo,
        )
        self._taint(turn, *persona.taint, *history.taint())
        turn.window_sources = history.sources()
        report.task_id = history.task_id() or f"task_{uuid.uuid4().hex[:12]}"
        turn.action = self._action(classification, tags=turn.context, task_id=report.task_id)
        turn.change_id = turn.action.change_id if turn.action is not None else f"chg_{uuid.uuid4().hex}"
        with self._lock:
            self._current = turn
        try:
            shown = "" if redo.continues else classification.text  # a continuation adds no message
            began = TurnBegan(
                turn_id=tid,
                text=shown,
                source=source,
                conversation_id=conversation_id,
                replaces=redo.replaces,
                continues=redo.continues,
            )
            self._publish(turn, began)
            if classification.notice:
                report.notices.append(classification.notice)
                self._publish(turn, PhraseShown(turn_id=tid, pool="notice", text=classification.notice))
                turn.shown_notices = (classification.notice,)
            degraded = (
                Degraded.NONE if self._memory is not None and self._memory.started else Degraded.NO_MEMORY
            )
            self._feed(turn, fsm.TurnBegin(turn_id=tid, text=classification.text, degraded=degraded))
            self._feed(turn, fsm.Classified(classification.category, turn.action))
            self._loop(turn)
            reply = report.reply if report.outcome == Outcome.ANSWERED.value else redo.prefix
            self._last = _Last(tid, text, source, reply, turn.cut)
        finally:
            with self._lock:
                self._current = None
            if self._on_boundary is not None:
                self._on_boundary()
        return report

    def answer(
        self, ticket_id: str, choice: ApprovalChoice, scope: str | None = None
    ) -> tuple[Decision, ToolResult | None]:
        """Answer a ticket through the gate; an allowed pending call runs here, exactly once.

        Raises:
            TicketError: unknown or already answered ticket.
        """
        decision = self._gate.answer(ticket_id, choice, scope)
        if not isinstance(decision, Allow):
            if refused_by_user(decision):  # any other refusal is a recheck: the ticket stays pending
                self._pending.drop(ticket_id)
            return decision, None
        allow = decision
        asked: list[ToolCall] = []

        def perform(call: ToolCall) -> ToolResult:
            asked.append(call)
            return self._tools.run(allow, call)

        result = self._pending.run(ticket_id, perform)
        if result is None:
            return decision, None
        turn_id = asked[0].turn_id if asked else ""  # the result belongs in the reply of the turn that asked
        finished: list[Any] = [ActionFinished(ticket_id, turn_id, result.ok, result.summary)]
        if result.quote and result.data is not None:
            finished.append(
                PhraseShown(turn_id=turn_id, pool="quote", text=result.quote, source=result.data.source)
            )
        for payload in finished:
            self._bus.publish(payload, source_layer=SOURCE, change_id=None, turn_id=turn_id or None)
        return decision, result

    # ------------------------------------------------------------------ the loop

    def _loop(self, turn: _Turn) -> None:
        while not turn.model.ended:
            timeout = turn.schedule.timeout_s()
            try:
                item = turn.inbox.get(timeout=STALL_S if timeout is None else timeout)
            except queue.Empty:
                due = turn.schedule.due()
                if not due and timeout is None:
                    self._feed(turn, fsm.Fault(STUCK))
                for timer in due:
                    self._feed(turn, timer)
                continue
            self._on_item(turn, item)

    def _on_item(self, turn: _Turn, item: object) -> None:
        if isinstance(item, _Token):
            if not turn.streamed:
                turn.report.timings["t_first_token_ms"] = round(turn.schedule.elapsed_ms(), 1)
                self._feed(turn, fsm.FirstToken())
            turn.streamed.append(item.text)
            self._publish(turn, TokensStreamed(turn_id=turn.report.turn_id, text=item.text))
        elif isinstance(item, _Generated):
            turn.report.route = {
                "tier": item.route.tier.value,
                "provider": item.route.provider,
                "model": item.route.model,
                "reason": item.route.reason,
                "status": item.route.status,
            }
            turn.route_caption = _plain_caption(item.route)
            turn.cut = item.result.stopped == "max_tokens" and turn.classification.category in _CHAT
            if item.route.tier is Tier.REMOTE:
                turn.remote = remote_tag(item.route.provider)
                self._pick_up(turn, turn.remote)
            result = item.result
            if result.stopped == "error":
                self._feed(turn, fsm.GenerationFailed(result.error))
            elif result.stopped != "cancelled":
                self._feed(turn, fsm.GenerationDone(result.stopped))
        elif isinstance(item, fsm.Cancel | fsm.PolicyDecided | fsm.ToolDone | fsm.Fault):
            self._feed(turn, item)

    def _feed(self, turn: _Turn, event: fsm.Event) -> None:
        turn.model, effects = fsm.transition(turn.model, event)
        for effect in effects:
            self._perform(turn, effect)

    # ------------------------------------------------------------------ effects

    def _perform(self, turn: _Turn, effect: fsm.Effect) -> None:
        tid = turn.report.turn_id
        if isinstance(effect, fsm.EnterState):
            if turn.report.timings["t_first_state_ms"] is None:
                turn.report.timings["t_first_state_ms"] = round(turn.schedule.elapsed_ms(), 1)
            self._publish(turn, TurnStateChanged(tid, effect.state.value, turn.schedule.elapsed_ms()))
        elif isinstance(effect, fsm.ShowThinking):
            self._publish(turn, TurnStateChanged(tid, "Thinking", turn.schedule.elapsed_ms()))
        elif isinstance(effect, fsm.ShowPhrase):
            self._show_phrase(turn, effect.pool)
        elif isinstance(effect, fsm.RequestPolicy):
            self._request_policy(turn, effect.action)
        elif isinstance(effect, fsm.RunTool):
            self._run_tool(turn, effect.action)
        elif isinstance(effect, fsm.StartGeneration):
            self._start_generation(turn, effect)
        elif isinstance(effect, fsm.CancelGeneration):
            turn.cancel.set()
        elif isinstance(effect, fsm.EndTurn):
            self._end(turn, effect)

    def _show_phrase(self, turn: _Turn, pool: fsm.PhrasePool) -> None:
        text = turn.persona.pools.pick(pool, turn_seed=turn.report.turn_id)
        if pool in ("ack", "ack2") and turn.report.timings["t_ack_ms"] is None:
            turn.report.timings["t_ack_ms"] = round(turn.schedule.elapsed_ms(), 1)
        turn.report.phrases.append({"pool": pool, "text": text})
        turn.last_phrase = text
        if pool in _CLOSING_POOLS:  # the turn ends now: :meth:`_end` shows it once (see there)
            turn.closing_phrase = text
            return
        self._publish(turn, PhraseShown(turn_id=turn.report.turn_id, pool=pool, text=text))

    def _request_policy(self, turn: _Turn, action: ActionRequest) -> None:
        decision = self._gate.evaluate(action)
        turn.report.decision = decision_as_dict(decision, action)
        turn.report.audit_id = decision.audit_id
        reason, ticket = "", ""
        if isinstance(decision, Allow):
            turn.allow = decision
        elif isinstance(decision, Ask):
            ticket = turn.report.ticket_id = decision.ticket.ticket_id
            if not self._keep_for_approval(turn, ticket, action):
                return
        elif isinstance(decision, Deny):
            reason = decision.reason.value
        turn.inbox.put(fsm.PolicyDecided(decision.kind, reason, ticket))  # type: ignore[arg-type]

    def _keep_for_approval(self, turn: _Turn, ticket_id: str, action: ActionRequest) -> bool:
        """Store the call the ticket waits for; if that fails, withdraw the ticket and end the turn.

        A ticket whose call was not kept must not be answerable as if it were:
        "allow" would spend the approval and do nothing. It is answered "deny"
        at once (audited); if even that fails, answering it later says so.
        """
        now = self._clock.wall_ms()
        try:
            self._pending.put(ticket_id, self._call(turn, action), turn_id=turn.report.turn_id, now_ms=now)
        except STORE_ERRORS as exc:
            _log.warning("the call of ticket %s was not kept (%s); withdrawing the ticket", ticket_id, exc)
            try:
                self._gate.answer(ticket_id, ApprovalChoice.DENY)
            except PolicyError as withdraw_exc:
                _log.warning("ticket %s stays open without its call: %s", ticket_id, withdraw_exc)
            turn.report.ticket_id = ""
            why = explain_error(exc, where="Aether's list of requests")
            turn.inbox.put(fsm.Fault(f"I could not keep this request for your OK, so I dropped it. {why}"))
            return False
        self._publish(turn, describe_call(ticket_id, self._call(turn, action)))
        return True

    def _run_tool(self, turn: _Turn, action: ActionRequest) -> None:
        if turn.allow is None:
            _log.error("tool run without an Allow in turn %s", turn.report.turn_id)
            turn.inbox.put(fsm.Fault(STUCK))
            return
        result = self._tools.run(turn.allow, self._call(turn, action))
        turn.report.tool = result.summary
        if result.data is not None:
            turn.data = (result.data,)
            if action.capability in fsm.MODEL_REPLY_CAPABILITIES and result.data.trust == "untrusted":
                turn.shown = (result.data,)  # the model reads it now, and in the history later
                self._pick_up(turn, result.data.source)
            if result.quote:
                self._show_quote(turn, result.quote, result.data.source)
        turn.inbox.put(fsm.ToolDone(result.ok, result.summary))

    def _show_quote(self, turn: _Turn, quote: str, source: str) -> None:
        """The data's words for the user: a labelled quote, never the assistant's own words."""
        turn.report.phrases.append({"pool": "quote", "text": quote, "source": source})
        self._publish(turn, PhraseShown(turn_id=turn.report.turn_id, pool="quote", text=quote, source=source))

    def _start_generation(self, turn: _Turn, effect: fsm.StartGeneration) -> None:
        system = turn.persona.system_prompt
        if effect.draft:
            system += "\nOnly write a draft for the user to review; do not claim that anything was done."
        user_text, temperature = turn.classification.text, turn.persona.temperature
        grounded: Grounded | None = None
        if effect.with_tool_result:
            user_text += "\n\n(Answer from the data above in one or two sentences.)"
            temperature = 0.3
        else:
            hits = self._recall(turn)
            grounded = None if turn.redo.prefix else self._ground(turn, hits)
        request = GenerationRequest(
            turn_id=turn.report.turn_id,
            system_prompt=system,
            user_text=user_text,
            temperature=temperature,
            history=turn.history.messages(),
            data=turn.data,
            max_tokens=turn.persona.max_tokens,
            interrupted_previous=self._interrupted,
            reply_prefix=turn.redo.prefix,
        )
        category = turn.classification.category.value
        inbox, cancel = turn.inbox, turn.cancel
        route: Route | None = None
        permit: object = None
        kept = {hit["text"] for hit in turn.report.recalled if hit.get("privacy") == "sensitive"}
        if grounded is None:  # a remembered fact answers without any model: nothing to route
            route, permit = self._route(
                turn, category, kept=len(kept), with_tool_result=effect.with_tool_result
            )
            if resource := self._router.remote_resource():  # with a provider set up, every route is audited
                where = f"{route.tier.value}/{route.provider}"
                self._gate.record_route(
                    turn_id=turn.report.turn_id, resource=resource, route=where, reason=route.reason
                )
        if route is not None and route.tier is Tier.REMOTE:  # sensitive memories never leave
            request = dataclasses.replace(request, data=tuple(d for d in request.data if d.text not in kept))

        def job() -> None:
            try:
                if grounded is not None:  # a remembered fact answers it: no model (see grounding.py)
                    route_taken, result = grounded.route, grounded.stream(lambda t: inbox.put(_Token(t)))
                else:
                    route_taken, result = self._router.answer(
                        request, category, lambda t: inbox.put(_Token(t)), cancel, route=route, permit=permit
                    )
            except Exception:  # a bug in a provider must end the turn, not hang it
                _log.exception("generation failed")
                inbox.put(fsm.Fault(GENERATION_FAILED))
                return
            inbox.put(_Generated(route_taken, result))

        self._spawn(job)

    def _route(
        self, turn: _Turn, category: str, *, kept: int, with_tool_result: bool
    ) -> tuple[Route, object]:
        """Plan the route before any model call; a remote route asks the gate for ``router.remote``.

        The user's words are checked for sensitive content (``kept``: how many recalled
        memories are sensitive), and the turn's taint travels with the request, so the
        gate refuses what the planner let through by mistake.
        """
        persona = turn.persona
        route = self._router.plan(
            category,
            persona_name=persona.name,
            persona_tier=persona.preferred_tier,
            persona_posture=persona.privacy_posture,
            sensitive=sensitive_reason(turn.classification.text),
            sensitive_memories=kept,
            taint=(*turn.context, *(("tool:result",) if with_tool_result else ())),
        )
        if route.tier is not Tier.REMOTE:
            return route, None
        # the provider's own earlier replies may go back to it; any other untrusted content may not
        tags = tuple(t for t in turn.context if t != remote_tag(route.provider))
        action = ActionRequest(
            "router.remote",
            self._router.remote_resource(),
            actor_persona="user",  # the user set the provider up (and allowed it then); not a persona's act
            turn_id=turn.report.turn_id,
            provenance_tags=tags,
            intended_route=route.provider,
            task_id=turn.report.task_id,
        )
        # Routing never raises an approval card (the user allows a provider when adding it):
        # the plain gate decides, audited, without the ticket events that would show one.
        gate = self._gate.gate
        decision = gate.evaluate(action)
        if isinstance(decision, Allow):
            return route, decision.permit
        if isinstance(decision, Ask):
            gate.answer(decision.ticket.ticket_id, ApprovalChoice.DENY)
        local = self._router.plan(
            category,
            persona_name=persona.name,
            persona_tier="local",
            persona_posture="local_only",
            sensitive="",
            sensitive_memories=0,
            taint=(),
        )
        refusal = decision.reason.value if isinstance(decision, Deny) else type(decision).__name__.lower()
        reason = f"the gate did not allow remote ({refusal}); answering locally"
        return Route(local.tier, local.provider, local.model, reason=reason), None

    def _end(self, turn: _Turn, effect: fsm.EndTurn) -> None:
        turn.schedule.cancel()
        report, model = turn.report, turn.model
        report.reply = effect.reply or "".join(turn.streamed).strip() or turn.last_phrase
        if (
            turn.closing_phrase and report.reply != turn.closing_phrase
        ):  # a reply came too: the phrase precedes it
            self._publish(turn, PhraseShown(turn_id=report.turn_id, pool="repair", text=turn.closing_phrase))
        if effect.notice:
            report.notices.append(effect.notice)
        answered = effect.outcome is Outcome.ANSWERED
        turn.cut = turn.cut and answered
        if (
            turn.redo.prefix
        ):  # a continuation: its words go on from the cut reply, which stays cut if it failed
            if effect.reply and not answered:
                report.notices.append(effect.reply)
            report.reply = turn.redo.prefix + ("".join(turn.streamed).rstrip() if answered else "")
            turn.cut = turn.cut or not answered
        if turn.cut:  # the window says the reply was cut and offers Continue: no marker of the model's own
            report.reply = _MORE_MARK.sub("", report.reply)
        report.outcome = effect.outcome.value
        report.final_state = model.state.value
        report.state_trace = [s.value for s in model.trace]
        report.timings["t_done_ms"] = round(turn.schedule.elapsed_ms(), 1)
        self._interrupted = effect.outcome is Outcome.CANCELLED and model.state.value == "BargedIn"
        exchange = self._exchange(turn)
        if answered and report.reply:
            turn.history.add(exchange)
        elif turn.redo.prefix and turn.redo.dropped is not None:  # the cut reply stays as it was
            turn.history.add(turn.redo.dropped)
        self._keep(turn, exchange)
        self._publish(
            turn,
            TurnEnded(
                turn_id=report.turn_id,
                outcome=report.outcome,
                final_state=report.final_state,
                reply=report.reply,
                notice=self._notice_words(turn),
                route=turn.route_caption,
                cut=turn.cut,
            ),
        )
        if answered and turn.classification.category in _CHAT and not turn.redo.prefix:
            self._episode(turn)

    def _notice_words(self, turn: _Turn) -> str:
        """The turn's notices for the user: codes in words, each once, none already shown as a phrase.

        ``report.notices`` keeps the codes (``aether say --json``); the window gets sentences.
        """
        action = turn.model.action
        cap = CAPABILITIES.get(action.capability) if action is not None else None
        where = "that file" if cap is not None and cap.resource_kind is ResourceKind.PATH else "Aether's data"
        fallback = MODEL_FAILED if turn.model.answer_started or turn.streamed else GENERATION_FAILED
        words = [
            user_notice(n, fallback=fallback, where=where)
            for n in turn.report.notices
            if n not in turn.shown_notices
        ]
        return " ".join(dict.fromkeys(w for w in words if w))

    def _keep(self, turn: _Turn, exchange: Exchange) -> None:
        """Keep the ended turn in its conversation before the window hears it ended (never raises)."""
        if self._record is None or not turn.conversation_id:
            return
        report = turn.report
        ended = EndedTurn(
            conversation_id=turn.conversation_id,
            turn_id=report.turn_id,
            user=report.text,
            reply=report.reply,
            outcome=report.outcome,
            route=turn.route_caption,
            taint=exchange.taint,
            began_ms=turn.began_ms,
            ended_ms=self._clock.wall_ms(),
            replaces=turn.redo.replaces or turn.redo.continues,
        )
        try:
            self._record(ended)
        except ExplainedError as exc:  # a full, locked or damaged database: the answer stands
            _log.warning("the turn was not kept in its conversation: %s", exc)
        except Exception:  # a bug: the answer stands; only its place in the conversation list is lost
            _log.exception("the turn was not kept in its conversation")

    # ------------------------------------------------------------------ memory

    def _recall(self, turn: _Turn) -> tuple[RecallHit, ...]:
        """Put memories relevant to the user's words into the prompt, fenced as data with their source."""
        if self._memory is None or not self._memory.started:
            return ()
        try:
            result, fenced = self._memory.recall_for_turn(
                turn.classification.text, turn_id=turn.report.turn_id, persona_id=turn.persona.persona_id
            )
        except Exception:  # memory trouble must not cost the user their answer
            _log.exception("memory recall failed")
            return ()
        turn.data = (*turn.data, *fenced)
        untrusted = [h for h in result.hits if not memory_is_trusted(h.provenance.source, h.provenance.trust)]
        self._pick_up(turn, *(memory_tag(hit.item_id) for hit in untrusted))
        turn.report.recalled = [
            {
                "id": hit.item_id,
                "text": hit.text,
                "kind": hit.kind.value,
                "privacy": hit.privacy.value,
                "source": hit.provenance.source,
                "trust": hit.provenance.trust,
                "turn_id": hit.provenance.turn_id,
                "audit_id": hit.provenance.audit_id,
                "score": round(hit.score, 5),
            }
            for hit in result.hits
        ]
        if result.timed_out:
            turn.report.notices.append(MEMORY_MISS)
        return result.hits

    def _ground(self, turn: _Turn, hits: tuple[RecallHit, ...]) -> Grounded | None:
        """A remembered fact as the reply, when one answers the question (``engines.router.grounding``)."""
        recalled = [
            Recalled(
                h.item_id,
                h.text,
                h.kind.value,
                h.provenance.source,
                h.provenance.trust,
                h.provenance.captured_at_ms,
                h.score,
            )
            for h in hits
        ]
        return ground(turn.classification.text, recalled, now_ms=self._clock.wall_ms())

    def _episode(self, turn: _Turn) -> None:
        if self._memory is None or not self._memory.started:
            return
        try:
            self._memory.record_episode(
                turn.report.text, turn_id=turn.report.turn_id, persona_id=turn.persona.persona_id
            )
        except Exception:
            _log.exception("the turn was not kept as an episode")

    # ------------------------------------------------------------------ taint

    @staticmethod
    def _taint(turn: _Turn, *tags: str) -> None:
        """Untrusted content is in the model's context for this turn (a no-op for known tags)."""
        turn.context = tuple(dict.fromkeys((*turn.context, *tags)))
        turn.report.taint = list(turn.context)

    def _pick_up(self, turn: _Turn, *tags: str) -> None:
        """This turn brought untrusted content into the model's context."""
        turn.picked_up = tuple(dict.fromkeys((*turn.picked_up, *tags)))
        self._taint(turn, *tags)

    def _exchange(self, turn: _Turn) -> Exchange:
        """The answered turn as the history keeps it, with what it holds and what its reply came from."""
        report = turn.report
        written_by_model = bool(report.route) and report.route["tier"] != Tier.REFLEX.value
        held = tuple(block.source for block in turn.shown)
        derived = (*turn.window_sources, *turn.persona.taint, *turn.picked_up) if written_by_model else ()
        action = turn.model.action
        cap = CAPABILITIES.get(action.capability) if action is not None else None
        return Exchange(
            user=report.text,
            reply=report.reply,
            data=turn.shown,
            sources=(*held, turn.remote) if turn.remote else held,
            derived=tuple(dict.fromkeys(derived)),
            task_id=report.task_id,
            read=cap is not None and cap.reads_user_data and turn.allow is not None,
            turn_id=report.turn_id,
        )

    # ------------------------------------------------------------------ helpers

    def _action(
        self, classification: Classification, *, tags: tuple[str, ...], task_id: str
    ) -> ActionRequest | None:
        """The classifier's request, stamped with the context's taint and task, paths made absolute."""
        action = classification.action
        if action is None:
            return None
        action = dataclasses.replace(action, provenance_tags=tags, task_id=task_id)
        if action.capability in _MEMORY_TOOLS:  # the audit log names the act, never the memory's words
            return dataclasses.replace(action, resource=_MEMORY_TOOLS[action.capability])
        cap = CAPABILITIES.get(action.capability)
        if (
            cap is not None
            and cap.resource_kind is ResourceKind.PATH
            and not Path(action.resource).is_absolute()
        ):
            action = dataclasses.replace(action, resource=str(self._workdir / action.resource))
        return action

    def _call(self, turn: _Turn, action: ActionRequest) -> ToolCall:
        """The tool call for ``action``; a memory call carries the user's words as its payload."""
        payload = turn.classification.payload
        original = turn.classification.action
        if action.capability in _MEMORY_TOOLS and original is not None:
            payload = original.resource
        return ToolCall(action.capability, action.resource, payload, turn.report.turn_id)

    def _publish(self, turn: _Turn, payload: Any) -> None:
        self._bus.publish(payload, source_layer=SOURCE, change_id=turn.change_id, turn_id=turn.report.turn_id)


def _plain_caption(route: Route) -> str:
    """Where the answer came from, in words: a route reason that names codes is said plainly."""
    caption = route_caption(route)
    if not leaks(caption):
        return caption
    why = (
        "the online model did not answer"
        if route.tier is Tier.REMOTE
        else "your settings kept it on this computer"
    )
    return route_caption(dataclasses.replace(route, reason=why))
