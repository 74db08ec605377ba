"""Plain words for codes and errors, and the check that finds codes in a visible text."""

from __future__ import annotations

import errno
import sqlite3

import pytest

from aether_qt.policy.capabilities import CAPABILITIES
from aether_qt.policy.decisions import DenyReason
from aether_qt.policy.user_words import (
    MEMORY_MISS,
    error_kind,
    explain_error,
    leaks,
    sentence_for,
    user_notice,
)


@pytest.mark.parametrize("code", [*(r.value for r in DenyReason), MEMORY_MISS, "needs_upgrade"])
def test_every_deny_code_and_notice_code_has_one_plain_sentence(code: str) -> None:
    sentence = sentence_for(code)
    assert sentence is not None
    assert leaks(sentence) == []
    assert "_" not in sentence
    assert sentence[0].isupper() and sentence.rstrip().endswith(".")
    assert user_notice(code) == sentence


def test_leaks_finds_capability_ids_deny_codes_ids_and_exception_names() -> None:
    text = (
        "files.create denied (audit_unavailable) for turn_3f2a9c1d7e00, ticket tkt_0123456789abcdef; "
        "IntegrityError: UNIQUE constraint failed; Traceback (most recent call last); memory_miss"
    )
    assert leaks(text) == [
        "files.create",
        "audit_unavailable",
        "turn_3f2a9c1d7e00",
        "tkt_0123456789abcdef",
        "IntegrityError",
        "Traceback",
        "memory_miss",
    ]


@pytest.mark.parametrize("capability", sorted(CAPABILITIES))
def test_every_capability_id_is_found(capability: str) -> None:
    assert leaks(f"asked for {capability}.") == [capability]


@pytest.mark.parametrize(
    "text",
    [
        "Ready",
        "Error",
        "Waiting for your OK",
        "I wrote notes.txt in your Documents folder.",
        "Answered by lan (llama-3) over the network",
        "Your message was 199,999 characters; I read only the first 4,000.",
        "Memory is unavailable right now.",
        "Open the trust centre: files are listed there.",
    ],
)
def test_plain_words_are_not_leaks(text: str) -> None:
    assert leaks(text) == []
    assert user_notice(text) == text


def test_an_exception_becomes_a_sentence_by_kind_and_place_never_its_name_or_message() -> None:
    integrity = sqlite3.IntegrityError("UNIQUE constraint failed: audit_log.seq")
    cases = {
        OSError(errno.ENOSPC, "No space left on device"): "disk",
        sqlite3.OperationalError("database is locked"): "busy",
        sqlite3.DatabaseError("database disk image is malformed"): "corrupt",
        integrity: "corrupt",
        PermissionError(errno.EACCES, "Permission denied", "/home/u/x"): "permission",
        FileNotFoundError(errno.ENOENT, "No such file or directory", "/home/u/Documents"): "missing",
        ValueError("bad"): "other",
    }
    for error, kind in cases.items():
        assert error_kind(error) == kind, error
        sentence = explain_error(error, where="the safety record")
        assert "safety record" in sentence
        assert leaks(sentence) == [], sentence
        assert str(error) not in sentence and type(error).__name__ not in sentence
    assert explain_error(integrity).startswith("Aether's data is damaged")


def test_a_text_made_from_an_exception_is_replaced_by_its_kind() -> None:
    raw = "append: IntegrityError: UNIQUE constraint failed: audit_log.seq"
    shown = user_notice(raw, where="the safety record")
    assert shown.startswith("The safety record is damaged")
    assert leaks(shown) == []
    assert user_notice(
        "[Errno 2] No such file or directory: '/home/u/Documents/todo.txt'", where="that file"
    ) == ("That file or a folder it needs does not exist. Check the place, then try again.")
    assert user_notice("generation failed: KeyError", fallback="The model did not answer.") == (
        "The model did not answer."
    )
