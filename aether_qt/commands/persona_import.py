"""``aether persona import CARD [--out FILE] [--json]``: a character card as a new untrusted persona.

The card (SillyTavern V1/V2/V3 JSON, or a PNG with the card in a ``ccv3`` or
``chara`` text chunk) is parsed as data and written as a YAML persona that
proposes only the Observer preset (DESIGN.md §5, §10). A malformed card exits
1 with ``aether: FILE: problem`` and writes nothing, before the gate is asked.

Every import is the gated, audited act ``persona.import`` on ``persona:<id>``,
wherever it writes: the user typing the command is the approval of an Ask
(``allow_once``, as for ``aether audit export``), and a refusal (Observer:
``needs_upgrade``) exits 1 with ``aether: not imported: persona.import
refused: ...`` and writes nothing. The permit is spent as the persona is
written. By default the persona goes into the home's persona folder
(``<data>/personas/<id>.yaml``, the app's own data, written directly; so does
an ``--out`` inside the data folder). Any other ``--out`` is a file the user
chose, so writing it is also ``files.create`` on that path, performed by
:meth:`Effectors.create_file` (inside the approved folders only).
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
from aether_qt.engines.persona.cards_import import (
    Approve,
    ImportResult,
    WriteOut,
    import_card,
    prepare_import,
    write_new_file,
)
from aether_qt.engines.persona.registry import user_personas_dir
from aether_qt.policy.contracts import PermitError
from aether_qt.policy.decisions import Permit
from aether_qt.policy.effect_types import EffectError, canonical_path, inside_roots
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.gate.user_acts import USER

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
    personas_dir = user_personas_dir(paths.data_dir)
    try:
        prepare_import(card, personas_dir=personas_dir)  # a bad card fails before the gate is asked
        with policy_runtime(args) as rt:
            result = import_card(
                card,
                personas_dir=personas_dir,
                approve=_approver(rt),
                out=out,
                write_out=_own_writer(paths.data_dir) if own_data else _gated_writer(rt),
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


def _approver(rt: PolicyRuntime) -> Approve:
    """An ``approve`` that asks the gate for ``persona.import`` as the user and spends the permit."""

    def approve(persona_id: str) -> None:
        resource = f"persona:{persona_id}"
        permit = _approved(rt, "persona.import", resource)
        try:
            rt.gate.redeem(permit, "persona.import", resource, persona=USER)  # the import is performed now
        except PermitError as exc:
            raise CommandError(f"not imported: {exc}") from None

    return approve


def _gated_writer(rt: PolicyRuntime) -> WriteOut:
    """A ``write_out`` for a file the user chose: ``files.create`` through the gate and an effector."""

    def write(path: Path, text: str) -> Path:
        if path.exists() or path.is_symlink():  # say so before asking the gate for anything
            raise CommandError(f"not imported: {path} already exists")
        create_permit = _approved(rt, "files.create", str(path))
        try:
            return rt.effectors.create_file(create_permit, path, text)
        except (EffectError, PermitError) as exc:
            raise CommandError(f"not imported: {exc}") from None

    return write


def _approved(rt: PolicyRuntime, capability: str, resource: str) -> Permit:
    """Evaluate ``capability`` on ``resource`` for the user; answer an Ask with allow_once; the permit."""
    return user_allow(rt, capability, resource, f"not imported: {capability}").permit
