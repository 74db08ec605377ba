"""Words and activities for turn states and outcomes, shared by the transcript, avatar and tray.

The values are the strings the bus carries (``TurnState`` and ``Outcome`` values of
the interaction engine); widgets and the avatar do not import engines, so they are
spelled here, outside both packages, so each can use them.
"""

from __future__ import annotations

from typing import Final

STATE_WORDS: Final[dict[str, str]] = {
    "Idle": "Ready",
    "Listening": "Listening…",
    "Transcribing": "Transcribing…",
    "Classifying": "Thinking…",
    "Acknowledging": "Thinking…",
    "AwaitingPolicy": "Checking permissions…",
    "AwaitingApproval": "Waiting for your OK",
    "Executing": "Working…",
    "Thinking": "Thinking…",
    "Streaming": "Streaming",
    "Speaking": "Speaking",
    "BargedIn": "Interrupted",
    "Repairing": "Repairing…",
    "Error": "Error",
    "Unavailable": "Offline",  # the avatar's look when the conversation engine is down
}

OUTCOME_WORDS: Final[dict[str, str]] = {
    "Answered": "",
    "Denied": "Denied",
    "Cancelled": "Cancelled",
    "Repaired": "Repaired",
    "Error": "Error",
}

# What the tray and the avatar show for each turn state.
ACTIVITIES: Final[dict[str, str]] = {
    "Listening": "listening",
    "Transcribing": "listening",
    "Classifying": "thinking",
    "Acknowledging": "thinking",
    "AwaitingPolicy": "thinking",
    "Executing": "thinking",
    "Thinking": "thinking",
    "Repairing": "thinking",
    "Streaming": "speaking",
    "Speaking": "speaking",
    "AwaitingApproval": "attention",
}


def describe_state(state: str) -> str:
    """A few words for the user about turn ``state`` (unknown states are shown as they are)."""
    return STATE_WORDS.get(state, state)


def describe_outcome(outcome: str) -> str:
    """A label for how a turn ended; empty for a plain answer."""
    return OUTCOME_WORDS.get(outcome, outcome)


def activity_for(state: str) -> str:
    """``idle``, ``listening``, ``thinking``, ``speaking`` or ``attention`` for a turn state."""
    return ACTIVITIES.get(state, "idle")
