"""Opening the policy runtime for one command, and turning decisions into plain data."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import peewee

from aether_qt.commands.output import fail
from aether_qt.core.paths import AppPaths, resolve_paths
from aether_qt.policy.capabilities import CAPABILITIES, ResourceKind
from aether_qt.policy.decisions import Allow, decision_as_dict
from aether_qt.policy.runtime import PolicyRuntime

Handler = Callable[[argparse.Namespace], int]


class CommandError(Exception):
    """A user-facing failure of a command: printed as ``aether: message``, exit ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def guarded(*also: type[Exception]) -> Callable[[Handler], Handler]:
    """Decorate a command: :class:`CommandError` becomes ``aether: message`` and its exit code,
    each exception type in ``also`` becomes ``aether: message`` and exit 2."""

    def decorate(fn: Handler) -> Handler:
        def wrapper(args: argparse.Namespace) -> int:
            try:
                return fn(args)
            except CommandError as exc:
                return fail(str(exc), exc.code)
            except also as exc:
                return fail(str(exc), 2)

        wrapper.__doc__ = fn.__doc__
        return wrapper

    return decorate


@contextmanager
def policy_runtime(args: argparse.Namespace) -> Iterator[PolicyRuntime]:
    """Open the home's policy runtime (guard installed), close it on exit.

    Raises:
        CommandError: the app database cannot be used (the message names the file), also when
            it is locked (no data key): a command must not report the empty stand-in as the truth.
    """
    from aether_qt.storage.errors import StorageError

    paths = resolve_paths(getattr(args, "home", None))
    try:
        runtime = PolicyRuntime.open(paths, allow_key_file=getattr(args, "allow_key_file", False) or None)
    except StorageError as exc:
        raise CommandError(str(exc), code=2) from None
    if runtime.data_error:
        runtime.close()
        raise CommandError(runtime.data_error, code=2)
    try:
        runtime.install_guard()
        yield runtime
    finally:
        runtime.close()


@contextmanager
def app_database(paths: AppPaths, *, allow_key_file: bool = False) -> Iterator[peewee.SqliteDatabase]:
    """The home's encrypted ``aether.db`` alone (no audit session), closed on exit.

    Raises:
        StorageError: it cannot be opened; a missing or wrong key is a ``DataKeyError``.
    """
    from aether_qt.policy.app_data import open_app_database
    from aether_qt.policy.audit_home import keystore_for
    from aether_qt.storage.database import close_database

    opted_in = allow_key_file or paths.key_file.exists()
    data = open_app_database(paths.ensure(), keystore_for(paths), allow_key_file=opted_in)
    try:
        yield data.database
    finally:
        close_database(data.database)


def user_allow(rt: PolicyRuntime, capability: str, resource: str, what: str, *, target: str = "") -> Allow:
    """The user's Allow for ``capability`` on ``resource`` (typing the command answers an Ask).

    ``target`` (a download's destination) is bound into the permit.

    Raises:
        CommandError: the gate refused; the message starts with ``what`` and names the decision.
    """
    from aether_qt.services.gate.user_acts import decide_as_user

    decision = decide_as_user(rt.gate, capability, resource, target=target)
    if not isinstance(decision, Allow):
        raise CommandError(f"{what} refused: {decision_line(decision_as_dict(decision))}")
    return decision


def create_binary_as_user(args: argparse.Namespace, out: Path, data: bytes, what: str) -> None:
    """Write ``data`` to the new file ``out`` through the gate (``files.create``) and an effector.

    Raises:
        CommandError: refused by the gate, or the effector failed (exists, outside the folders...).
    """
    from aether_qt.policy.effect_types import EffectError

    with policy_runtime(args) as rt:
        decision = user_allow(rt, "files.create", str(out), what)
        try:
            rt.effectors.create_binary(decision.permit, out, data)
        except EffectError as exc:
            raise CommandError(f"{what} failed: {exc}") from None


def absolute_resource(capability: str, resource: str) -> str:
    """Make a path resource absolute (relative to the working folder); leave others alone."""
    cap = CAPABILITIES.get(capability)
    if cap is not None and cap.resource_kind is ResourceKind.PATH and resource:
        return str(Path(os.path.expanduser(resource)).absolute())
    return resource


def decision_line(data: dict[str, Any]) -> str:
    """One human line summarising :func:`~aether_qt.policy.decisions.decision_as_dict` output."""
    kind = data["decision"]
    extra = {
        "allow": f"grant {data.get('grant_id')} ({data.get('duration')})",
        "ask": f"ticket {data.get('ticket_id')} (risk {data.get('risk')}); answer with "
        f"`aether approvals answer {data.get('ticket_id')} CHOICE`",
        "deny": f"{data.get('reason')}: {data.get('message')}".rstrip(": "),
        "draft": f"draft only ({data.get('source')})",
        "needs_upgrade": f"needs preset {data.get('suggested_preset')}",
    }.get(kind, "")
    audit = data.get("audit_id") or "not audited"
    return f"{kind.upper()}  {extra}  [audit {audit}]"
