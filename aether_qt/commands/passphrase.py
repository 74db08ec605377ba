"""Reading a passphrase on the command line: never from argv, never echoed, never logged.

Sources, in order: ``--passphrase-file PATH`` (its first line), ``--passphrase-stdin``
(the first line of standard input), else a prompt on the terminal (asked twice when
sealing). Without a terminal and without either option the command fails clearly.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from aether_qt.commands.session import CommandError
from aether_qt.storage.cipher import MIN_PASSPHRASE


def add_passphrase_arguments(parser: argparse.ArgumentParser) -> None:
    """``--passphrase-file`` and ``--passphrase-stdin`` (mutually exclusive)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--passphrase-file", metavar="PATH", help="read the passphrase from the first line of PATH"
    )
    group.add_argument(
        "--passphrase-stdin", action="store_true", help="read the passphrase from standard input"
    )


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


def read_passphrase(args: argparse.Namespace, *, confirm: bool) -> str:
    """The passphrase for this command.

    Args:
        args: parsed arguments with the options of :func:`add_passphrase_arguments`.
        confirm: ask twice at a prompt (sealing: a typo would lock the file for good).

    Raises:
        CommandError: no source, unreadable file, too short, or the two entries differ.
    """
    if getattr(args, "passphrase_file", None):
        try:
            value = _first_line(Path(args.passphrase_file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(
                f"cannot read the passphrase file {args.passphrase_file}: {exc}", code=2
            ) from None
    elif getattr(args, "passphrase_stdin", False):
        value = _first_line(sys.stdin.read())
    elif sys.stdin.isatty():
        value = getpass.getpass("Passphrase: ")
        if confirm and getpass.getpass("Passphrase again: ") != value:
            raise CommandError("the two passphrases differ; nothing was written", code=2)
    else:
        raise CommandError("a passphrase is needed: use --passphrase-file PATH or --passphrase-stdin", code=2)
    if len(value) < MIN_PASSPHRASE:
        raise CommandError(f"the passphrase needs at least {MIN_PASSPHRASE} characters", code=2)
    return value
