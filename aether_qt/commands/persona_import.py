"""``aether persona import CARD [--out FILE] [--json]``: a character card as a new untrusted persona.

The card (SillyTavern V1/V2/V3 JSON, or a PNG with the card in a ``ccv3`` or
``chara`` text chunk) is parsed as data and written as a YAML persona that
proposes only the Observer preset (DESIGN.md §5, §10). A malformed card exits
1 with ``aether: FILE: problem`` and writes nothing.

By default the persona goes into the home's persona folder
(``<data>/personas/<id>.yaml``, the app's own data: no gate; so does an
``--out`` inside the data folder). Any other ``--out`` is a file the user
chose, so the write is a gated action like ``aether audit export``:
``persona.import`` and then ``files.create`` are evaluated for the path, the
user typing the command is the approval (``allow_once``), and the file is
written by :meth:`Effectors.create_file`. The ``persona.import`` permit
is spent when the import is performed, so no unused grant is left behind.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from aether_qt.commands.output import emit_json, fail
from aether_qt.commands.session import CommandError, policy_runtime, user_allow
from aether_qt.core.paths import resolve_paths
from aether_qt.engines.persona.cards import CardError
from aether_qt.engines.persona.cards_import import ImportResult, WriteOut, import_card, write_new_file
from aether_qt.engines.persona.registry import user_personas_dir
from aether_qt.policy.contracts import PermitError
from aether_qt.policy.decisions import Permit
from aether_qt.policy.effect_types import EffectError, canonical_path, inside_roots
from aether_qt.policy.runtime import PolicyRuntime

EXIT_BAD_CARD = 1


def result_dict(result: ImportResult) -> dict[str, Any]:
    """An import result as plain data for ``--json``."""
    return {
        "id": result.persona_id,
        "name": result.name,
        "path": str(result.path),
        "spec": result.spec,
        "container": result.container,
        "trust": result.trust,
        "trusted": False,
        "preset": result.preset,
        "overrides": {},
        "dropped": list(result.dropped),
        "notes": list(result.notes),
    }


def import_(args: argparse.Namespace) -> int:
    """Import ``args.card``; print the new persona's id, path, what was dropped and its trust."""
    paths = resolve_paths(getattr(args, "home", None)).ensure()
    card = Path(args.card).expanduser()
    out = Path(args.out).expanduser().absolute() if getattr(args, "out", None) else None
    own_roots = [canonical_path(paths.data_dir)]
    own_data = out is not None and inside_roots(canonical_path(out), own_roots)
    try:
        result = import_card(
            card,
            personas_dir=user_personas_dir(paths.data_dir),
            out=out,
            write_out=_own_writer(paths.data_dir) if own_data else _gated_writer(args),
        )
    except CardError as exc:
        return fail(f"not imported: {exc}", EXIT_BAD_CARD)
    except CommandError as exc:
        return fail(str(exc), exc.code)
    except OSError as exc:
        return fail(f"not imported: cannot write the persona: {exc.strerror or exc}")
    if getattr(args, "json", False):
        emit_json(result_dict(result))
        return 0
    sys.stdout.write(f"imported {result.persona_id} ({result.name}) from a {result.spec} card\n")
    sys.stdout.write(f"wrote {result.path}\n")
    sys.stdout.write(f"trust: {result.trust}; policy: {result.preset} preset, no overrides\n")
    for item in result.dropped:
        sys.stdout.write(f"dropped: {item}\n")
    for note in result.notes:
        sys.stdout.write(f"cut: {note}\n")
    if out is None:
        sys.stdout.write(f"use it with: aether persona use {result.persona_id}\n")
    return 0


def _own_writer(data_dir: Path) -> WriteOut:
    """``--out`` inside the data folder: written like the persona folder, never overwriting."""

    def write(path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not write_new_file(path, text, root=data_dir):
            raise CommandError(f"not imported: {path} already exists")
        return path

    return write


def _gated_writer(args: argparse.Namespace) -> WriteOut:
    """A ``write_out`` that opens the policy runtime and writes through the gate and an effector."""

    def write(path: Path, text: str) -> Path:
        if path.exists() or path.is_symlink():  # say so before asking the gate for anything
            raise CommandError(f"not imported: {path} already exists")
        with policy_runtime(args) as rt:
            import_permit = _approved(rt, "persona.import", path)
            create_permit = _approved(rt, "files.create", path)
            try:
                rt.gate.redeem(import_permit, "persona.import", str(path))  # the import is performed now
                return rt.effectors.create_file(create_permit, path, text)
            except (EffectError, PermitError) as exc:
                raise CommandError(f"not imported: {exc}") from None

    return write


def _approved(rt: PolicyRuntime, capability: str, path: Path) -> Permit:
    """Evaluate ``capability`` on ``path`` for the user; answer an Ask with allow_once; the permit."""
    return user_allow(rt, capability, str(path), f"not imported: {capability}").permit
