"""Sensitive words: credentials, identifiers, card numbers and health details; ordinary facts are not."""

from __future__ import annotations

import pytest

from aether_qt.engines.memory.sensitivity import is_sensitive, sensitive_reason


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("remember that my bank PIN is 4921", "a credential or an identifier"),
        ("my password for the router is hunter2", "a credential or an identifier"),
        ("my IBAN is DE89 3704 0044 0532 0130 00", "a credential or an identifier"),
        ("pay with 4111 1111 1111 1111 please", "a card number"),
        ("the key is sk-proj-abcdefghijklmnop", "a key or token"),
        ("I was diagnosed with diabetes last year", "health details"),
        ("I take medication for my blood pressure", "health details"),
    ],
)
def test_sensitive_words_are_named_by_kind_never_quoted(text: str, kind: str) -> None:
    assert sensitive_reason(text) == kind
    assert not any(word in kind for word in ("4921", "hunter2", "4111", "sk-proj"))


@pytest.mark.parametrize(
    "text",
    [
        "my dog is called Biscuit",
        "I like pineapple on pizza",  # "pin" inside a word is not a PIN
        "my favourite colour is teal",
        "call me on Tuesday at 1234",
        "the order number is 4111 1111 1111 1112",  # fails the Luhn check: not a card
    ],
)
def test_ordinary_facts_are_not_sensitive(text: str) -> None:
    assert not is_sensitive(text)
