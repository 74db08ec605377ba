"""The ports of the widgets: what the UI needs from the services, as small protocols.

Widgets never import a service (an import-linter contract says so). The
composition root (:mod:`aether_qt.app`) builds the services and hands each
widget objects that satisfy these protocols; the consumer owns its port, so a
service can change its insides without the UI noticing, and widget tests drive
the UI with plain test doubles.

:class:`PolicyControls` is what the trust centre and the tray change in the
policy layer: answer a ticket, revoke, revoke all, switch the preset, pause.
The real implementation (:class:`~aether_qt.services.gate.gate_on_bus.GateOnBus`)
audits each change through the gate and publishes it on the bus
(``grants.did_revoke``, ``policy.did_change_preset``, ``policy.did_change_pause``
...), which is how the window learns about changes instead of polling.

:class:`DataSafety` is the trust centre's Backup and Restore (the real one is
:class:`~aether_qt.services.gate.data_safety.DataSafetyService`).

:class:`Costs` is the trust centre's Costs tab and the window's remote banners (the real one
is :class:`~aether_qt.services.gate.costs.CostsService`).

:class:`Conversations` is the window's conversation list (new, open, rename, delete,
search); the real one is
:class:`~aether_qt.services.interaction.conversations.ConversationService`.

:class:`Conversation` is what the UI sees of a conversation: submit text,
cancel, answer approvals; events on the bus. The real implementation
(:class:`~aether_qt.services.interaction.host.QtConversation`) runs each turn in
the interaction thread and generation in the router thread, and publishes, on
the bus, for every turn: ``turn.did_begin`` -> ``turn.did_change_state``* ->
``turn.did_show_phrase``* / ``router.did_stream_tokens``* -> exactly one
``turn.did_end``; model loading as ``router.did_change_model_status``; and
approvals as ``approvals.did_open_ticket`` (see :mod:`aether_qt.core.events`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from aether_qt.core.cost_views import CostsView, RemoteView
from aether_qt.core.events import MemoryStatusChanged
from aether_qt.engines.memory.items import Kind, MemoryItem, MemoryOutcome, PrivacyClass
from aether_qt.engines.memory.recall import RecallResult
from aether_qt.policy.capabilities import Preset
from aether_qt.policy.decisions import ApprovalChoice, Decision
from aether_qt.storage.conversations import ConversationSummary, SearchHit, StoredMessage

_T = TypeVar("_T")


class PolicyControls(Protocol):
    """The user's policy switches. Each change is audited, applied and published before it returns."""

    def answer(self, ticket_id: str, choice: ApprovalChoice, scope: str | None = None) -> Decision:
        """Answer an approval ticket through the gate.

        Raises:
            TicketError: unknown or already answered ticket.
        """
        ...

    def revoke(self, grant_id: str) -> bool:
        """Revoke one grant; False when it was unknown or had already ended."""
        ...

    def revoke_all(self) -> list[str]:
        """Emergency: revoke every grant and void every outstanding permit; the ids revoked."""
        ...

    def set_preset(self, preset: Preset) -> list[str]:
        """Persist and apply a permission preset; the grants its cascade revoked."""
        ...

    def pause(self, paused: bool) -> None:
        """Pause (True) or resume every side effect."""
        ...


class DataSafety(Protocol):
    """Backups as the trust centre makes and checks them. Both calls block: run them in a worker thread.

    Expected failures (refused by the gate, a wrong passphrase, a changed file, a full
    disk) raise :class:`~aether_qt.core.errors.ExplainedError` with a sentence for the
    user; anything else is a bug. ``progress(done, total)`` is called from the worker
    thread (``total`` None when unknown).
    """

    def backup(self, out: Path, passphrase: str, progress: Callable[[int, int | None], None]) -> str:
        """Write a passphrase-sealed backup of the home to the new file ``out``; a sentence saying what."""
        ...

    def check_backup(self, bundle: Path, passphrase: str, progress: Callable[[int, int | None], None]) -> str:
        """Check the backup ``bundle`` in full; a sentence saying what it holds and what to do."""
        ...

    def restore_command(self, bundle: Path) -> str:
        """The command line that restores ``bundle`` once the app is closed (cheap: no check)."""
        ...


class Costs(Protocol):
    """The cost ledger as the Costs tab and the remote banners see it.

    Each call is one short transaction on the app database (run on the GUI
    thread). Expected failures (a locked or damaged ledger, the gate's refusal,
    a bad amount) raise :class:`~aether_qt.core.errors.ExplainedError` with a
    sentence for the user; nothing is changed then.
    """

    def view(self, limit: int) -> CostsView:
        """Spend against the caps and the newest ``limit`` entries."""
        ...

    def set_caps(self, daily_usd: float, monthly_usd: float) -> str:
        """Set both caps as the user's audited act; a sentence saying what changed."""
        ...

    def rearm(self) -> str:
        """Re-arm a tripped cap as the user's audited act; a sentence saying what happened."""
        ...

    def remote(self) -> RemoteView:
        """The active remote provider, today's spend and whether its breaker is open."""
        ...


