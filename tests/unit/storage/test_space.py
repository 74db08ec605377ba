"""Free space: the numbers a "storage full" banner shows, and how a full disk is recognised."""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

import pytest

from aether_qt.storage.errors import DiskFullError, is_disk_full, translate_sqlite_error
from aether_qt.storage.space import RESERVE_BYTES, FreeSpace, free_bytes, human_size, measure


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 B"),
        (-5, "0 B"),
        (1023, "1023 B"),
        (4096, "4.0 KiB"),
        (RESERVE_BYTES, "1.0 MiB"),
        (3 << 40, "3.0 TiB"),
    ],
)
def test_sizes_are_written_for_people(size: int, text: str) -> None:
    assert human_size(size) == text


def test_a_folder_yet_to_be_made_is_measured_where_it_would_be(tmp_path: Path) -> None:
    stats = os.statvfs(tmp_path)
    assert free_bytes(tmp_path / "not" / "yet") == pytest.approx(stats.f_bavail * stats.f_frsize, rel=0.01)
    space = measure(tmp_path / "not" / "yet", wanted=1)
    assert space is not None and space.enough and space.folder == tmp_path / "not" / "yet"


def test_a_folder_that_cannot_be_measured_is_not_called_full() -> None:
    assert measure(Path("/" + "x" * 5000)) is None  # ENAMETOOLONG


def test_the_sentence_has_the_folder_and_both_numbers() -> None:
    space = FreeSpace(Path("/home/u/.local/share/aether"), 4096, RESERVE_BYTES)
    assert not space.enough
    assert space.sentence() == "Aether needs 1.0 MiB free in /home/u/.local/share/aether; 4.0 KiB is free"
    error = DiskFullError(Path("/home/u/.local/share/aether/aether.db"), space=space)
    assert space.sentence() in str(error) and error.space is space


def test_a_full_disk_is_recognised_through_the_errors_it_caused(tmp_path: Path) -> None:
    db = tmp_path / "aether.db"
    full = OSError(errno.ENOSPC, "No space left on device")
    try:
        try:
            raise full
        except OSError as exc:
            raise RuntimeError("anchor file not written") from exc
    except RuntimeError as wrapped:
        assert is_disk_full(wrapped, db)
    assert is_disk_full(sqlite3.OperationalError("database or disk is full"), db)
    assert not is_disk_full(sqlite3.OperationalError("disk I/O error"), db)  # there is room here
    looped = RuntimeError("a")
    looped.__context__ = looped
    assert not is_disk_full(looped, db)
    translated = translate_sqlite_error(full, db)
    assert isinstance(translated, DiskFullError) and translated.space is not None
    assert translated.space.folder == tmp_path
