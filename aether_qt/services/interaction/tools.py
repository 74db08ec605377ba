"""Running an allowed action through the effectors.

The reflex classifier proposes a :class:`ToolCall`; the gate decides; only an
``Allow`` reaches :meth:`ToolRunner.run`, which calls the one effector that
matches the capability with the decision's permit. File text read for the
model comes back as :class:`~aether_qt.core.generation.FencedData` (untrusted), so
it is fenced as data in the prompt; the excerpt shown to the user is a separate
``quote``, never part of the summary (which the transcript shows as Aether's
words). A call that waits for an approval is kept by
:class:`~aether_qt.services.interaction.pending_actions.PendingActions`.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import peewee

from aether_qt.core.generation import FencedData
from aether_qt.engines.memory.items import MemoryStoreError
from aether_qt.policy.contracts import PermitError, PolicyError
from aether_qt.policy.decisions import Allow
from aether_qt.policy.effect_types import EffectError, OutsideRootsError, TargetExistsError
from aether_qt.policy.effects import Effectors
from aether_qt.policy.provenance import file_tag, home_short
from aether_qt.policy.user_words import explain_error
from aether_qt.storage.errors import StorageError

READ_BUDGET = 24_000  # bytes of a file handed to a small model
LIST_BUDGET = 60  # folder entries named in a reply
EXCERPT_CHARS = 240  # characters of a read file quoted in the reply itself


@dataclass(frozen=True, slots=True)
class ToolCall:
    """An action to perform: capability, resource and, for writes, the text (or the memory)."""

    capability: str
    resource: str
    payload: str = ""
    turn_id: str = ""


class MemoryTools(Protocol):
    """What the memory tools need of L2 (:class:`~aether_qt.services.memory.service.MemoryService`)."""

    def remember(self, allow: Allow, text: str, *, turn_id: str) -> MemoryOutcomeLike:
        """Keep ``text`` as a durable memory under ``allow``."""
        ...

    def forget_topic(self, allow: Allow, topic: str) -> MemoryOutcomeLike:
        """Tombstone the memories ``topic`` names under ``allow``."""
        ...


class MemoryOutcomeLike(Protocol):
    """The part of a memory outcome a tool result needs."""

    @property
    def ok(self) -> bool:
        """Whether the change was made."""
        ...

    @property
    def summary(self) -> str:
        """One sentence for the transcript."""
        ...


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What an action did, in words for the transcript, and data for the model.

    Attributes:
        ok: whether the action succeeded.
        summary: one sentence in Aether's words (never the data's).
        data: untrusted text for the model, fenced as data.
        quote: an excerpt of ``data`` for the user, shown as a labelled quote.
    """

    ok: bool
    summary: str
    data: FencedData | None = None
    quote: str = ""


class ToolRunner:
    """Performs allowed tool calls through the effectors (and memory, when there is one)."""

    def __init__(self, *, effectors: Callable[[], Effectors], memory: MemoryTools | None = None) -> None:
        """``effectors`` gives the runtime's current ones: approving a folder or installing the
        guard replaces them, and a runner holding the old ones would refuse the new folder."""
        self._effectors = effectors
        self._memory = memory

    def run(self, allow: Allow, call: ToolCall) -> ToolResult:
        """Perform ``call`` with ``allow``'s permit; effector errors become a failed result."""
        if call.capability in ("memory.write.durable", "memory.delete"):
            return self._memory_call(allow, call)
        handler = _HANDLERS.get(call.capability)
        if handler is None:
            return ToolResult(False, f"I can't perform {call.capability} yet.")
        try:
            return handler(self._effectors(), allow, call)
        except (EffectError, PermitError) as exc:  # also a gate that stopped accepting side effects meanwhile
            return ToolResult(False, failure_sentence(call, exc))

    def create_folder(self, allow: Allow, folder: Path) -> Path:
        """Create ``folder`` (and missing parents) with ``allow``'s permit (``files.create`` on the folder).

        Raises:
            EffectError, PermitError: it could not be created.
        """
        return self._effectors().create_folder(allow.permit, folder)

    def _memory_call(self, allow: Allow, call: ToolCall) -> ToolResult:
        if self._memory is None:
            return ToolResult(False, "Memory is unavailable right now.")
        try:
            if call.capability == "memory.delete":
                outcome = self._memory.forget_topic(allow, call.payload)
            else:
                outcome = self._memory.remember(allow, call.payload, turn_id=call.turn_id)
        except (
            EffectError,
            PermitError,
            MemoryStoreError,
            StorageError,
            ValueError,
            peewee.DatabaseError,
        ) as exc:
            return ToolResult(
                False, f"Memory could not be changed. {explain_error(exc, where='your memories')}"
            )
        return ToolResult(outcome.ok, outcome.summary)


