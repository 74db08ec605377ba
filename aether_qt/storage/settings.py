"""A small typed key/value store over the ``settings`` table (``db/0001_init.sql``).

Values are JSON (``None``, bool, number, string, list, object). Secrets never
belong here: keys named like one (``api_key``, ``token``, ``password`` ...)
are refused, at any depth, and the error tells the caller to use the keyring.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias, TypeVar

import peewee

from aether_qt.core.events import looks_secret
from aether_qt.storage.cipher import DB_ERRORS
from aether_qt.storage.errors import StorageError, translate_sqlite_error

JSONValue: TypeAlias = "bool | int | float | str | list[JSONValue] | dict[str, JSONValue] | None"

_SettingT = TypeVar("_SettingT", bool, int, float, str, list[JSONValue], dict[str, JSONValue])

log = logging.getLogger(__name__)


class SecretSettingError(ValueError):
    """A setting key looked like a secret; secrets live in the keyring."""


def _wall_ms() -> int:
    """Wall-clock milliseconds for ``updated_at_ms``."""
    return time.time_ns() // 1_000_000


def _secret_keys(value: object, prefix: str) -> list[str]:
    """Dotted paths of object keys in ``value`` that look like secrets.

    Walked with a stack, not recursion: a value nested deeper than the
    recursion limit is refused by ``json.dumps`` with a clear error, not here.
    """
    found: list[str] = []
    pending: list[tuple[object, str]] = [(value, prefix)]
    while pending:
        item, where = pending.pop()
        if isinstance(item, dict):
            for name, inner in item.items():
                path = f"{where}.{name}"
                if looks_secret(str(name)):
                    found.append(path)
                pending.append((inner, path))
        elif isinstance(item, list):
            pending.extend((inner, where) for inner in reversed(item))
    return found


class SettingsStore:
    """Typed JSON settings persisted in the app database.

    Example::

        store = SettingsStore(database=db)
        store.set("ui.theme", "dark")
        theme = store.get_as("ui.theme", str, "light")
    """

    def __init__(self, *, database: peewee.SqliteDatabase, clock_ms: Callable[[], int] = _wall_ms) -> None:
        """Bind the store to an open, migrated ``database``."""
        self._db = database
        self._path = Path(str(database.database))
        self._clock_ms = clock_ms
        self._table = peewee.Table("settings").bind(database)
        self._key = peewee.Column(self._table, "key")
        self._value = peewee.Column(self._table, "value")
        self._updated = peewee.Column(self._table, "updated_at_ms")

    def _fail(self, exc: BaseException) -> StorageError:
        """Translate a database error into a typed storage error."""
        return translate_sqlite_error(exc, self._path)

    def _raw(self, key: str) -> str | None:
        """The stored JSON text for ``key``, or ``None``."""
        query = self._table.select(self._value).where(self._key == key).tuples()
        try:
            rows = list(query.execute())
        except DB_ERRORS as exc:
            raise self._fail(exc) from exc
        return str(rows[0][0]) if rows else None

    def get(self, key: str, default: JSONValue = None) -> JSONValue:
        """The value of ``key``, or ``default`` when unset or unreadable (bad or too deep JSON, logged)."""
        text = self._raw(key)
        if text is None:
            return default
        try:
            value: JSONValue = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than any setting is
            log.warning("setting %r holds invalid JSON; using the default", key)
            return default
        return value

    def get_as(self, key: str, kind: type[_SettingT], default: _SettingT) -> _SettingT:
        """The value of ``key`` if it has type ``kind``, else ``default`` (mismatch logged).

        ``bool`` is not accepted where ``int`` or ``float`` is asked for; an
        ``int`` is accepted (and converted) where ``float`` is.
        """
        value = self.get(key, None)
        if value is None:
            return default
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)  # type: ignore[return-value]
        if isinstance(value, kind) and not (isinstance(value, bool) and kind is not bool):
            return value
        found = type(value).__name__
        log.warning("setting %r is a %s, expected %s; using the default", key, found, kind.__name__)
        return default

    def set(self, key: str, value: JSONValue) -> None:
        """Store ``value`` under ``key``.

        Raises:
            ValueError: empty key, or ``value`` is not JSON (NaN, a set, an object, nested too deeply ...).
            SecretSettingError: the key, or a key inside ``value``, names a secret.
            StorageError: the database refused the write (full, locked ...).
        """
        if not key:
            raise ValueError("a setting needs a non-empty key")
        secrets = ([key] if looks_secret(key.rsplit(".", 1)[-1]) else []) + _secret_keys(value, key)
        if secrets:
            raise SecretSettingError(f"refusing to store secret-like setting(s) {secrets}; use the keyring")
        try:
            text = json.dumps(value, allow_nan=False, sort_keys=True, separators=(",", ":"))
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValueError(f"setting {key!r} is not a JSON value: {exc}") from exc
        now = self._clock_ms()
        query = self._table.insert({self._key: key, self._value: text, self._updated: now}).on_conflict(
            conflict_target=[self._key],
            update={self._value: text, self._updated: now},
        )
        try:
            query.execute()
        except DB_ERRORS as exc:
            raise self._fail(exc) from exc

    def delete(self, key: str) -> bool:
        """Remove ``key``; returns whether it existed."""
        try:
            removed = self._table.delete().where(self._key == key).execute()
        except DB_ERRORS as exc:
            raise self._fail(exc) from exc
        return bool(removed)

    def keys(self) -> list[str]:
        """Every stored key, sorted."""
        query = self._table.select(self._key).order_by(self._key).tuples()
        try:
            return [str(row[0]) for row in query.execute()]
        except DB_ERRORS as exc:
            raise self._fail(exc) from exc