class Conversation(Protocol):
    """The conversation as the UI drives it. Every method returns at once."""

    def submit(self, text: str, *, source: str = "typed") -> str | None:
        """Start a turn with ``text``; return its turn id, or None when ignored (empty input).

        A turn already running is cancelled first (the new message wins).
        """
        ...

    def regenerate(self) -> str | None:
        """Answer the last message again; the new turn's ``turn.did_begin`` names the turn it ``replaces``.

        The model does not see its old answer. Returns the new turn id.
        """
        ...

    def edit_last(self, text: str) -> str | None:
        """Edit and resend: ``text`` replaces the last message and its reply (``replaces`` as above)."""
        ...

    def continue_reply(self) -> str | None:
        """Go on with the last reply, cut at the length limit (``turn.did_end`` said ``cut``).

        The new turn's ``turn.did_begin`` names the turn it ``continues`` and has no text; its
        tokens and its final reply (the whole reply, old words and new) belong to that turn.
        """
        ...

    def cancel(self) -> None:
        """Cancel the running turn (it ends ``Cancelled``); nothing when idle."""
        ...

    def answer(self, ticket_id: str, choice: ApprovalChoice) -> Decision:
        """Answer an approval ticket; an allowed pending action runs exactly once."""
        ...

    def create_folder(self, ticket_id: str) -> str:
        """Create the missing folder a waiting file action writes into (gated); one sentence about it."""
        ...

    def move_to_folder(self, ticket_id: str, folder: Path) -> str:
        """Ask again for a waiting file action with its file in ``folder``; one sentence about it."""
        ...

    def model_ready(self) -> bool:
        """Whether a local model is loaded (else replies come from the reflex tier)."""
        ...


class Conversations(Protocol):
    """The conversation list: the stored conversations, which one is open, and the changes to them.

    The real one is :class:`~aether_qt.services.interaction.conversations.ConversationService`.
    Each call is one short transaction on the app database (run on the GUI thread).
    Opening a conversation (or a new one) resets the model's history to it. Expected
    failures (a locked, full or damaged database) raise
    :class:`~aether_qt.core.errors.ExplainedError` with a sentence for the user.
    """

    def current(self) -> str:
        """The open conversation (possibly a new one, not stored until its first message)."""
        ...

    def resume(self) -> list[StoredMessage]:
        """At start: open the conversation opened last (or a new one); its messages."""
        ...

    def conversations(self) -> list[ConversationSummary]:
        """The stored conversations, the one with the newest message first."""
        ...

    def new(self) -> None:
        """Start a new, empty conversation (the model forgets the open one's history)."""
        ...

    def open(self, conversation_id: str) -> list[StoredMessage]:
        """Continue a stored conversation; its messages, oldest first."""
        ...

    def rename(self, conversation_id: str, title: str) -> bool:
        """Give a conversation the user's title (ValueError when empty); False when unknown."""
        ...

    def delete(self, conversation_id: str) -> bool:
        """Delete a conversation and its messages (the open one: a new conversation starts)."""
        ...

    def search(self, query: str) -> list[SearchHit]:
        """Messages of every conversation matching all words of ``query``, newest first."""
        ...

    def forget_from_turn(self, turn_id: str) -> bool:
        """Drop turn ``turn_id`` and what followed from the open conversation (regenerate, edit)."""
        ...


class MemoryEdits(Protocol):
    """The user's own memory edits, each a gate decision (run in the memory thread)."""

    def add(self, text: str, *, kind: Kind | None = None, privacy: PrivacyClass = ...) -> MemoryOutcome:
        """Add a memory by hand."""
        ...

    def edit(self, item_id: str, text: str) -> MemoryOutcome:
        """Correct a memory's text."""
        ...

    def set_privacy(self, item_id: str, privacy: PrivacyClass) -> MemoryOutcome:
        """Change a memory's privacy class."""
        ...

    def forget(self, item_id: str, *, now: bool = False) -> MemoryOutcome:
        """Forget a memory (``now``: erase its words at once)."""
        ...

    def restore(self, item_id: str) -> MemoryOutcome:
        """Bring back a memory forgotten within the grace period, exactly as it was."""
        ...

    def import_file(self, path: Path, *, passphrase: str | None = None) -> MemoryOutcome:
        """Import an export file in one transaction (a sealed one needs its passphrase)."""
        ...

    def export_file(self, path: Path, *, passphrase: str) -> MemoryOutcome:
        """Export every live memory to ``path``, sealed with ``passphrase``."""
        ...


class Memory(Protocol):
    """Memory as the panel's jobs use it, in the memory thread."""

    @property
    def status(self) -> MemoryStatusChanged:
        """The last published status (starting, rebuilding, ready, text only, unavailable)."""
        ...

    @property
    def edits(self) -> MemoryEdits:
        """The user's own edits."""
        ...

    def list_items(
        self, kind: Kind | None = None, *, limit: int = ..., offset: int = ...
    ) -> list[MemoryItem]:
        """Live memories, newest first."""
        ...

    def get(self, item_id: str) -> MemoryItem | None:
        """One live memory, or None."""
        ...

    def search(self, query: str, *, k: int = ...) -> RecallResult:
        """The best matches of ``query``."""
        ...

    def forgotten(self, item_ids: Sequence[str]) -> list[MemoryItem]:
        """Those of ``item_ids`` forgotten and still restorable (their words not yet erased)."""
        ...


class MemoryJobs(Protocol):
    """Runs the panel's jobs in the memory thread; replies come back in the GUI thread."""

    @property
    def service(self) -> Memory:
        """The memory the jobs run against (read its status from the GUI thread)."""
        ...

    def call(
        self,
        job: Callable[[Memory], _T],
        done: Callable[[_T], None] | None = ...,
        failed: Callable[[Exception], None] | None = ...,
    ) -> None:
        """Run ``job(memory)`` in the memory thread; ``done(result)`` or ``failed(exc)`` then run here."""
        ...
