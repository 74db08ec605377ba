"""The ``aether`` command: the desktop app by default, sub-commands for everything else.

The command line is also the test surface: every sub-command runs the same
engines as the app, against the state in ``--home DIR`` (or ``AETHER_HOME``).
Command bodies live in :mod:`aether_qt.commands`; this module only parses.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from aether_qt import __version__

Handler = Callable[[argparse.Namespace], int]


def _add_common(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    # Sub-commands repeat the options with SUPPRESS defaults, so `aether --home D cmd`
    # and `aether cmd --home D` both work and neither overwrites the other.
    default = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--home", metavar="DIR", default=default, help="keep all state in DIR (default: $AETHER_HOME)"
    )
    parser.add_argument(
        "--allow-key-file",
        action="store_true",
        default=False if top else argparse.SUPPRESS,
        help="if no keyring works, keep keys in a 0600 file (shown as 'keys on disk')",
    )


def _policy(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aether_qt.commands import policy as cmd

    p = sub.add_parser("policy", help="evaluate, explain and configure the policy gate")
    ps = p.add_subparsers(dest="action", required=True)
    ev = ps.add_parser("evaluate", help="a real, audited evaluation of CAPABILITY on RESOURCE")
    ev.add_argument("capability")
    ev.add_argument("resource")
    ev.add_argument("--persona", default="default")
    ev.add_argument("--json", action="store_true")
    ev.set_defaults(handler=cmd.evaluate)
    ex = ps.add_parser("explain", help="show one decision and its stage trace")
    ex.add_argument("audit_id")
    ex.add_argument("--json", action="store_true")
    ex.set_defaults(handler=cmd.explain)
    pr = ps.add_parser("preset", help="show or set the permission preset")
    pr.add_argument("name", nargs="?")
    pr.add_argument("--json", action="store_true")
    pr.set_defaults(handler=cmd.preset)
    ro = ps.add_parser("roots", help="list, add or remove approved folders")
    ro.add_argument("op", nargs="?", choices=["add", "remove"])
    ro.add_argument("path", nargs="?")
    ro.set_defaults(handler=cmd.roots)
    for q in (ev, ex, pr, ro):
        _add_common(q)


def _grants(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aether_qt.commands import policy as cmd

    g = sub.add_parser("grants", help="list and revoke grants")
    gs = g.add_subparsers(dest="action", required=True)
    ls = gs.add_parser("list", help="active grants")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd.grants_list)
    rv = gs.add_parser("revoke", help="revoke one grant (idempotent)")
    rv.add_argument("grant_id")
    rv.set_defaults(handler=cmd.grants_revoke)
    ra = gs.add_parser("revoke-all", help="emergency: revoke every grant")
    ra.set_defaults(handler=cmd.grants_revoke_all)
    for q in (ls, rv, ra):
        _add_common(q)

    a = sub.add_parser("approvals", help="pending approval tickets")
    asub = a.add_subparsers(dest="action", required=True)
    al = asub.add_parser("list", help="pending tickets")
    al.add_argument("--json", action="store_true")
    al.set_defaults(handler=cmd.approvals_list)
    an = asub.add_parser("answer", help="answer a ticket")
    an.add_argument("ticket_id")
    an.add_argument(
        "choice",
        choices=["allow_once", "allow_session", "always_scope", "draft_only", "deny"],
        metavar="CHOICE",
    )
    an.add_argument("--scope", help="pattern for always_scope (default: the resource's folder or origin)")
    an.add_argument("--json", action="store_true")
    an.set_defaults(handler=cmd.approvals_answer)
    for q in (al, an):
        _add_common(q)


def _audit(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aether_qt.commands import audit as cmd

    a = sub.add_parser("audit", help="verify and export the audit log")
    asub = a.add_subparsers(dest="action", required=True)
    ve = asub.add_parser("verify", help="exit 0 intact and anchored, 1 tampered, 2 undecidable")
    ve.add_argument("--bundle", metavar="FILE", help="verify an exported bundle with its public key only")
    ve.add_argument("--pubkey", metavar="HEX", help="expected public key for --bundle")
    ve.add_argument("--json", action="store_true")
    ve.set_defaults(handler=cmd.verify)
    ex = asub.add_parser("export", help="write a bundle anyone can verify with the public key")
    ex.add_argument("--out", required=True, metavar="FILE")
    ex.set_defaults(handler=cmd.export)
    pk = asub.add_parser("pubkey", help="print the audit log's Ed25519 public key (hex)")
    pk.set_defaults(handler=cmd.pubkey)
    ack = asub.add_parser(
        "acknowledge", help="accept a lost, replaced or rolled-back log: start a new, audited epoch"
    )
    ack.add_argument("--json", action="store_true")
    ack.set_defaults(handler=cmd.acknowledge)
    for q in (ve, ex, pk, ack):
        _add_common(q)


def _backup(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aether_qt.commands import backup as cmd
    from aether_qt.commands.passphrase import add_passphrase_arguments

    b = sub.add_parser("backup", help="write the whole home to one passphrase-sealed file (a gated write)")
    b.add_argument("--out", required=True, metavar="FILE", help="the new backup file")
    b.add_argument("--json", action="store_true")
    r = sub.add_parser("restore", help="replace the home's data with a backup (the old data is kept aside)")
    r.add_argument("file", metavar="FILE")
    r.add_argument("--yes", action="store_true", help="replace a home that holds data without asking")
    r.add_argument("--json", action="store_true")
    b.set_defaults(handler=cmd.backup)
    r.set_defaults(handler=cmd.restore)
    for q in (b, r):
        add_passphrase_arguments(q)
        _add_common(q)


def _turns(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aether_qt.commands import models, models_catalogue, models_fetch, turns

    say = sub.add_parser("say", help="one turn: classify, gate, tools, model; prints the reply")
    say.add_argument("text")
    say.add_argument("--json", action="store_true", help="print the whole turn report as JSON")
    say.set_defaults(handler=turns.say)
    chat = sub.add_parser("chat", help="a conversation in the terminal (same engines, no widgets)")
    chat.set_defaults(handler=turns.chat)
    m = sub.add_parser("models", help="local models (GGUF)")
    ms = m.add_subparsers(dest="action", required=True)
    ml = ms.add_parser("list", help="registered models with their SHA-256")
    ml.add_argument("--json", action="store_true")
    ml.set_defaults(handler=models.list_)
    ma = ms.add_parser("add", help="register a GGUF file you have")
    ma.add_argument("path")
    ma.add_argument("--json", action="store_true")
    ma.set_defaults(handler=models.add)
    mu = ms.add_parser("use", help="answer with a registered model from the next start on")
    mu.add_argument("model_id")
    mu.set_defaults(handler=models.use)
    mc = ms.add_parser("catalogue", help="GGUF chat models to fetch, pinned SHA-256, fit to this machine")
    mc.add_argument("--json", action="store_true")
    mc.set_defaults(handler=models_catalogue.catalogue)
    mf = ms.add_parser(
        "fetch", help="download a speech or catalogue chat model through the gate (pinned SHA-256, resumable)"
    )
    mf.add_argument("name", metavar="NAME", help="vosk-en-small, or a name from `aether models catalogue`")
    mf.add_argument("--url", default=None, help="a mirror of the file (needs --sha256)")
    mf.add_argument("--sha256", default=None, metavar="HEX", help="the file's SHA-256 when --url is given")
    mf.add_argument("--json", action="store_true")
    mf.set_defaults(handler=models_fetch.fetch)
    _add_common(mf)
    for q in (say, chat, ml, ma, mu, mc):
        _add_common(q)


def _persona(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aether_qt.commands import persona as cmd
    from aether_qt.commands import persona_import

    p = sub.add_parser("persona", help="list, check, choose and import personas")
    ps = p.add_subparsers(dest="action", required=True)
    ls = ps.add_parser("list", help="every persona file, its status and which one is active")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=cmd.list_)
    ck = ps.add_parser(
        "check", help="exit 0 if FILE is a valid persona (clamps listed), 1 with located errors"
    )
    ck.add_argument("file", metavar="FILE")
    ck.add_argument("--json", action="store_true")
    ck.set_defaults(handler=cmd.check)
    us = ps.add_parser("use", help="make persona ID active (a running app swaps at the next turn boundary)")
    us.add_argument("persona_id", metavar="ID")
    us.set_defaults(handler=cmd.use)
    im = ps.add_parser(
        "import", help="import a character card (JSON V1/V2/V3 or PNG) as an untrusted persona"
    )
    im.add_argument("card", metavar="CARD", help="the card file (.json or .png)")
    im.add_argument("--out", metavar="FILE", help="write the persona here (a gated file write)")
    im.add_argument("--json", action="store_true")
    im.set_defaults(handler=persona_import.import_)
    for q in (ls, ck, us, im):
        _add_common(q)


def _avatar(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aether_qt.commands import avatar as cmd

    a = sub.add_parser("avatar", help="the avatar")
    asub = a.add_subparsers(dest="action", required=True)
    sn = asub.add_parser("snapshot", help="render one avatar frame to a PNG (a gated file write)")
    sn.add_argument("--state", required=True, help="a behaviour (listening, thinking, ...) or a turn state")
    sn.add_argument(
        "--persona", default=None, metavar="ID", help="draw in this persona's look (default: aether)"
    )
    sn.add_argument("--mouth", type=float, default=None, metavar="0..1", help="how far the mouth is open")
    sn.add_argument("--size", type=int, default=256, metavar="PX", help="image width and height (32-2048)")
    sn.add_argument("--out", required=True, metavar="PNG")
    sn.set_defaults(handler=cmd.snapshot)
    _add_common(sn)


def _memory(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aether_qt.commands import memory as cmd
    from aether_qt.commands.passphrase import add_passphrase_arguments

    m = sub.add_parser("memory", help="list, search, show, forget, export and import memories")
    ms = m.add_subparsers(dest="action", required=True)
    ls = ms.add_parser("list", help="live memories, newest first")
    ls.add_argument("--kind", choices=["episode", "fact", "preference", "note"], default=None)
    ls.add_argument("--limit", type=int, default=200)
    ls.set_defaults(handler=cmd.list_)
    se = ms.add_parser("search", help="recall memories for QUERY (text and meaning), best first")
    se.add_argument("query", metavar="QUERY")
    se.add_argument("--limit", type=int, default=10)
    se.set_defaults(handler=cmd.search)
    sh = ms.add_parser("show", help="one memory with its provenance")
    sh.add_argument("id", metavar="ID")
    sh.set_defaults(handler=cmd.show)
    fo = ms.add_parser("forget", help="forget a memory (tombstone now, erased after a grace period)")
    fo.add_argument("id", metavar="ID")
    fo.add_argument("--now", action="store_true", help="erase its text and vector at once")
    fo.set_defaults(handler=cmd.forget)
    ex = ms.add_parser("export", help="write every memory to FILE, sealed with a passphrase (a gated export)")
    ex.add_argument("file", metavar="FILE")
    ex.set_defaults(handler=cmd.export)
    im = ms.add_parser("import", help="import FILE in one transaction (a bad entry rejects it all)")
    im.add_argument("file", metavar="FILE")
    im.set_defaults(handler=cmd.import_)
    for q in (ex, im):
        add_passphrase_arguments(q)
    for q in (ls, se, sh, fo, ex, im):
        q.add_argument("--json", action="store_true")
        _add_common(q)


def _costs(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aether_qt.commands import costs as cmd

    c = sub.add_parser("costs", help="remote spend against the caps; set or re-arm the caps")
    c.set_defaults(handler=cmd.show)
    cs = c.add_subparsers(dest="action")
    ca = cs.add_parser("cap", help="set the daily and/or monthly cap in USD (an audited change)")
    ca.add_argument("--daily", type=float, default=None, metavar="USD")
    ca.add_argument("--monthly", type=float, default=None, metavar="USD")
    ca.set_defaults(handler=cmd.cap)
    ra = cs.add_parser("rearm", help="re-arm a reached cap (an audited change)")
    ra.set_defaults(handler=cmd.rearm)
    for q in (c, ca, ra):
        q.add_argument("--json", action="store_true", default=False if q is c else argparse.SUPPRESS)
        _add_common(q)


def _voice(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aether_qt.commands import voice as cmd

    li = sub.add_parser("listen", help="recognise speech in a WAV file (partials and the final text)")
    li.add_argument("--file", required=True, metavar="WAV")
    li.add_argument(
        "--model", default=None, metavar="DIR", help="a vosk model folder (default: the installed one)"
    )
    li.add_argument(
        "--grammar", nargs="+", default=None, metavar="PHRASE", help="recognise only these phrases"
    )
    li.add_argument("--json", action="store_true")
    li.set_defaults(handler=cmd.listen)
    sp = sub.add_parser("speak", help="synthesise TEXT to a WAV file (a gated file write)")
    sp.add_argument("text", metavar="TEXT")
    sp.add_argument("--out", required=True, metavar="WAV")
    sp.add_argument(
        "--voice", default=None, metavar="HINT", help="a voice id, name or language (en-us, ko...)"
    )
    sp.add_argument("--rate", type=int, default=None, metavar="WPM", help="words per minute (80-450)")
    sp.add_argument("--json", action="store_true")
    sp.set_defaults(handler=cmd.speak)
    for q in (li, sp):
        _add_common(q)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _doctor_bench(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aether_qt.commands import doctor
    from aether_qt.commands.bench import suites as bench

    d = sub.add_parser("doctor", help="what works on this machine and what does not")
    d.add_argument("--json", action="store_true")
    d.set_defaults(handler=doctor.run)
    _add_common(d)
    b = sub.add_parser("bench", help="benchmarks (tables and JSON; never part of the tests)")
    b.add_argument(
        "suite",
        nargs="?",
        default="policy",
        choices=[
            "policy",
            "turn",
            "avatar",
            "memory",
            "voice",
            "soak",
            "router",
            "router-cache",
            "router-remote",
        ],
    )
    b.add_argument("--json", action="store_true")
    b.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    b.add_argument(
        "--turns", type=_positive, default=None, metavar="N", help="soak: how many turns (default 500)"
    )
    b.set_defaults(handler=bench.run)
    _add_common(b)


def _providers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aether_qt.commands import providers

    providers.register(sub, _add_common)


def _desktop(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from aether_qt.commands import desktop

    desktop.register(sub, _add_common)


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="aether", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"aether {__version__}")
    _add_common(parser, top=True)
    parser.add_argument(
        "--onboarding", action="store_true", help="show the setup wizard again before the app opens"
    )
    return parser


FAST_COMMANDS = frozenset({"bench", "doctor"})


def fast_parser(argv: Sequence[str]) -> argparse.ArgumentParser | None:
    """A parser importing no other command's module, for the desktop app (no command) and bench/doctor.

    The full parser imports every command's module (the companion, the engines,
    numpy: most of a second on a small machine). The desktop app must not pay that
    before its window shows, and ``aether bench turn`` times the app's cold start in
    its own process. ``None``: anything else (``-h``, ``--version``, other commands).
    """
    command, i = "", 0
    while i < len(argv) and not command:
        word = argv[i]
        if word in ("--allow-key-file", "--onboarding") or word.startswith("--home="):
            i += 1
        elif word == "--home" and i + 1 < len(argv):
            i += 2
        elif word.startswith("-"):
            return None  # the full parser says what it means (or that it is wrong)
        else:
            command = word
    if command and command not in FAST_COMMANDS:
        return None
    parser = _top_parser()
    if command:
        _doctor_bench(parser.add_subparsers(dest="command"))
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (also used by the docs test)."""
    parser = _top_parser()
    sub = parser.add_subparsers(dest="command")
    _policy(sub)
    _grants(sub)
    _audit(sub)
    _backup(sub)
    _turns(sub)
    _providers(sub)
    _persona(sub)
    _avatar(sub)
    _memory(sub)
    _costs(sub)
    _voice(sub)
    _doctor_bench(sub)
    _desktop(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``aether`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = fast_parser(argv) or build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="aether: %(levelname)s: %(message)s")
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        from aether_qt.app import AppOptions, run_app

        return run_app(
            AppOptions(home=args.home, allow_key_file=args.allow_key_file, onboarding=args.onboarding or None)
        )
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
