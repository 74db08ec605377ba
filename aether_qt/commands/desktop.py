"""``aether install-desktop [--autostart]`` and ``aether uninstall-desktop``: Aether in the applications menu.

Install writes the desktop entry (``Exec`` = the absolute path of the command
that ran it, with the same ``--home``), the AppStream metainfo and the icons into
the user's XDG folders, and with ``--autostart`` a copy of the entry into
``$XDG_CONFIG_HOME/autostart`` (see :mod:`aether_qt.core.desktop_files`). Those
folders are outside Aether's own, so the write is a gate decision
(``desktop.install``, asked in every preset: the command the user typed answers
the Ask) performed by an effector, and audited. A record of what was written
stays in the home's data folder; uninstall removes exactly those files (those
still as installed) and the folders the install created.

Exit codes: 0 done (also: nothing to remove); 1 refused by the gate; 2 it cannot
run (a file cannot be written, the record is unreadable, no keys).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from aether_qt.commands.output import emit_json
from aether_qt.commands.session import CommandError, guarded, policy_runtime, user_allow
from aether_qt.core.desktop_files import (
    MANIFEST_FILE,
    DesktopResult,
    Manifest,
    ManifestError,
    plan_install,
    xdg_folders,
)
from aether_qt.core.paths import HOME_ENV, resolve_paths
from aether_qt.policy.effect_types import EffectError
from aether_qt.policy.effects import remove_own_file, write_own_file

EXIT_CANNOT = 2


def launch_argv(args: argparse.Namespace) -> list[str]:
    """The command a desktop entry runs to start this Aether with this home.

    A PyInstaller bundle runs its own executable; otherwise the ``aether`` script
    beside the running interpreter (a venv's ``bin``), else the interpreter with
    ``-m aether_qt.cli``. An explicit home (``--home`` or ``AETHER_HOME``) and
    ``--allow-key-file`` are passed on, so the menu starts the same Aether.
    """
    if getattr(sys, "frozen", False):
        argv = [os.path.abspath(sys.executable)]
    else:
        script = Path(sys.executable).parent / "aether"
        if script.is_file() and os.access(script, os.X_OK):
            argv = [str(script.absolute())]
        else:
            argv = [os.path.abspath(sys.executable), "-m", "aether_qt.cli"]
    home = getattr(args, "home", None) or os.environ.get(HOME_ENV)
    if home:
        argv += ["--home", str(Path(home).expanduser().absolute())]
    if getattr(args, "allow_key_file", False):
        argv.append("--allow-key-file")
    return argv


def _report(result: DesktopResult, *, json_out: bool, verb: str) -> None:
    files = sorted(result.manifest.files) if result.manifest is not None else [str(p) for p in result.removed]
    if json_out:
        emit_json(
            {
                "action": verb,
                "files": files,
                "kept": [str(p) for p in result.kept],
                "refreshed": list(result.refreshed),
            }
        )
        return
    sys.stdout.write(f"{verb} {len(files)} files\n")
    for name in files:
        sys.stdout.write(f"  {name}\n")
    for path in result.kept:
        sys.stdout.write(f"kept {path} (it changed since it was installed)\n")


@guarded()
def install(args: argparse.Namespace) -> int:
    """Install the desktop entry, metainfo and icons (and the autostart entry) through the gate."""
    paths = resolve_paths(getattr(args, "home", None)).ensure()
    data_home, config_home = xdg_folders(os.environ)
    try:
        plan = plan_install(
            launch_argv(args), data_home=data_home, config_home=config_home if args.autostart else None
        )
    except (ValueError, OSError) as exc:
        raise CommandError(f"cannot prepare the desktop entry: {exc}", EXIT_CANNOT) from None
    record = paths.data_dir / MANIFEST_FILE
    with policy_runtime(args) as rt:
        decision = user_allow(rt, "desktop.install", plan.resource, "install-desktop")
        try:
            result = rt.effectors.install_desktop(decision.permit, plan)
        except EffectError as exc:
            raise CommandError(f"install-desktop failed: {exc}", EXIT_CANNOT) from None
    assert result.manifest is not None
    manifest = result.manifest
    # an earlier install from this home: its files and folders stay on the record
    with contextlib.suppress(OSError, ManifestError):
        manifest = Manifest.from_json(record.read_bytes()).merged(manifest)
    write_own_file(record, manifest.to_json(), root=paths.data_dir)
    _report(
        DesktopResult(manifest=manifest, refreshed=result.refreshed), json_out=args.json, verb="installed"
    )
    return 0


@guarded()
def uninstall(args: argparse.Namespace) -> int:
    """Remove what ``install-desktop`` wrote from this home (the record in the data folder says what)."""
    paths = resolve_paths(getattr(args, "home", None)).ensure()
    record = paths.data_dir / MANIFEST_FILE
    try:
        manifest = Manifest.from_json(record.read_bytes())
    except FileNotFoundError:
        if args.json:
            emit_json({"action": "removed", "files": [], "kept": [], "refreshed": []})
        else:
            sys.stdout.write("nothing to remove: Aether was not installed on the desktop from this home\n")
        return 0
    except (OSError, ManifestError) as exc:
        raise CommandError(f"cannot read the install record {record}: {exc}", EXIT_CANNOT) from None
    with policy_runtime(args) as rt:
        decision = user_allow(rt, "desktop.install", manifest.removal_resource(), "uninstall-desktop")
        try:
            result = rt.effectors.uninstall_desktop(decision.permit, manifest)
        except EffectError as exc:
            raise CommandError(f"uninstall-desktop failed: {exc}", EXIT_CANNOT) from None
    remove_own_file(record, root=paths.data_dir)
    _report(result, json_out=args.json, verb="removed")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser], add_common: Any) -> None:
    """Add ``install-desktop`` and ``uninstall-desktop`` to the ``aether`` parser."""
    ins = sub.add_parser(
        "install-desktop",
        help="add Aether to your applications menu (desktop entry, icons; --autostart: start at login)",
    )
    ins.add_argument("--autostart", action="store_true", help="also start Aether when you log in")
    ins.add_argument("--json", action="store_true")
    ins.set_defaults(handler=install)
    uni = sub.add_parser("uninstall-desktop", help="remove what install-desktop added")
    uni.add_argument("--json", action="store_true")
    uni.set_defaults(handler=uninstall)
    for q in (ins, uni):
        add_common(q)
