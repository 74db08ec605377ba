"""The error contract of ``aether memory``: a failure the user can act on is a sentence, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from aether_qt.commands import memory as cmd
from aether_qt.storage.errors import DatabaseUnreadableError


def test_a_database_failure_during_a_command_is_said_in_words(capsys: pytest.CaptureFixture[str]) -> None:
    def import_on_a_failing_disk() -> int:
        raise DatabaseUnreadableError(Path("/home/u/.local/share/aether/aether.db"), detail="disk I/O error")

    assert cmd._guarded(import_on_a_failing_disk) == 2
    err = capsys.readouterr().err
    assert err.startswith("aether: The database /home/u/.local/share/aether/aether.db cannot be opened")
    assert "disk I/O error" in err and "Traceback" not in err
