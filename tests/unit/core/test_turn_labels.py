"""The status words a person sees for each turn state and outcome."""

from __future__ import annotations

from aether_qt.core.turn_labels import (
    OUTCOME_WORDS,
    STATE_WORDS,
    WAITING_FOR_OK,
    describe_outcome,
    describe_state,
)

ENGINE_WORDS = {"Streaming", "Repairing", "Repaired", "AwaitingApproval", "Idle", "Error", "Classifying"}


def test_status_words_are_the_ones_a_person_uses() -> None:
    assert describe_state("Idle") == "Ready"
    assert describe_state("Listening").startswith("Listening")
    assert describe_state("Thinking").startswith("Thinking")
    assert describe_state("Speaking").startswith("Speaking")
    assert describe_state("Streaming").startswith("Speaking")  # never "Streaming"
    assert describe_state("AwaitingApproval") == WAITING_FOR_OK == "Waiting for your OK"


def test_no_engine_state_name_is_ever_displayed() -> None:
    for word in (*STATE_WORDS.values(), *OUTCOME_WORDS.values()):
        assert not set(word.rstrip("…").split()) & ENGINE_WORDS, word
    assert describe_outcome("Repaired") != "Repaired"
