"""``aether models list|add``: the local models Aether can use.

``list`` prepares the bundled default model first (a one-time copy into the
home's model folder, see :mod:`aether_qt.engines.router.models`), so its
hashes are always shown. ``add PATH`` registers a user's GGUF by reference
after checking that it is a complete GGUF file.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from aether_qt.commands.output import emit_json, emit_table, fail
from aether_qt.core.generation import ModelInfo
from aether_qt.core.paths import resolve_paths

EXIT_BAD_MODEL = 2


def model_dict(info: ModelInfo) -> dict[str, Any]:
    """A model as plain data for ``--json``."""
    data: dict[str, Any] = {
        "id": info.model_id,
        "source": info.source,
        "path": info.path,
        "size": info.size_bytes,
        "sha256": info.sha256,
        "notes": list(info.notes),
    }
    if info.source == "bundled":
        data["source_sha256"] = info.source_sha256
    return data


def list_(args: argparse.Namespace) -> int:
    """``aether models list [--json]``: id, source, path, size and hashes of every model."""
    from aether_qt.engines.router.models import ModelFileError, list_models, prepare_bundled

    models_dir = resolve_paths(args.home).ensure().models_dir
    problem = ""
    try:
        prepare_bundled(models_dir)
    except (ModelFileError, OSError) as exc:
        problem = f"bundled model unavailable: {exc}"
    try:
        found = list_models(models_dir)
    except ModelFileError as exc:
        return fail(str(exc))
    if getattr(args, "json", False):
        emit_json({"models": [model_dict(m) for m in found], "problem": problem})
        return 0
    rows = [{**model_dict(m), "sha256": m.sha256[:16], "source_sha256": m.source_sha256[:16]} for m in found]
    emit_table(rows, ["id", "source", "size", "sha256", "source_sha256", "path"])
    if problem:
        sys.stderr.write(f"aether: {problem}\n")
    return 0


def add(args: argparse.Namespace) -> int:
    """``aether models add PATH [--json]``: validate a GGUF and register it (by reference)."""
    from aether_qt.engines.router.models import ModelFileError, add_model

    models_dir = resolve_paths(args.home).ensure().models_dir
    try:
        info = add_model(args.path, models_dir)
    except ModelFileError as exc:
        return fail(f"not added: {exc}", EXIT_BAD_MODEL)
    except OSError as exc:
        return fail(f"not added: {args.path}: {exc.strerror or exc}")
    if getattr(args, "json", False):
        emit_json(model_dict(info))
        return 0
    sys.stdout.write(f"added {info.model_id}: {info.path} ({info.size_bytes} bytes, sha256 {info.sha256})\n")
    return 0


def use(args: argparse.Namespace) -> int:
    """``aether models use ID``: answer with this registered model from the next start on."""
    from aether_qt.commands.session import app_database
    from aether_qt.companion import SETTING_MODEL
    from aether_qt.engines.router.models import find_model
    from aether_qt.storage.errors import StorageError
    from aether_qt.storage.settings import SettingsStore

    paths = resolve_paths(args.home).ensure()
    if find_model(paths.models_dir, args.model_id) is None:
        return fail(f"no model {args.model_id!r} is registered; see `aether models list`")
    try:
        with app_database(paths, allow_key_file=getattr(args, "allow_key_file", False)) as db:
            SettingsStore(database=db).set(SETTING_MODEL, args.model_id)
    except StorageError as exc:
        return fail(str(exc), EXIT_BAD_MODEL)
    sys.stdout.write(f"Aether will answer with {args.model_id} from its next start.\n")
    return 0
