"""The turn FSM: one pure function from (model, event) to (model, effects) (DESIGN.md §4).

A turn is opened by :class:`TurnBegin` and closed by exactly one :class:`EndTurn`
effect. Timers are events (:class:`Timer`), so a turn's event log replays to the
same state trace (:func:`replay`). Nothing here performs I/O: effects are
instructions for the conductor (ask the gate, run a tool, start generation, show
a phrase), which feeds the results back as events.

Decisions recorded here:

* **Ask ends the turn.** Pending approvals are never auto-denied and may wait
  for hours, so the turn does not stay open: it ends ``Answered`` with the notice
  :data:`NOTICE_WAITING` (no ticket id: that is for the card, not for words). The conductor runs the approved
  action outside the turn; :class:`ApprovalAnswered` is therefore always ignored
  by the FSM and exists so an event log can record the answer next to the turn.
* **Templated replies.** Only actions whose result the model must read
  (:data:`MODEL_REPLY_CAPABILITIES`, e.g. ``files.read``) go back to the model;
  every other tool (write, delete, list, browse, reminders, memory, shell) ends
  the turn with the tool's own summary as the reply.
* **Remote escalation** is allowed by the gate and then generated remotely
  (``StartGeneration(remote=True)``): no tool runs.
* **Failures.** A failed generation or tool is *repaired* (repair phrase,
  outcome ``Repaired``); outcome ``Error`` is reserved for :class:`Fault`, a bug
  reported by the conductor.
* **Acknowledging.** The 800 ms ack moves a waiting ``Thinking`` turn to
  ``Acknowledging`` (the avatar's acknowledging behaviour); other states keep
  their state and only show the phrase.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Final

from aether_qt.engines.interaction.states import Category, Degraded, Outcome, TurnState
from aether_qt.engines.interaction.turn_io import (
    ApprovalAnswered,
    Cancel,
    CancelGeneration,
    CancelReason,
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
    PhrasePool,
    PolicyDecided,
    PolicyKind,
    RequestPolicy,
    RunTool,
    ShowPhrase,
    ShowThinking,
    StartGeneration,
    Timer,
    TimerName,
    ToolDone,
    TurnBegin,
)
from aether_qt.policy.decisions import ActionRequest

__all__ = [
    "MODEL_REPLY_CAPABILITIES",
    "REMOTE_CAPABILITIES",
    "ApprovalAnswered",
    "Cancel",
    "CancelGeneration",
    "CancelReason",
    "Classified",
    "Effect",
    "EndTurn",
    "EnterState",
    "Event",
    "Fault",
    "FirstToken",
    "GenerationDone",
    "GenerationFailed",
    "GenerationStarted",
    "PhrasePool",
    "PolicyDecided",
    "PolicyKind",
    "RequestPolicy",
    "RunTool",
    "ShowPhrase",
    "ShowThinking",
    "StartGeneration",
    "Step",
    "Timer",
    "TimerName",
    "ToolDone",
    "TurnBegin",
    "TurnModel",
    "replay",
    "run",
    "transition",
]


MODEL_REPLY_CAPABILITIES: Final = frozenset({"files.read", "clipboard.read", "net.fetch"})
"""Tools whose result is fed to the model for the reply; the others reply with their summary."""

REMOTE_CAPABILITIES: Final = frozenset({"router.remote", "router.remote_private"})
"""Capabilities that allow a remote generation rather than a tool run."""

NOTICE_NO_POLICY: Final = (
    "Aether's permission checks are not working, so I can't do things outside this chat."
)
NOTICE_NO_MEMORY: Final = "Memory is unavailable right now, so I can't remember or forget things."
REPLY_MEMORY_DRAFT: Final = (
    "Under the Observer preset I don't keep memories across sessions, so I did not save that."
)
NOTICE_TOO_SLOW: Final = "This is taking too long, so I stopped waiting. Please try again."
NOTICE_WAITING: Final = "Waiting for your OK: the card below says exactly what will happen."


# ---------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class TurnModel:
    """Everything the FSM knows about one turn; replaced, never mutated.

    Attributes:
        turn_id: "" until :class:`TurnBegin`.
        state: the current :class:`TurnState`.
        category: the classifier's verdict (or Acknowledge after a reflex timeout).
        action: the side effect under decision, if any.
        acks_shown: acknowledgement phrases shown so far (0, 1 or 2).
        answer_started: the first token arrived.
        visible: something the user can see happened (a visible state or a phrase).
        generating: a generation was started and not finished.
        progress_shown: the 4000 ms progress message was shown.
        degraded: the conditions restricting this turn.
        trace: every state entered, in order.
        ended: the one :class:`EndTurn` was emitted; later events are ignored.
        outcome: how the turn ended, once ended.
    """

    turn_id: str = ""
    state: TurnState = TurnState.IDLE
    category: Category | None = None
    action: ActionRequest | None = None
    acks_shown: int = 0
    answer_started: bool = False
    visible: bool = False
    generating: bool = False
    progress_shown: bool = False
    degraded: Degraded = Degraded.NONE
    trace: tuple[TurnState, ...] = ()
    ended: bool = False
    outcome: Outcome | None = None


Step = tuple[TurnModel, tuple[Effect, ...]]

_HIDDEN_STATES: Final = frozenset({TurnState.IDLE, TurnState.CLASSIFYING, TurnState.AWAITING_POLICY})
_WAITING_FOR_MODEL: Final = frozenset({TurnState.THINKING, TurnState.ACKNOWLEDGING})
_GENERATING: Final = _WAITING_FOR_MODEL | {TurnState.STREAMING}
_CAN_PROGRESS: Final = _WAITING_FOR_MODEL | {TurnState.EXECUTING}
_MEMORY_CATEGORIES: Final = frozenset({Category.MEMORY_WRITE, Category.MEMORY_FORGET})


def _go(model: TurnModel, state: TurnState, *effects: Effect, **changes: object) -> Step:
    """Enter ``state`` (unless already there) and emit ``effects`` after the state change."""
    moved = replace(model, **changes)  # type: ignore[arg-type]
    if state == model.state:
        return moved, effects
    moved = replace(
        moved, state=state, trace=(*model.trace, state), visible=model.visible or state not in _HIDDEN_STATES
    )
    return moved, (EnterState(state), *effects)


def _finish(
    model: TurnModel,
    state: TurnState,
    outcome: Outcome,
    *,
    phrase: PhrasePool | None = None,
    notice: str = "",
    reply: str = "",
) -> Step:
    """End the turn in ``state``: optional cancel and phrase, then the one :class:`EndTurn`."""
    effects: list[Effect] = [CancelGeneration()] if model.generating else []
    if phrase is not None:
        effects.append(ShowPhrase(phrase))
    effects.append(EndTurn(outcome, notice=notice, reply=reply))
    return _go(model, state, *effects, ended=True, outcome=outcome, generating=False)


def _generate(model: TurnModel, effect: StartGeneration, **changes: object) -> Step:
    return _go(model, TurnState.THINKING, effect, generating=True, **changes)


def _repair(model: TurnModel, outcome: Outcome, notice: str) -> Step:
    return _finish(model, TurnState.REPAIRING, outcome, phrase="repair", notice=notice)


# ---------------------------------------------------------------- handlers


def _on_turn_begin(model: TurnModel, event: TurnBegin) -> Step:
    if model.turn_id:
        return model, ()  # a turn is opened once; a new message is a new model
    fresh = TurnModel(turn_id=event.turn_id, degraded=event.degraded)
    return _go(fresh, TurnState.CLASSIFYING)


def _chat(model: TurnModel) -> Step:
    return _generate(model, StartGeneration())


def _deflect(model: TurnModel) -> Step:
    return _finish(model, TurnState.IDLE, Outcome.ANSWERED, phrase="safety")


def _clarify(model: TurnModel) -> Step:
    return _finish(model, TurnState.IDLE, Outcome.ANSWERED, phrase="clarify")


def _side_effect(model: TurnModel) -> Step:
    if model.action is None:
        return _clarify(model)  # a side-effecting verdict without an action cannot proceed
    if Degraded.NO_POLICY in model.degraded:
        return _repair(model, Outcome.DENIED, NOTICE_NO_POLICY)
    if model.category in _MEMORY_CATEGORIES and Degraded.NO_MEMORY in model.degraded:
        return _repair(model, Outcome.DENIED, NOTICE_NO_MEMORY)
    return _go(model, TurnState.AWAITING_POLICY, RequestPolicy(model.action))


_BY_CATEGORY: Final[dict[Category, Callable[[TurnModel], Step]]] = {
    Category.DIRECT_LOCAL: _chat,
    Category.ACKNOWLEDGE: _chat,
    Category.SAFETY_DEFLECTION: _deflect,
    Category.CLARIFY: _clarify,
}


def _on_classified(model: TurnModel, event: Classified) -> Step:
    if model.state != TurnState.CLASSIFYING:
        return model, ()  # a late verdict after the reflex budget is dropped
    model = replace(model, category=event.category, action=event.action)
    return _BY_CATEGORY.get(event.category, _side_effect)(model)


def _on_policy(model: TurnModel, event: PolicyDecided) -> Step:
    if model.state != TurnState.AWAITING_POLICY or model.action is None:
        return model, ()
    kind = event.kind
    if kind == "allow":
        if model.action.capability in REMOTE_CAPABILITIES:
            return _generate(model, StartGeneration(remote=True))
        return _go(model, TurnState.EXECUTING, RunTool(model.action))
    if kind == "ask":
        return _finish(model, TurnState.AWAITING_APPROVAL, Outcome.ANSWERED, notice=NOTICE_WAITING)
    if kind == "draft":
        return _draft(model)
    return _repair(model, Outcome.DENIED, event.reason)  # deny, needs_upgrade


def _draft(model: TurnModel) -> Step:
    if model.category in _MEMORY_CATEGORIES:  # a memory has no draft to show: say it was not kept
        return _finish(model, TurnState.IDLE, Outcome.DENIED, reply=REPLY_MEMORY_DRAFT)
    return _generate(model, StartGeneration(draft=True))


def _on_tool_done(model: TurnModel, event: ToolDone) -> Step:
    if model.state != TurnState.EXECUTING or model.action is None:
        return model, ()
    if not event.ok:
        return _repair(model, Outcome.REPAIRED, event.summary)
    if model.action.capability in MODEL_REPLY_CAPABILITIES:
        return _generate(model, StartGeneration(with_tool_result=True))
    return _finish(model, TurnState.IDLE, Outcome.ANSWERED, reply=event.summary)


def _on_first_token(model: TurnModel, _event: FirstToken) -> Step:
    if model.state not in _WAITING_FOR_MODEL:
        return model, ()
    return _go(model, TurnState.STREAMING, answer_started=True)


def _on_generation_done(model: TurnModel, event: GenerationDone) -> Step:
    if model.state not in _GENERATING:
        return model, ()
    model = replace(model, generating=False)
    if event.stopped == "error":
        return _repair(model, Outcome.REPAIRED, "the reply stopped with an error")
    return _finish(model, TurnState.IDLE, Outcome.ANSWERED)


def _on_generation_failed(model: TurnModel, event: GenerationFailed) -> Step:
    if model.state not in _GENERATING:
        return model, ()
    return _repair(replace(model, generating=False), Outcome.REPAIRED, event.message)


def _on_cancel(model: TurnModel, event: Cancel) -> Step:
    state = TurnState.BARGED_IN if event.reason == "barge_in" else TurnState.IDLE
    return _finish(model, state, Outcome.CANCELLED)


def _on_fault(model: TurnModel, event: Fault) -> Step:
    return _finish(model, TurnState.ERROR, Outcome.ERROR, notice=event.message)


def _ignore(model: TurnModel, _event: Event) -> Step:
    return model, ()


# ---------------------------------------------------------------- timers


def _on_reflex_timeout(model: TurnModel) -> Step:
    if model.state != TurnState.CLASSIFYING:
        return model, ()
    return _generate(model, StartGeneration(), category=Category.ACKNOWLEDGE)


def _on_first_visible(model: TurnModel) -> Step:
    if model.visible:
        return model, ()
    return replace(model, visible=True), (ShowThinking(),)


def _show_ack(model: TurnModel, pool: PhrasePool) -> Step:
    state = TurnState.ACKNOWLEDGING if model.state == TurnState.THINKING else model.state
    return _go(model, state, ShowPhrase(pool), acks_shown=model.acks_shown + 1, visible=True)


def _on_ack(model: TurnModel) -> Step:
    if model.answer_started or model.acks_shown > 0:
        return model, ()
    return _show_ack(model, "ack")


def _on_soft(model: TurnModel) -> Step:
    if model.answer_started or model.acks_shown > 1:
        return model, ()
    return _show_ack(model, "ack2" if model.acks_shown else "ack")


def _on_hard(model: TurnModel) -> Step:
    if model.answer_started or model.progress_shown:
        return model, ()
    if model.state in _CAN_PROGRESS:
        return replace(model, progress_shown=True, visible=True), (ShowPhrase("progress"),)
    return _repair(model, Outcome.REPAIRED, NOTICE_TOO_SLOW)


_TIMERS: Final[dict[str, Callable[[TurnModel], Step]]] = {
    "reflex": _on_reflex_timeout,
    "first_visible": _on_first_visible,
    "ack": _on_ack,
    "soft": _on_soft,
    "hard": _on_hard,
}


def _on_timer(model: TurnModel, event: Timer) -> Step:
    return _TIMERS[event.name](model)


_HANDLERS: Final[dict[type, Callable[[TurnModel, Any], Step]]] = {
    TurnBegin: _on_turn_begin,
    Classified: _on_classified,
    Timer: _on_timer,
    PolicyDecided: _on_policy,
    ApprovalAnswered: _ignore,
    ToolDone: _on_tool_done,
    GenerationStarted: _ignore,
    FirstToken: _on_first_token,
    GenerationDone: _on_generation_done,
    GenerationFailed: _on_generation_failed,
    Cancel: _on_cancel,
    Fault: _on_fault,
}


# ---------------------------------------------------------------- public API


def transition(model: TurnModel, event: Event) -> Step:
    """Apply one event to a turn: the new model and the effects the conductor must perform.

    Pure and total: an event that does not apply in the current state is ignored
    (the model comes back unchanged with no effects). Before :class:`TurnBegin`
    only ``TurnBegin`` counts; after the turn ended every event is ignored, so a
    turn never emits a second :class:`EndTurn`.

    Args:
        model: the turn so far (``TurnModel()`` before the turn begins).
        event: what happened.

    Returns:
        The next model and the effects, in the order they must be performed.
    """
    if model.ended:
        return model, ()
    if not model.turn_id and not isinstance(event, TurnBegin):
        return model, ()
    return _HANDLERS[type(event)](model, event)


def replay(events: Iterable[Event], model: TurnModel | None = None) -> TurnModel:
    """Fold ``events`` through :func:`transition`; the same log always yields the same trace.

    Args:
        events: a turn's event log, starting with its :class:`TurnBegin`.
        model: the starting point (a fresh ``TurnModel()`` by default).

    Returns:
        The model after the last event.
    """
    current = model if model is not None else TurnModel()
    for event in events:
        current, _ = transition(current, event)
    return current


def run(events: Iterable[Event], model: TurnModel | None = None) -> tuple[TurnModel, tuple[Effect, ...]]:
    """Like :func:`replay`, but also collect every effect, in order (for hosts and tests).

    Args:
        events: the events to apply.
        model: the starting point (a fresh ``TurnModel()`` by default).

    Returns:
        The final model and all effects emitted along the way.
    """
    current = model if model is not None else TurnModel()
    collected: list[Effect] = []
    for event in events:
        current, effects = transition(current, event)
        collected.extend(effects)
    return current, tuple(collected)
