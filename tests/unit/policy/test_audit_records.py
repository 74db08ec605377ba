"""Row forms (aether_qt/policy/audit_records.py): the bytes hashed into the chain, from a tuple or record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from audit_support import entry, random_keys

from aether_qt.policy.audit_anchor import AnchorStore
from aether_qt.policy.audit_chain import AuditLog
from aether_qt.policy.audit_records import (
    COLUMNS,
    content_bytes,
    content_bytes_from_db,
    record_from_db,
    record_from_row,
    row_from_record,
)
from aether_qt.policy.audit_verify import db_rows, open_readonly
from aether_qt.policy.contracts import FakeClock


@pytest.fixture
def stored(tmp_path: Path) -> tuple[Any, ...]:
    """One row as the database holds it: JSON columns as canonical text."""
    log = AuditLog.open(
        tmp_path / "audit.db",
        keys=random_keys(),
        anchor_store=AnchorStore(anchor_file=tmp_path / "anchor.json", keystore=None),
        clock=FakeClock(),
    )
    log.append(entry(1, quote='"\\</script>', emoji="🦉", control="\x00\x1f"))
    log.close()
    conn = open_readonly(log.path)
    try:
        [row] = db_rows(conn)
        return tuple(row)
    finally:
        conn.close()


def test_the_fast_path_hashes_the_same_bytes_as_the_record(stored: tuple[Any, ...]) -> None:
    record = record_from_db(stored, strict=True)
    assert content_bytes_from_db(stored) == content_bytes(record)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("seq", "1", "an integer column"),
        ("ts_wall_ms", 1.5, "an integer column"),
        ("ts_mono_ns", None, "an integer column"),
        ("stage_trace", b"[]", "a JSON column"),
        ("detail", 7, "a JSON column"),
        ("actor", 7, "a text column"),
        ("resource", None, "a text column"),
    ],
)
def test_a_column_of_the_wrong_type_is_refused(
    stored: tuple[Any, ...], column: str, value: Any, message: str
) -> None:
    values = list(stored)
    values[COLUMNS.index(column)] = value
    with pytest.raises(ValueError, match=message):
        content_bytes_from_db(values)


def test_strict_reading_refuses_json_that_is_not_canonical(stored: tuple[Any, ...]) -> None:
    values = list(stored)
    index = COLUMNS.index("detail")
    values[index] = values[index].replace(",", ", ")  # the same JSON value, re-spaced
    assert record_from_db(tuple(values)) == record_from_db(stored)
    with pytest.raises(ValueError, match="detail is not canonical JSON"):
        record_from_db(tuple(values), strict=True)
    assert content_bytes_from_db(values) != content_bytes_from_db(stored)  # hence another hash


def test_a_row_survives_the_round_trip_through_a_record(stored: tuple[Any, ...]) -> None:
    row = row_from_record(record_from_db(stored))
    assert isinstance(row.stage_trace, tuple)
    assert row_from_record(record_from_row(row)) == row
    assert content_bytes(record_from_row(row)) == content_bytes_from_db(stored)
