"""What an approval card shows of a kept call: the file, its folder, the text, the diff, the URL, the command.

The card must say exactly what will happen before the user answers, so the
conductor describes each call it keeps for approval (published as
:class:`~aether_qt.core.events.TicketDescribed`). Looking at the file is
read-only (whether it and its folder exist; for an edit, its current text for
the diff); nothing here changes anything.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from pathlib import Path
from typing import Final

from aether_qt.core.events import TicketDescribed
from aether_qt.policy.capabilities import CAPABILITIES, ResourceKind
from aether_qt.services.interaction.tools import ToolCall

PREVIEW_CHARS: Final = 20_000
"""How much of the text to write (or of the diff) a card shows; the rest is summarised in one line."""
_URL_CAPABILITIES: Final = frozenset({"browser.open", "net.fetch"})
_WRITES: Final = frozenset({"files.create", "files.edit"})


def describe_call(ticket_id: str, call: ToolCall) -> TicketDescribed:
    """The card's description of ``call`` waiting on ``ticket_id``."""
    cap = CAPABILITIES.get(call.capability)
    base = TicketDescribed(ticket_id=ticket_id, turn_id=call.turn_id, capability=call.capability)
    if call.capability in _URL_CAPABILITIES:
        return replace(base, url=call.resource)
    if call.capability == "shell.exec":
        return replace(base, command=call.resource)
    if cap is None or cap.resource_kind is not ResourceKind.PATH:
        return replace(base, text=_cut(call.payload))
    path = Path(call.resource)
    exists = path.exists() or path.is_symlink()
    text = _cut(call.payload) if call.capability in _WRITES else ""
    diff = _diff(path, call.payload) if call.capability == "files.edit" and exists else ""
    return replace(
        base,
        path=str(path),
        path_exists=exists,
        folder=str(path.parent),
        folder_exists=path.parent.is_dir(),
        text=text,
        diff=diff,
    )


def _cut(text: str) -> str:
    if len(text) <= PREVIEW_CHARS:
        return text
    return f"{text[:PREVIEW_CHARS]}\n… and {len(text) - PREVIEW_CHARS:,} more characters"


def _diff(path: Path, new: str) -> str:
    """The change as a unified diff of the file's current text (shown to the user only)."""
    try:
        with path.open("rb") as handle:
            old = handle.read(PREVIEW_CHARS * 4 + 1).decode("utf-8", errors="replace")
    except OSError:
        return ""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), "now", "after", lineterm=""
    )
    return _cut("\n".join(line.rstrip("\n") for line in lines))
