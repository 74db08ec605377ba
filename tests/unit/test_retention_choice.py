"""The user's retention choice: the words shown for it and the stricter of user and persona."""

from __future__ import annotations

import pytest

from aether_qt.engines.memory.retention import RETENTION_CHOICES, describe_retention, stricter


def test_every_offered_choice_has_words() -> None:
    words = [describe_retention(choice) for choice in RETENTION_CHOICES]
    assert len(set(words)) == len(RETENTION_CHOICES)
    assert describe_retention("days:90") == "For 90 days"


@pytest.mark.parametrize(
    ("user", "persona", "kept"),
    [
        ("forever", "days:30", "days:30"),
        ("days:30", "forever", "days:30"),
        ("days:90", "days:365", "days:90"),
        ("session", "days:1", "session"),
        ("forever", "forever", "forever"),
    ],
)
def test_the_stricter_retention_wins(user: str, persona: str, kept: str) -> None:
    assert stricter(user, persona) == kept


def test_a_bad_value_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="days:N"):
        describe_retention("weeks:2")
