"""What the UI sees of a conversation: submit text, cancel, answer approvals; events on the bus.

The desktop widgets and quick talk depend on this protocol only. The real
implementation (:mod:`aether_qt.conductor`) runs each turn in the interaction
thread and generation in the router thread, and publishes, on the bus, for
every turn: ``turn.did_begin`` -> ``turn.did_change_state``* ->
``turn.did_show_phrase``* / ``router.did_stream_tokens``* -> exactly one
``turn.did_end``; model loading as ``router.did_change_model_status``; and
approvals as ``approvals.did_open_ticket`` (see :mod:`aether_qt.events`).
"""

from __future__ import annotations

from typing import Protocol

from aether_qt.policy.decisions import ApprovalChoice, Decision


class Conversation(Protocol):
    """The conversation as the UI drives it. Every method returns at once."""

    def submit(self, text: str, *, source: str = "typed") -> str | None:
        """Start a turn with ``text``; return its turn id, or None when ignored (empty input).

        A turn already running is cancelled first (the new message wins).
        """
        ...

    def cancel(self) -> None:
        """Cancel the running turn (it ends ``Cancelled``); nothing when idle."""
        ...

    def answer(self, ticket_id: str, choice: ApprovalChoice) -> Decision:
        """Answer an approval ticket; an allowed pending action runs exactly once."""
        ...

    def model_ready(self) -> bool:
        """Whether a local model is loaded (else replies come from the reflex tier)."""
        ...
