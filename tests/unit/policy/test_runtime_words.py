"""The runtime's banner sentences name no exception, only what happened and what to do."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from keyring_support import no_keyring

from aether_qt.core.paths import resolve_paths
from aether_qt.policy.decisions import ActionRequest, Deny, DenyReason
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.policy.user_words import leaks


@pytest.fixture
def quiet_keyring() -> Iterator[None]:
    with no_keyring():
        yield


def test_a_failed_audit_write_is_a_sentence_not_an_integrity_error(
    tmp_path: Path, quiet_keyring: None
) -> None:
    armed = {"on": False}

    def duplicate_row(database: str, sql: str) -> None:
        if armed["on"] and database == "audit.db" and "INSERT INTO audit_log" in sql:
            raise sqlite3.IntegrityError("UNIQUE constraint failed: audit_log.seq")

    paths = resolve_paths(tmp_path / "home")
    with PolicyRuntime.open(paths, allow_key_file=True, statement_hook=duplicate_row) as rt:
        armed["on"] = True
        decision = rt.gate.evaluate(ActionRequest("notify.send", "hi"))
        assert isinstance(decision, Deny) and decision.reason is DenyReason.AUDIT_UNAVAILABLE
        broken = next(flag for flag in rt.posture() if flag.flag == "audit_broken")
        assert leaks(broken.message) == [], broken.message
        assert "UNIQUE" not in broken.message and "audit_log" not in broken.message
        assert "every action" in broken.message.lower()


def test_an_unopenable_audit_database_is_said_in_words(tmp_path: Path, quiet_keyring: None) -> None:
    paths = resolve_paths(tmp_path / "home")
    with PolicyRuntime.open(paths, allow_key_file=True):
        pass
    for suffix in ("", "-wal", "-shm"):
        Path(f"{paths.audit_db}{suffix}").unlink(missing_ok=True)
    paths.audit_db.mkdir()  # a folder where the database should be
    with PolicyRuntime.open(paths, allow_key_file=True) as rt:
        message = rt.posture()[0].message
        assert leaks(message) == [], message
