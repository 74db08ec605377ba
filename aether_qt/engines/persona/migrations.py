"""Persona schema migrations: a registry of one-step upgrades to the current version.

Each entry of :data:`MIGRATIONS` takes a document of version *n* (plain data,
before validation) and returns one of version *n + 1*. :func:`migrate` applies
them in order until :data:`CURRENT_SCHEMA_VERSION`. A file newer than this app
is refused with a located error instead of being half-understood.

Version 1 is the first published schema; version 0 is a *synthetic* draft
(``voice.speed`` as a multiplier instead of ``voice.rate`` in words per minute)
kept so the mechanism is exercised by the tests before a real version 2 exists.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

from aether_qt.engines.persona.errors import PersonaError, SourceMarks

CURRENT_SCHEMA_VERSION: Final = 1

Migrator = Callable[[dict[str, Any]], dict[str, Any]]

_BASE_RATE: Final = 175  # words per minute of espeak-ng at speed 1.0


def _v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Version 0 -> 1: ``voice.speed`` (multiplier of 175 wpm) became ``voice.rate`` (wpm)."""
    voice = data.get("voice")
    if isinstance(voice, dict) and "speed" in voice:
        speed = voice.pop("speed")
        if isinstance(speed, int | float) and not isinstance(speed, bool) and math.isfinite(speed):
            voice.setdefault("rate", round(_BASE_RATE * speed))
        else:
            voice["rate"] = speed  # let validation report the bad value at voice.rate
    data["schema_version"] = 1
    return data


MIGRATIONS: Final[Mapping[int, Migrator]] = MappingProxyType({0: _v0_to_v1})
"""from_version -> a function upgrading a document to from_version + 1."""


def migrate(
    data: Mapping[str, Any],
    *,
    path: str = "<string>",
    marks: SourceMarks | None = None,
    migrations: Mapping[int, Migrator] = MIGRATIONS,
    current: int = CURRENT_SCHEMA_VERSION,
) -> dict[str, Any]:
    """Return a copy of ``data`` upgraded to ``current`` (``data`` itself is not changed).

    A document without ``schema_version`` is returned unchanged: validation reports
    the missing key with the others.

    Raises:
        PersonaError: the version is not a whole number, is newer than ``current``, or
            no migration leads from it (located at the ``schema_version`` value).
    """
    result = copy.deepcopy(dict(data))
    if "schema_version" not in result:
        return result
    mark = (marks or SourceMarks()).value(("schema_version",))
    version = result["schema_version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise PersonaError.at(path, mark, f"schema_version: expected a whole number, got {version!r}")
    if version > current:
        raise PersonaError.at(path, mark, f"schema_version {version} is newer than this app ({current})")
    while version < current:
        step = migrations.get(version)
        if step is None:
            oldest = min(migrations, default=current)
            raise PersonaError.at(path, mark, f"schema_version {version} is not supported (oldest: {oldest})")
        result = step(result)
        version += 1
        result["schema_version"] = version
    return result
