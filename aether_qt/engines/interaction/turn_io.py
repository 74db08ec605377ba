"""What goes into the turn FSM (events) and what comes out of it (effects) (DESIGN.md §4).

Frozen values, so that a turn's event log can be stored and replayed and the
effects can cross threads unchanged. :mod:`.fsm` re-exports all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from aether_qt.engines.interaction.states import Category, Degraded, Outcome, TurnState
from aether_qt.policy.decisions import ActionRequest

TimerName = Literal["reflex", "first_visible", "ack", "soft", "hard"]
PolicyKind = Literal["allow", "ask", "draft", "deny", "needs_upgrade"]
CancelReason = Literal["user", "barge_in", "superseded"]
PhrasePool = Literal["ack", "ack2", "progress", "clarify", "repair", "safety"]


# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class TurnBegin:
    """``turn_begin``: a typed message or a final transcript opens the turn."""

    turn_id: str
    text: str
    at_ms: int = 0
    degraded: Degraded = Degraded.NONE


@dataclass(frozen=True, slots=True)
class Classified:
    """The reflex classifier's verdict; ``action`` is set for side-effecting categories."""

    category: Category
    action: ActionRequest | None = None


@dataclass(frozen=True, slots=True)
class Timer:
    """A budget of the turn clock expired (see :mod:`.timing`)."""

    name: TimerName


@dataclass(frozen=True, slots=True)
class PolicyDecided:
    """The gate's decision on the turn's action (``ticket_id`` is set for ``ask``)."""

    kind: PolicyKind
    reason: str = ""
    ticket_id: str = ""


@dataclass(frozen=True, slots=True)
class ApprovalAnswered:
    """The user answered an approval ticket; recorded only (the turn ended at ``ask``)."""

    kind: str


@dataclass(frozen=True, slots=True)
class ToolDone:
    """The allowed action ran; ``summary`` is its result or its error, for the user."""

    ok: bool
    summary: str = ""


@dataclass(frozen=True, slots=True)
class GenerationStarted:
    """The router picked the request up (recorded; the clock already runs)."""


@dataclass(frozen=True, slots=True)
class FirstToken:
    """The first token of the reply arrived: the answer has started."""


@dataclass(frozen=True, slots=True)
class GenerationDone:
    """Generation finished; ``stopped`` is ``done``, ``max_tokens``, ``cancelled`` or ``error``."""

    stopped: str = "done"


@dataclass(frozen=True, slots=True)
class GenerationFailed:
    """The router could not answer at all (no model, every provider failed)."""

    message: str = ""


@dataclass(frozen=True, slots=True)
class Cancel:
    """The user cancelled, pressed push-to-talk (barge-in) or sent a new message."""

    reason: CancelReason = "user"


@dataclass(frozen=True, slots=True)
class Fault:
    """A bug in the conductor or an engine; the turn ends with outcome ``Error``."""

    message: str = ""


Event = (
    TurnBegin
    | Classified
    | Timer
    | PolicyDecided
    | ApprovalAnswered
    | ToolDone
    | GenerationStarted
    | FirstToken
    | GenerationDone
    | GenerationFailed
    | Cancel
    | Fault
)


# ---------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True)
class EnterState:
    """The turn entered ``state`` (publish ``turn.did_change_state``)."""

    state: TurnState


@dataclass(frozen=True, slots=True)
class ShowThinking:
    """Nothing visible happened within 250 ms: show the Thinking indicator now."""


@dataclass(frozen=True, slots=True)
class ShowPhrase:
    """Pick a phrase from ``pool`` and show or speak it."""

    pool: PhrasePool


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    """Ask the gate about ``action``; answer with :class:`PolicyDecided`."""

    action: ActionRequest


@dataclass(frozen=True, slots=True)
class RunTool:
    """Run the allowed ``action`` through its effector; answer with :class:`ToolDone`."""

    action: ActionRequest


@dataclass(frozen=True, slots=True)
class StartGeneration:
    """Start the reply: with the tool's result as fenced data, as a draft, or remotely."""

    with_tool_result: bool = False
    draft: bool = False
    remote: bool = False


@dataclass(frozen=True, slots=True)
class CancelGeneration:
    """Stop the running generation (and speech) within the barge-in budget."""


@dataclass(frozen=True, slots=True)
class EndTurn:
    """``turn_end``: emitted exactly once per turn; ``reply`` is set for templated replies."""

    outcome: Outcome
    notice: str = ""
    reply: str = ""


Effect = (
    EnterState
    | ShowThinking
    | ShowPhrase
    | RequestPolicy
    | RunTool
    | StartGeneration
    | CancelGeneration
    | EndTurn
)
