"""``aether providers add|list|use|remove|privacy|test``: remote OpenAI-compatible endpoints.

Adding a provider is the user's consent to send turns there: the command asks
the gate for ``router.remote`` on the provider's base URL as the user and keeps
the answer as a grant (audited), stores the config in the settings and the key
in the OS keyring only (typed on standard input, never on the command line).
The first provider becomes the active one and the posture becomes
``remote-non-sensitive``: turns with the user's memories, sensitive words or
untrusted content still stay on this computer.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from aether_qt.commands.output import emit_json, emit_table
from aether_qt.commands.session import CommandError, guarded, policy_runtime
from aether_qt.engines.router.providers import (
    Posture,
    ProviderConfig,
    ProviderConfigError,
    load_router_settings,
    make_config,
    remove_provider,
    resolve_price,
    set_active,
)
from aether_qt.policy.keys import KeysUnavailableError
from aether_qt.policy.runtime import PolicyRuntime

_MAX_KEY = 4096


_guarded = guarded(ProviderConfigError)  # a bad name, URL or price exits 2


def read_key(*, prompt: bool) -> str:
    """The API key from standard input (a masked prompt on a terminal); never echoed or logged.

    Raises:
        CommandError: nothing, or something that cannot be a key, was given.
    """
    if prompt and sys.stdin.isatty():
        key = getpass.getpass("API key (not shown): ")
    else:
        key = sys.stdin.readline(_MAX_KEY + 1)
    from aether_qt.services.settings.providers import ProviderRefused, check_key

    try:
        return check_key(key)
    except ProviderRefused:
        raise CommandError(
            "the key read from standard input is empty or not a single printable word", 2
        ) from None


def allow_provider(rt: PolicyRuntime, config: ProviderConfig) -> str:
    """The user's standing Allow of ``router.remote`` on the provider's URL (audited); its grant id.

    Raises:
        CommandError: the gate refused (paused, locked audit, a preset that never sends remote).
    """
    from aether_qt.services.settings.providers import ProviderRefused
    from aether_qt.services.settings.providers import allow_provider as allow

    try:
        return allow(rt, config)
    except ProviderRefused as exc:
        raise CommandError(str(exc), 1) from None


def _revoke_provider_grants(rt: PolicyRuntime, base_url: str) -> list[str]:
    from aether_qt.core.bus import EventBus
    from aether_qt.services.gate.gate_on_bus import GateOnBus
    from aether_qt.services.settings.providers import revoke_provider_grants

    return revoke_provider_grants(rt, GateOnBus(runtime=rt, bus=EventBus()), base_url)


@_guarded
def add(args: argparse.Namespace) -> int:
    """Add (or replace) a provider; the first one becomes active."""
    price_in, price_out = resolve_price(args.url, args.model, args.price_in, args.price_out)
    config = make_config(args.name, args.url, args.model, price_in, price_out, keyed=args.key_stdin)
    key = read_key(prompt=True) if args.key_stdin else None
    with policy_runtime(args) as rt:
        if key is not None:
            try:
                rt.keystore.set_provider_key(config.name, key)
            except KeysUnavailableError as exc:
                raise CommandError(
                    f"{exc}; set up a keyring (aether doctor shows which one is missing)", 2
                ) from None
        from aether_qt.services.settings.providers import ProviderRefused, admit_provider

        try:
            grant = admit_provider(rt, config)  # allowed (audited), stored; the first one is active
        except ProviderRefused as exc:
            raise CommandError(str(exc), 1) from None
        settings = load_router_settings(rt.settings)
    stored = "in the keyring" if key else "none"
    line = f"added {config.name}: {config.model} at {config.base_url} (key {stored})"
    sys.stdout.write(f"{line}; allowed by grant {grant}\n")
    if settings.active == config.name:
        sys.stdout.write(
            f"turns now go to {config.name} when the privacy posture ({settings.posture.value}) allows; "
            "`aether providers privacy local-only` keeps everything here\n"
        )
    return 0


@_guarded
def list_(args: argparse.Namespace) -> int:
    """The providers, which one is active, whether a key is stored, and the posture."""
    with policy_runtime(args) as rt:
        settings = load_router_settings(rt.settings)
        rows = []
        for p in settings.providers:
            try:
                has_key = rt.keystore.get_provider_key(p.name) is not None
            except KeysUnavailableError:  # a locked keyring is shown, not fatal
                has_key = False
            rows.append(
                {
                    "name": p.name,
                    "active": p.name == settings.active,
                    "url": p.base_url,
                    "model": p.model,
                    "price_in": p.price_in,
                    "price_out": p.price_out,
                    "key": "keyring" if has_key else "none",
                }
            )
    if args.json:
        emit_json({"posture": settings.posture.value, "active": settings.active, "providers": rows})
        return 0
    emit_table(rows, ["name", "active", "url", "model", "price_in", "price_out", "key"])
    sys.stdout.write(f"privacy posture: {settings.posture.value}\n")
    return 0


@_guarded
def use(args: argparse.Namespace) -> int:
    """Make NAME the active provider (``--none``: answer locally only)."""
    with policy_runtime(args) as rt:
        if args.none:
            set_active(rt.settings, "")
            sys.stdout.write("no active provider: every turn is answered on this computer\n")
            return 0
        config = load_router_settings(rt.settings).find(args.name or "")
        if config is None:
            raise CommandError(f"no provider {args.name!r}; add it with `aether providers add`", 2)
        allow_provider(rt, config)
        set_active(rt.settings, config.name)
    sys.stdout.write(f"active provider: {config.name}\n")
    return 0


@_guarded
def remove(args: argparse.Namespace) -> int:
    """Remove NAME: its config, its key and its grants."""
    with policy_runtime(args) as rt:
        config = load_router_settings(rt.settings).find(args.name)
        if config is None:
            raise CommandError(f"no provider {args.name!r}", 2)
        revoked = _revoke_provider_grants(rt, config.base_url)
        remove_provider(rt.settings, config.name)
        try:
            rt.keystore.delete_provider_key(config.name)
        except KeysUnavailableError:  # the config is gone; a key left behind is reported
            sys.stderr.write(f"aether: could not remove the key of {config.name} from the keyring\n")
    sys.stdout.write(f"removed {config.name} (revoked {len(revoked)} grant(s))\n")
    return 0


@_guarded
def privacy(args: argparse.Namespace) -> int:
    """Show or set the privacy posture."""
    with policy_runtime(args) as rt:
        if args.posture:
            from aether_qt.services.settings.providers import change_posture

            change_posture(rt, Posture(args.posture))  # audited: where turns may go is a policy choice
        posture = load_router_settings(rt.settings).posture
    sys.stdout.write(f"privacy posture: {posture.value}\n")
    return 0


@_guarded
def test(args: argparse.Namespace) -> int:
    """Send NAME one short request through the gate and say what came back (exit 1 when it failed)."""
    from aether_qt.services.settings.providers import ProviderRefused, probe_provider

    with policy_runtime(args) as rt:
        config = load_router_settings(rt.settings).find(args.name)
        if config is None:
            raise CommandError(f"no provider {args.name!r}", 2)
        try:
            ok, line = probe_provider(rt, config)
        except ProviderRefused as exc:
            raise CommandError(str(exc)) from None
    sys.stdout.write(f"{line}\n")
    return 0 if ok else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], common: Any) -> None:
    """Add ``aether providers …`` to the parser."""
    p = sub.add_parser("providers", help="remote OpenAI-compatible providers (keys in the keyring)")
    ps = p.add_subparsers(dest="action", required=True)
    a = ps.add_parser("add", help="add a provider: NAME --url URL --model MODEL [--key-stdin]")
    a.add_argument("name")
    a.add_argument("--url", required=True, help="base URL, e.g. http://127.0.0.1:8080/v1")
    a.add_argument("--model", required=True)
    a.add_argument("--key-stdin", action="store_true", help="read the API key from standard input")
    a.add_argument(
        "--price-in", type=float, default=None, metavar="USD_PER_MTOK", help="default: the model's price"
    )
    a.add_argument("--price-out", type=float, default=None, metavar="USD_PER_MTOK")
    a.set_defaults(handler=add)
    ls = ps.add_parser("list", help="providers, the active one, the posture")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=list_)
    u = ps.add_parser("use", help="make NAME the active provider")
    u.add_argument("name", nargs="?")
    u.add_argument("--none", action="store_true", help="no active provider: local only")
    u.set_defaults(handler=use)
    r = ps.add_parser("remove", help="remove NAME, its key and its grants")
    r.add_argument("name")
    r.set_defaults(handler=remove)
    t = ps.add_parser("test", help="send NAME one short request and report what came back")
    t.add_argument("name")
    t.set_defaults(handler=test)
    pv = ps.add_parser("privacy", help="show or set where turns may go")
    pv.add_argument("posture", nargs="?", choices=[p.value for p in Posture])
    pv.set_defaults(handler=privacy)
    for q in (a, ls, u, r, t, pv):
        common(q)
