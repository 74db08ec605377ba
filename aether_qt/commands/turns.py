"""``aether say TEXT`` (one turn) and ``aether chat`` (a terminal conversation).

Both run the same engines as the desktop app, without widgets: the policy
runtime, the router with the local model, the interaction FSM and the gate.
Model loading progress goes to stderr; replies stream to stdout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from aether_qt.commands.output import emit_json, fail
from aether_qt.commands.session import CommandError
from aether_qt.companion import Companion
from aether_qt.core.events import Envelope, PhraseShown, TokensStreamed
from aether_qt.core.paths import resolve_paths
from aether_qt.engines.router.router import ModelStatus
from aether_qt.policy.provenance import describe_source, taint_sentence
from aether_qt.services.interaction.conductor import TurnReport


def _progress(status: ModelStatus) -> None:
    sys.stderr.write(f"aether: model {status.status} {status.progress:.0%} {status.message}\n")


@contextmanager
def companion(args: argparse.Namespace, *, quiet: bool) -> Iterator[Companion]:
    """Open the companion for ``args.home`` (model loaded), close it afterwards."""
    from aether_qt.storage.errors import StorageError

    try:
        comp = Companion.open(
            resolve_paths(args.home),
            allow_key_file=args.allow_key_file,
            progress=None if quiet else _progress,
        )
    except StorageError as exc:
        raise CommandError(str(exc), code=2) from None
    try:
        if comp.runtime.data_error:  # chat still answers; nothing is remembered or done
            sys.stderr.write(f"aether: {comp.runtime.data_error}\n")
        if not comp.router.model_ready():
            sys.stderr.write(f"aether: {comp.router.banner()}\n")
        yield comp
    finally:
        comp.close()


def quote_caption(source: str) -> str:
    """The label of a quote: where the words come from, and that they are data."""
    return f"quoted from {describe_source(source)}: data, not Aether's words"


def _stream_to_stdout(env: Envelope) -> None:
    payload = env.payload
    if isinstance(payload, TokensStreamed):
        sys.stdout.write(payload.text)
        sys.stdout.flush()
    elif isinstance(payload, PhraseShown) and payload.pool == "quote":  # data, labelled, not Aether's words
        sys.stdout.write(f"[{quote_caption(payload.source)}]\n> {payload.text}\n\n")
        sys.stdout.flush()
    elif isinstance(payload, PhraseShown) and payload.pool in ("ack", "ack2", "progress", "notice", "result"):
        sys.stderr.write(f"[{payload.text}]\n")


def _print_report(report: TurnReport) -> None:
    decision = report.decision or {}
    if decision:
        extra = decision.get("reason") or decision.get("ticket_id") or ""
        sys.stdout.write(
            f"policy: {decision['decision']} {extra} [audit {decision.get('audit_id') or '-'}]\n"
        )
    if report.tool:
        sys.stdout.write(f"tool: {report.tool}\n")
    if report.taint:
        sys.stdout.write(f"taint: {', '.join(report.taint)} ({taint_sentence(report.taint)})\n")
    route = report.route
    if route:
        reason = f" ({route['reason']})" if route.get("reason") else ""
        sys.stdout.write(f"route: {route['tier']}/{route['provider']} {route.get('model', '')}{reason}\n")
    trace = " -> ".join(report.state_trace)
    sys.stdout.write(f"turn: {report.outcome} in {report.final_state} ({trace})\n")
    for notice in report.notices:
        sys.stdout.write(f"note: {notice}\n")


def say(args: argparse.Namespace) -> int:
    """Run one turn and print the reply (or the whole report with ``--json``)."""
    try:
        with companion(args, quiet=args.json) as comp:
            if not args.json:
                comp.bus.subscribe(TokensStreamed.KIND, _stream_to_stdout)
                comp.bus.subscribe(PhraseShown.KIND, _stream_to_stdout)
            report = comp.conductor.run_turn(args.text, source="cli")
    except CommandError as exc:
        return fail(str(exc), exc.code)
    if report is None:
        return fail("nothing to say: the message is empty")
    if args.json:
        emit_json(report.as_dict())
    else:
        if not report.route:  # not streamed: a templated reply, a phrase or a denial
            sys.stdout.write(report.reply)
        sys.stdout.write("\n")
        _print_report(report)
    return 0


def chat(args: argparse.Namespace) -> int:
    """A terminal conversation over the same engines; ``/quit`` or end of input stops it."""
    try:
        with companion(args, quiet=False) as comp:
            comp.bus.subscribe("*", _stream_to_stdout)
            sys.stdout.write("Aether is listening. Type /quit to leave.\n")
            for line in _lines():
                if line.strip() in ("/quit", "/exit"):
                    break
                report = comp.conductor.run_turn(line, source="cli")
                if report is None:
                    continue
                if not report.route:
                    sys.stdout.write(report.reply)
                sys.stdout.write("\n")
                _print_report(report)
                if banner := comp.router.remote_banner():
                    sys.stderr.write(f"[{banner}]\n")
    except CommandError as exc:
        return fail(str(exc), exc.code)
    return 0


def _lines() -> Iterator[str]:
    while True:
        try:
            sys.stdout.write("you> ")
            sys.stdout.flush()
            yield input()
        except EOFError:
            sys.stdout.write("\n")
            return
