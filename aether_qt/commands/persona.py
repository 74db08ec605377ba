"""``aether persona list|check|use``: personas from the command line (DESIGN.md §10, §12).

``check FILE`` is the strict loader and compiler on one file: exit 0 with a
summary and every clamp, or exit 1 with every located error as
``path:line:col: reason``. ``use ID`` stores the active persona in the
settings table; a running app swaps to it at the next turn boundary.
(``import CARD`` lives in :mod:`aether_qt.commands.persona_import`.)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from aether_qt.commands.output import emit_json, emit_table, fail
from aether_qt.core.paths import AppPaths, resolve_paths
from aether_qt.engines.persona.compiled import CompiledPersona
from aether_qt.engines.persona.compiler import load_and_compile
from aether_qt.engines.persona.errors import PersonaError
from aether_qt.engines.persona.registry import (
    ACTIVE_SETTING,
    DEFAULT_PERSONA_ID,
    PersonaEntry,
    find_entry,
    list_personas,
    user_personas_dir,
)

EXIT_INVALID = 1
EXIT_STORAGE = 2


def clamp_lines(persona: CompiledPersona) -> list[str]:
    """``clamp: CAP requested -> granted (reason)`` for every widening the compiler refused."""
    return [
        f"clamp: {c.capability} {c.requested.value} -> {c.granted.value} ({c.reason})"
        for c in persona.policy.clamps
    ]


def persona_dict(persona: CompiledPersona) -> dict[str, Any]:
    """The summary, policy and hash of a compiled persona as plain data."""
    s = persona.summary
    return {
        "id": persona.persona_id,
        "name": s.name,
        "tagline": s.tagline,
        "version": s.version,
        "author": s.author,
        "license": s.license,
        "source": s.source,
        "trusted": s.trusted,
        "schema_version": persona.schema_version,
        "preset": persona.policy.preset.value,
        "overrides": {cap: mode.value for cap, mode in persona.policy.overrides.items()},
        "clamps": [
            {
                "capability": c.capability,
                "requested": c.requested.value,
                "granted": c.granted.value,
                "reason": c.reason,
            }
            for c in persona.policy.clamps
        ],
        "content_hash": persona.content_hash,
    }


def _error_lines(error: PersonaError) -> list[str]:
    return [str(e) for e in error.errors]


def _paths(args: argparse.Namespace) -> AppPaths:
    return resolve_paths(getattr(args, "home", None)).ensure()


def _active_id(paths: AppPaths) -> tuple[str, str]:
    """(active persona id, problem text or "") read from the settings table."""
    from aether_qt.commands.session import app_database
    from aether_qt.storage.errors import StorageError
    from aether_qt.storage.settings import SettingsStore

    if not paths.app_db.exists():  # listing never creates the database (nor mints its key)
        return DEFAULT_PERSONA_ID, ""
    try:
        with app_database(paths) as db:
            return SettingsStore(database=db).get_as(ACTIVE_SETTING, str, DEFAULT_PERSONA_ID), ""
    except StorageError as exc:
        return DEFAULT_PERSONA_ID, f"settings unavailable: {exc}"


def _entry_row(entry: PersonaEntry, active: PersonaEntry | None) -> dict[str, Any]:
    summary = entry.summary
    return {
        "active": entry is active,
        "id": entry.persona_id,
        "name": summary.name if summary else "",
        "source": entry.origin,
        "trusted": summary.trusted if summary else False,
        "status": "ok" if entry.error is None else "error",
        "error": _error_lines(entry.error)[0] if entry.error else "",
        "path": str(entry.path),
    }


def list_(args: argparse.Namespace) -> int:
    """``aether persona list [--json]``: every persona file, its status and which one is active."""
    paths = _paths(args)
    entries = list_personas(user_personas_dir(paths.data_dir))
    active_id, problem = _active_id(paths)
    active = next((e for e in entries if e.ok and e.persona_id == active_id), None)
    rows = [_entry_row(e, active) for e in entries]
    if getattr(args, "json", False):
        emit_json({"active": active_id, "personas": rows, "problem": problem})
        return 0
    for row in rows:
        row["active"] = "*" if row["active"] else ""
        row["trusted"] = "yes" if row["trusted"] else "no"
    emit_table(rows, ["active", "id", "name", "source", "trusted", "status", "path"])
    for row in rows:
        if row["error"]:
            sys.stdout.write(f"{row['error']}\n")
    if active is None:
        sys.stderr.write(
            f"aether: active persona {active_id!r} is missing or broken; the app uses the fallback\n"
        )
    if problem:
        sys.stderr.write(f"aether: {problem}\n")
    return 0


def check(args: argparse.Namespace) -> int:
    """``aether persona check FILE [--json]``: exit 0 if it compiles, 1 with every located error."""
    try:
        persona = load_and_compile(Path(args.file))
    except PersonaError as exc:
        if getattr(args, "json", False):
            emit_json({"ok": False, "errors": [e.as_dict() for e in exc.errors]})
        else:
            sys.stdout.write("".join(f"{line}\n" for line in _error_lines(exc)))
        return EXIT_INVALID
    if getattr(args, "json", False):
        emit_json({"ok": True, "path": str(args.file), **persona_dict(persona)})
        return 0
    s = persona.summary
    trust = "trusted" if s.trusted else "untrusted (measured against Observer)"
    sys.stdout.write(
        f"ok: {args.file}: {s.name} ({persona.persona_id}) {s.version}, schema {persona.schema_version}, "
        f"{trust}, preset {persona.policy.preset.value}, sha256 {persona.content_hash}\n"
    )
    sys.stdout.write("".join(f"{line}\n" for line in clamp_lines(persona)))
    return 0


def use(args: argparse.Namespace) -> int:
    """``aether persona use ID``: make a persona active (it must exist and compile)."""
    from aether_qt.commands.session import app_database
    from aether_qt.storage.errors import StorageError
    from aether_qt.storage.settings import SettingsStore

    paths = _paths(args)
    entry = find_entry(args.persona_id, user_personas_dir(paths.data_dir))
    if entry is None:
        return fail(f"no persona {args.persona_id!r}; see `aether persona list`")
    if entry.persona is None:
        assert entry.error is not None
        sys.stdout.write("".join(f"{line}\n" for line in _error_lines(entry.error)))
        return fail(f"persona {args.persona_id!r} does not compile; not activated")
    try:
        with app_database(paths, allow_key_file=getattr(args, "allow_key_file", False)) as db:
            SettingsStore(database=db).set(ACTIVE_SETTING, entry.persona_id)
    except StorageError as exc:
        return fail(str(exc), EXIT_STORAGE)
    persona = entry.persona
    sys.stdout.write(
        f"active persona: {persona.summary.name} ({persona.persona_id}) from {entry.path}\n"
        "A running Aether switches at the next turn boundary; otherwise at its next start.\n"
    )
    sys.stdout.write("".join(f"{line}\n" for line in clamp_lines(persona)))
    return 0