_VERBS = {
    "files.read": "read",
    "files.list": "look inside",
    "files.create": "create",
    "files.edit": "change",
    "files.delete": "delete",
    "browser.open": "open",
    "shell.exec": "run",
}


def failure_sentence(call: ToolCall, exc: PolicyError) -> str:
    """One plain sentence for an action that failed: what did not happen, why, and what to do.

    The effectors' own messages name system errors ("No such file or directory");
    the user gets the cause in words instead (a missing folder, an existing file).
    """
    verb = _VERBS.get(call.capability, "do")
    if isinstance(exc, PermitError):
        return "The approval could no longer be used, so nothing was done. Ask again."
    if call.capability == "shell.exec":
        return f"I couldn't run {call.resource}: {failure_reason(exc)}."
    if call.capability == "browser.open":
        return f"I couldn't open {call.resource}: {failure_reason(exc)}."
    return _path_failure(call, exc, verb)


def _path_failure(call: ToolCall, exc: PolicyError, verb: str) -> str:
    path = Path(call.resource)
    where = home_short(str(path))
    if isinstance(exc, OutsideRootsError):
        return f"I didn't {verb} {where}: it is outside the folders you approved. Add its folder in Settings."
    if isinstance(exc, TargetExistsError):
        return f"I didn't create {where}: a file with that name already exists, and I never replace one."
    if not path.parent.is_dir():
        folder = home_short(str(path.parent))
        return f"I couldn't {verb} {path.name}: the folder {folder} does not exist. Create it and ask again."
    return f"I couldn't {verb} {where}: {failure_reason(exc)}."


def failure_reason(exc: Exception) -> str:
    """The cause ending an effector's message ("cannot create x: Permission denied": "permission denied")."""
    text = str(exc).rsplit(": ", 1)[-1].strip().rstrip(".")
    return text[:1].lower() + text[1:] if text else "it did not work"


def _read(fx: Effectors, allow: Allow, call: ToolCall) -> ToolResult:
    text = fx.read_text(allow.permit, Path(call.resource), max_bytes=READ_BUDGET)
    note = f" (the first {READ_BUDGET:,} bytes of {text.size:,})" if text.truncated else ""
    excerpt = " ".join(text.text.split())
    if len(excerpt) > EXCERPT_CHARS:
        excerpt = excerpt[:EXCERPT_CHARS].rstrip() + "…"
    return ToolResult(
        True,
        f"I read {text.path.name}{note}." if excerpt else f"{text.path.name} is empty.",
        FencedData(source=file_tag(text.path), text=text.text, trust="untrusted"),
        quote=excerpt,
    )


def _list(fx: Effectors, allow: Allow, call: ToolCall) -> ToolResult:
    entries = fx.list_dir(allow.permit, Path(call.resource))
    names = [f"{e.name}/" if e.is_dir else e.name for e in entries[:LIST_BUDGET]]
    more = f" and {len(entries) - LIST_BUDGET} more" if len(entries) > LIST_BUDGET else ""
    listing = ", ".join(names) if names else "(empty)"
    return ToolResult(True, f"{call.resource} holds {len(entries)} entries: {listing}{more}.")


def _create(fx: Effectors, allow: Allow, call: ToolCall) -> ToolResult:
    path = fx.create_file(allow.permit, Path(call.resource), call.payload)
    return ToolResult(True, f"Wrote {len(call.payload):,} characters to {home_short(str(path))}.")


def _edit(fx: Effectors, allow: Allow, call: ToolCall) -> ToolResult:
    path = fx.edit_file(allow.permit, Path(call.resource), call.payload)
    return ToolResult(True, f"Replaced the contents of {path}.")


def _delete(fx: Effectors, allow: Allow, call: ToolCall) -> ToolResult:
    fx.delete_file(allow.permit, Path(call.resource))
    return ToolResult(True, f"Deleted {call.resource}.")


def _browse(fx: Effectors, allow: Allow, call: ToolCall) -> ToolResult:
    fx.open_url(allow.permit, call.resource)
    return ToolResult(True, f"Opened {call.resource} in your browser.")


def _shell(fx: Effectors, allow: Allow, call: ToolCall) -> ToolResult:
    result = fx.run_process(allow.permit, shlex.split(call.resource), timeout=30.0)
    output = (result.stdout or result.stderr).strip()
    return ToolResult(
        result.returncode == 0,
        f"`{call.resource}` exited with {result.returncode}.",
        FencedData(source=f"process:{call.resource}", text=output[:READ_BUDGET]) if output else None,
    )


_HANDLERS = {
    "files.read": _read,
    "files.list": _list,
    "files.create": _create,
    "files.edit": _edit,
    "files.delete": _delete,
    "browser.open": _browse,
    "shell.exec": _shell,
}
