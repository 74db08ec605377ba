"""The folder of a file action waiting for approval: create it, or move the action to another folder.

A card for ``write ~/Documents/todo.txt …`` says when ``~/Documents`` does not
exist yet and offers two buttons: create the folder (the user's click is the
approval of ``files.create`` on the folder: gated, audited, done by the
effectors) or choose another folder (it becomes an approved folder, the old
ticket is withdrawn and a new one opens for the same turn, so the answer's result
still lands in the reply of the turn that asked).
"""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

from aether_qt.core.bus import EventBus
from aether_qt.core.events import ActionFinished
from aether_qt.policy.contracts import Clock, PolicyError
from aether_qt.policy.decisions import Allow, ApprovalChoice, Ask
from aether_qt.policy.provenance import home_short
from aether_qt.services.gate.gate_on_bus import GateOnBus
from aether_qt.services.gate.user_acts import decide_as_user
from aether_qt.services.interaction.pending_actions import STORE_ERRORS, PendingActions
from aether_qt.services.interaction.previews import describe_call
from aether_qt.services.interaction.tools import ToolRunner, failure_reason

SOURCE = "L1"
GONE = "This request is no longer waiting for your answer."


class ApprovalFolders:
    """Create the missing folder of a waiting file action, or move the action to another folder."""

    def __init__(
        self, *, gate: GateOnBus, tools: ToolRunner, pending: PendingActions, bus: EventBus, clock: Clock
    ) -> None:
        self._gate, self._tools, self._pending, self._bus, self._clock = gate, tools, pending, bus, clock

    def create(self, ticket_id: str) -> str:
        """Create the folder the waiting call of ``ticket_id`` writes into; one sentence about it.

        The ticket stays open; its card is described again (the folder now exists).
        """
        call = self._pending.peek(ticket_id)
        if call is None:
            return GONE
        folder = Path(call.resource).parent
        where = home_short(str(folder))
        decision = decide_as_user(self._gate.gate, "files.create", str(folder))
        if not isinstance(decision, Allow):
            return f"The folder {where} was not created: your settings do not allow it."
        try:
            self._tools.create_folder(decision, folder)
        except PolicyError as exc:
            return f"The folder {where} could not be created: {failure_reason(exc)}."
        self._bus.publish(describe_call(ticket_id, call), source_layer=SOURCE, turn_id=call.turn_id or None)
        return f"Created the folder {where}."

    def move(self, ticket_id: str, folder: Path) -> str:
        """Ask again for the waiting call of ``ticket_id`` with its file in ``folder``; one sentence.

        ``folder`` joins the approved folders (an audited change; the others stay
        approved), the old ticket is withdrawn ("deny", audited)
        and the same request, moved, is evaluated again for the same turn.
        """
        call = self._pending.peek(ticket_id)
        if call is None:
            return GONE
        request = self._gate.request_of(ticket_id)
        roots = tuple(root for root in self._gate.roots() if root != folder)
        self._gate.set_roots((*roots, folder))
        self._gate.answer(ticket_id, ApprovalChoice.DENY)
        self._pending.drop(ticket_id)
        target = str(folder / Path(call.resource).name)
        moved = dataclasses.replace(request, resource=target, request_id=f"req_{uuid.uuid4().hex}")
        decision = self._gate.evaluate(moved)
        new_call = dataclasses.replace(call, resource=target)
        if isinstance(decision, Allow):  # a standing grant covers the new place: no question to ask
            result = self._tools.run(decision, new_call)
            finished = ActionFinished(ticket_id, call.turn_id, result.ok, result.summary)
            self._bus.publish(finished, source_layer=SOURCE, turn_id=call.turn_id or None)
            return result.summary
        if not isinstance(decision, Ask):
            return f"Aether may not write {home_short(target)}; nothing was done."
        new_ticket = decision.ticket.ticket_id
        try:
            self._pending.put(new_ticket, new_call, turn_id=call.turn_id, now_ms=self._clock.wall_ms())
        except STORE_ERRORS:
            self._gate.answer(new_ticket, ApprovalChoice.DENY)
            return "The request could not be kept for your answer; nothing was done. Ask again."
        self._bus.publish(
            describe_call(new_ticket, new_call), source_layer=SOURCE, turn_id=call.turn_id or None
        )
        return f"The file now goes to {home_short(target)}: answer the new card."
