"""``aether models fetch NAME``: download a speech model through the gate, verify it, unpack it, use it.

A NAME from the GGUF chat model catalogue is fetched and registered by
:func:`aether_qt.commands.models_catalogue.fetch_gguf` instead (same gate,
same resumable, hash-checked download).

The download is the gated side effect ``model.download`` of the URL into its
destination archive (the user typed the command: an Ask is answered "allow
once" on their behalf, audited like any other answer; the permit names the
destination); :meth:`Effectors.download` streams to a ``.part`` file, resumes
it after an interruption, and renames it into place only when the SHA-256
matches the pinned one. The archive is then unpacked into ``<data>/models/stt``
and becomes the speech model for voice input (setting ``voice.stt_model``).
"""

from __future__ import annotations

import argparse
import sys
import time

from aether_qt.commands.output import emit_json, fail
from aether_qt.commands.session import CommandError, policy_runtime, user_allow
from aether_qt.engines.media.stt_models import CATALOG, SETTING_STT_MODEL, UnpackError, unpack
from aether_qt.policy.effect_types import EffectError


class _Progress:
    """``downloading 12.3 / 40.0 MB (31%)`` on stderr, at most five times a second."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.last = quiet, 0.0

    def __call__(self, done: int, total: int | None) -> None:
        now = time.monotonic()
        if self.quiet or (now - self.last < 0.2 and done != total):
            return
        self.last = now
        share = f" ({100 * done // total}%)" if total else ""
        of = f" / {total / 1e6:.1f}" if total else ""
        sys.stderr.write(f"\rdownloading {done / 1e6:.1f}{of} MB{share}")
        if done == total:
            sys.stderr.write("\n")


def _fetch_chat_model(args: argparse.Namespace) -> int:
    """``args.name`` is not a speech model: fetch it from the GGUF chat catalogue, if it is there."""
    from aether_qt.commands.models_catalogue import fetch_gguf
    from aether_qt.engines.router.catalogue import CatalogueError, find, load_catalogue

    try:
        chat_models = load_catalogue()
    except CatalogueError as exc:
        return fail(str(exc))
    chat = find(chat_models, args.name)
    if chat is not None:
        return fetch_gguf(args, chat, _Progress(args.json))
    known = sorted(CATALOG) + [m.name for m in chat_models]
    return fail(f"unknown model {args.name!r}; known: {', '.join(known)} (see aether models catalogue)", 2)


def fetch(args: argparse.Namespace) -> int:
    """Download, verify, unpack and select the speech model ``args.name`` (or fetch a GGUF chat model)."""
    spec = CATALOG.get(args.name)
    if spec is None:
        return _fetch_chat_model(args)
    if args.url and not args.sha256:
        return fail("--url needs --sha256: a download is only used when its hash is pinned", 2)
    url, sha256 = args.url or spec.url, (args.sha256 or spec.sha256).lower()
    try:
        with policy_runtime(args) as rt:
            stt_dir = rt.paths.models_dir / "stt"
            dest = stt_dir / f"{spec.folder}.zip"
            decision = user_allow(rt, "model.download", url, "download", target=str(dest))
            stt_dir.mkdir(parents=True, exist_ok=True)
            archive = rt.effectors.download(
                decision.permit,
                url,
                dest,
                sha256=sha256,
                progress=_Progress(args.json),
            )
            model = unpack(archive, stt_dir, spec.folder)
            rt.settings.set(SETTING_STT_MODEL, str(model))
    except CommandError as exc:
        return fail(str(exc), exc.code)
    except (EffectError, UnpackError, ValueError) as exc:
        return fail(f"not fetched: {exc}")
    result = {
        "name": spec.name,
        "url": url,
        "sha256": sha256,
        "archive": str(archive),
        "model": str(model),
        "audit_id": decision.audit_id,
    }
    if args.json:
        emit_json(result)
    else:
        sys.stdout.write(f"{spec.name}: verified (sha256 {sha256[:16]}…) and unpacked to {model}\n")
        sys.stdout.write("voice input uses it from the next start\n")
    return 0
