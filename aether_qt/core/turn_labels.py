"""Words and activities for turn states and outcomes, shared by the transcript, avatar and tray.

The words are the ones a person uses (Ready, Listening, Thinking, Speaking,
Waiting for your OK), never the engine's state names ("Streaming"); the state
names stay the bus's values, only what is displayed changes.

The values are the strings the bus carries (``TurnState`` and ``Outcome`` values of
the interaction engine); widgets and the avatar do not import engines, so they are
spelled here, outside both packages, so each can use them.
"""

from __future__ import annotations

from typing import Final

WAITING_FOR_OK: Final = "Waiting for your OK"
"""The status while an approval card waits for the user's answer."""

STATE_WORDS: Final[dict[str, str]] = {
    "Idle": "Ready",
    "Listening": "Listening…",
    "Transcribing": "Transcribing…",
    "Classifying": "Thinking…",
    "Acknowledging": "Thinking…",
    "AwaitingPolicy": "Checking permissions…",
    "AwaitingApproval": WAITING_FOR_OK,
    "Executing": "Working…",
    "Thinking": "Thinking…",
    "Streaming": "Speaking…",  # the reply is being written out: to a person, Aether is speaking
    "Speaking": "Speaking…",
    "BargedIn": "Interrupted",
    "Repairing": "Thinking…",
    "Error": "Something went wrong",
    "Unavailable": "Offline",  # the avatar's look when the conversation engine is down
}

OUTCOME_WORDS: Final[dict[str, str]] = {
    "Answered": "",
    "Denied": "Not done",
    "Cancelled": "Cancelled",
    "Repaired": "Couldn't finish",
    "Error": "Something went wrong",
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
