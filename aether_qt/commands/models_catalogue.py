"""``aether models catalogue`` and ``aether models fetch NAME`` for the GGUF chat models.

``catalogue`` lists the known models with their pinned hash, where that hash
was published, and how each fits this machine (memory, estimated speed), with
one recommendation (:mod:`aether_qt.engines.router.catalogue`).

Fetching one is the gated side effect ``model.download`` (the user typed the
command: an Ask is answered "allow once" on their behalf and audited; the
permit names the destination in ``<data>/models/gguf``).
:meth:`Effectors.download` streams to a ``.part`` file, resumes it after an
interruption and renames it into place only when the SHA-256 is the pinned
one; the file is then registered like ``aether models add`` (header checked,
hash checked once more) and can be chosen with ``aether models use``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from aether_qt.commands.output import emit_json, emit_table, fail
from aether_qt.engines.router.catalogue import (
    CatalogueError,
    CatalogueModel,
    Fit,
    fit,
    load_catalogue,
    probe_machine,
    recommend,
)

EXIT_BAD_MODEL = 2


def _fit_dict(f: Fit) -> dict[str, Any]:
    m = f.model
    return {
        "name": m.name,
        "title": m.title,
        "params": m.params,
        "arch": m.arch,
        "size": m.size_bytes,
        "licence": m.licence,
        "chat_template": m.chat_template,
        "url": m.url,
        "sha256": m.sha256,
        "hash_source": {
            "repo": m.hash_source.repo,
            "path": m.hash_source.path,
            "commit": m.hash_source.commit,
        },
        "min_ram": f.min_ram,
        "memory": f.memory,
        "tokens_per_s_estimate": f.tokens_per_s,
        "speed": f.speed,
    }


def catalogue(args: argparse.Namespace) -> int:
    """``aether models catalogue [--json]``: known GGUF chat models, fit marks and a recommendation."""
    try:
        models = load_catalogue()
    except CatalogueError as exc:
        return fail(str(exc))
    machine = probe_machine()
    fits = [fit(m, machine) for m in models]
    best = recommend(fits)
    if getattr(args, "json", False):
        emit_json(
            {
                "machine": {
                    "ram_total": machine.ram_total,
                    "ram_available": machine.ram_available,
                    "cores": machine.cores,
                },
                "models": [_fit_dict(f) for f in fits],
                "recommended": best.model.name if best else None,
            }
        )
        return 0
    rows = [
        {
            "name": ("* " if f is best else "  ") + f.model.name,
            "size": f"{f.model.size_bytes / 1e9:.1f} GB",
            "ram": f"{f.min_ram / 1e9:.1f} GB",
            "memory": f.memory,
            "speed": f"{f.speed} (~{f.tokens_per_s} tok/s)",
            "licence": f.model.licence,
            "sha256": f.model.sha256[:16],
        }
        for f in fits
    ]
    emit_table(rows, ["name", "size", "ram", "memory", "speed", "licence", "sha256"])
    sys.stdout.write(
        f"this machine: {machine.ram_total / 1e9:.1f} GB RAM ({machine.ram_available / 1e9:.1f} GB free), "
        f"{machine.cores} cores; speeds are estimates\n"
    )
    if best:
        sys.stdout.write(f"recommended: {best.model.name} (aether models fetch {best.model.name})\n")
    else:
        sys.stdout.write("recommended: none fits; the bundled model stays the best choice here\n")
    return 0


def fetch_gguf(args: argparse.Namespace, spec: CatalogueModel, progress: Any) -> int:
    """Download, verify and register the catalogue model ``spec`` (``aether models fetch NAME``)."""
    from aether_qt.commands.session import CommandError, policy_runtime, user_allow
    from aether_qt.engines.router.models import ModelFileError, add_model
    from aether_qt.policy.effect_types import EffectError

    if args.url and not args.sha256:
        return fail("--url needs --sha256: a download is only used when its hash is pinned", 2)
    url, sha256 = args.url or spec.url, (args.sha256 or spec.sha256).lower()
    try:
        with policy_runtime(args) as rt:
            models_dir = rt.paths.models_dir
            dest = models_dir / "gguf" / spec.file
            decision = user_allow(rt, "model.download", url, "download", target=str(dest))
            dest.parent.mkdir(parents=True, exist_ok=True)
            path = rt.effectors.download(decision.permit, url, dest, sha256=sha256, progress=progress)
        info = add_model(
            path,
            models_dir,
            source="catalogue",
            expected_sha256=sha256,
            notes=(f"catalogue: {spec.name}", f"sha256 pinned from {spec.hash_source}"),
        )
    except CommandError as exc:
        return fail(str(exc), exc.code)
    except ModelFileError as exc:
        return fail(f"not added: {exc}", EXIT_BAD_MODEL)
    except (EffectError, ValueError) as exc:
        return fail(f"not fetched: {exc}")
    result = {
        "name": spec.name,
        "url": url,
        "sha256": sha256,
        "id": info.model_id,
        "path": info.path,
        "size": info.size_bytes,
        "audit_id": decision.audit_id,
    }
    if args.json:
        emit_json(result)
    else:
        sys.stdout.write(f"{spec.name}: verified (sha256 {sha256[:16]}…) and registered as {info.model_id}\n")
        sys.stdout.write(f"answer with it from the next start: aether models use {info.model_id}\n")
    return 0
