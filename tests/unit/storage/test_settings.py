"""Tests for aether_qt/storage/settings.py over a real, migrated database."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import peewee
import pytest

from aether_qt.storage.errors import DiskFullError, StorageError
from aether_qt.storage.settings import JSONValue, SecretSettingError, SettingsStore

OpenDb = Callable[..., peewee.SqliteDatabase]


@pytest.fixture
def db(open_db: OpenDb) -> peewee.SqliteDatabase:
    return open_db()


@pytest.fixture
def store(db: peewee.SqliteDatabase, clock: Any) -> SettingsStore:
    return SettingsStore(database=db, clock_ms=clock)


@pytest.mark.parametrize(
    "value",
    [None, True, 0, -7, 2.5, "dark", "", [1, "two", None], {"a": {"b": [True, 1.5]}}],
)
def test_round_trip_of_json_values(store: SettingsStore, value: JSONValue) -> None:
    store.set("ui.value", value)

    assert store.get("ui.value", "default") == value


def test_missing_key_gives_the_default(store: SettingsStore) -> None:
    assert store.get("nope") is None
    assert store.get("nope", 5) == 5
    assert store.get_as("nope", str, "light") == "light"


def test_overwrite_updates_value_and_timestamp(
    store: SettingsStore, db: peewee.SqliteDatabase, clock: Any
) -> None:
    store.set("ui.theme", "dark")
    clock.advance(1000)
    store.set("ui.theme", "light")

    rows = db.connection().execute("SELECT key, value, updated_at_ms FROM settings").fetchall()
    assert rows == [("ui.theme", '"light"', clock())]


def test_values_survive_reopening(open_db: OpenDb, tmp_path: Any) -> None:
    path = tmp_path / "persist.db"
    first = open_db(path)
    SettingsStore(database=first).set("voice.rate", 1.25)
    first.close()

    second = open_db(path)

    assert SettingsStore(database=second).get_as("voice.rate", float, 1.0) == 1.25


def test_get_as_checks_the_type(store: SettingsStore, caplog: pytest.LogCaptureFixture) -> None:
    store.set("count", 3)
    store.set("flag", True)
    store.set("name", "aether")
    store.set("nothing", None)

    assert store.get_as("count", int, 0) == 3
    assert store.get_as("count", float, 0.0) == 3.0
    assert isinstance(store.get_as("count", float, 0.0), float)
    assert store.get_as("flag", bool, False) is True
    assert store.get_as("nothing", str, "dflt") == "dflt"
    with caplog.at_level(logging.WARNING, logger="aether_qt.storage.settings"):
        assert store.get_as("flag", int, 9) == 9  # a bool is not an int here
        assert store.get_as("name", int, 4) == 4
    assert len(caplog.records) == 2
    assert "expected int" in caplog.records[1].getMessage()


def test_invalid_json_in_the_table_falls_back_with_a_warning(
    store: SettingsStore, db: peewee.SqliteDatabase, caplog: pytest.LogCaptureFixture
) -> None:
    db.connection().execute("INSERT INTO settings VALUES ('hand.edited', '{oops', 0)")

    with caplog.at_level(logging.WARNING, logger="aether_qt.storage.settings"):
        assert store.get("hand.edited", "safe") == "safe"

    assert "invalid JSON" in caplog.text


def test_delete_and_keys(store: SettingsStore) -> None:
    store.set("b", 1)
    store.set("a", 2)

    assert store.keys() == ["a", "b"]
    assert store.delete("a") is True
    assert store.delete("a") is False
    assert store.keys() == ["b"]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("", 1),
        ("x", float("nan")),
        ("x", {1, 2}),
        ("x", object()),
    ],
)
def test_non_json_values_and_empty_keys_are_refused(store: SettingsStore, key: str, value: Any) -> None:
    with pytest.raises(ValueError):  # several distinct messages
        store.set(key, value)

    assert store.keys() == []


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("router.openai.api_key", "sk-123"),
        ("password", "hunter2"),
        ("router", {"provider": {"token": "abc"}}),
        ("accounts", [{"name": "x", "secret": "y"}]),
    ],
)
def test_secrets_are_refused(store: SettingsStore, key: str, value: JSONValue) -> None:
    with pytest.raises(SecretSettingError, match="keyring") as caught:
        store.set(key, value)

    assert "sk-123" not in str(caught.value) and "hunter2" not in str(caught.value)
    assert store.keys() == []


def test_names_that_only_resemble_secrets_are_fine(store: SettingsStore) -> None:
    store.set("media.hotkey", "ctrl+space")
    store.set("router.limits", {"max_tokens": 256, "key_id": "k1"})

    assert store.get("media.hotkey") == "ctrl+space"


def test_disk_full_becomes_a_typed_error(store: SettingsStore, db: peewee.SqliteDatabase) -> None:
    conn = db.connection()
    conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")

    with pytest.raises(DiskFullError):
        store.set("big", "x" * 200_000)


def test_database_errors_become_storage_errors(store: SettingsStore, db: peewee.SqliteDatabase) -> None:
    db.connection().execute("DROP TABLE settings")

    for call in (lambda: store.get("a"), lambda: store.keys(), lambda: store.delete("a")):
        with pytest.raises(StorageError, match="no such table"):
            call()
