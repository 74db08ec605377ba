"""Vocabulary of a turn: states, outcomes, reflex categories, degraded flags (DESIGN.md §4).

Pure values, shared by the FSM, the classifier, the conductor and the UI.
"""

from __future__ import annotations

from enum import Flag, StrEnum, auto


class TurnState(StrEnum):
    """The canonical states of one turn."""

    IDLE = "Idle"
    LISTENING = "Listening"
    TRANSCRIBING = "Transcribing"
    CLASSIFYING = "Classifying"
    ACKNOWLEDGING = "Acknowledging"
    AWAITING_POLICY = "AwaitingPolicy"
    AWAITING_APPROVAL = "AwaitingApproval"
    EXECUTING = "Executing"
    THINKING = "Thinking"
    STREAMING = "Streaming"
    SPEAKING = "Speaking"
    BARGED_IN = "BargedIn"
    REPAIRING = "Repairing"
    ERROR = "Error"


class Outcome(StrEnum):
    """How a turn ended; every turn ends with exactly one."""

    ANSWERED = "Answered"
    DENIED = "Denied"
    CANCELLED = "Cancelled"
    REPAIRED = "Repaired"
    ERROR = "Error"


class Category(StrEnum):
    """What the reflex classifier decided a message is."""

    DIRECT_LOCAL = "DirectLocal"
    ACKNOWLEDGE = "Acknowledge"
    TOOL_PLAN = "ToolPlan"
    MEMORY_WRITE = "MemoryWrite"
    MEMORY_FORGET = "MemoryForget"
    REMOTE_ESCALATION = "RemoteEscalation"
    SAFETY_DEFLECTION = "SafetyDeflection"
    CLARIFY = "Clarify"


class Degraded(Flag):
    """Conditions that restrict what a turn may do; they are flags, not states."""

    NONE = 0
    NO_POLICY = auto()
    NO_MEMORY = auto()
    NO_ROUTER = auto()
    NO_STT = auto()
    NO_TTS = auto()
