"""Tool calls that wait for the user's approval, kept in the app database until answered.

An ``Ask`` stores the call under its ticket id; answering the ticket takes it
exactly once (even if two answers race) and runs it through the
:class:`~aether_qt.services.interaction.tools.ToolRunner`.
"""

from __future__ import annotations

import peewee

from aether_qt.services.interaction.tools import ToolCall, ToolResult
from aether_qt.storage.sql import execute


class PendingActions:
    """Tool calls waiting for an approval, keyed by ticket id (table ``pending_actions``).

    ``take`` marks a call done in the same statement that reads it, so a call
    is handed out at most once even if two answers race.
    """

    def __init__(self, database: peewee.SqliteDatabase) -> None:
        self._db = database

    def put(self, ticket_id: str, call: ToolCall, *, turn_id: str, now_ms: int) -> None:
        """Remember ``call`` for ``ticket_id``."""
        execute(
            self._db,
            "INSERT OR REPLACE INTO pending_actions "
            "(ticket_id, capability, resource, payload, turn_id, created_ms, state) "
            "VALUES (?, ?, ?, ?, ?, ?, 'pending')",
            (ticket_id, call.capability, call.resource, call.payload, turn_id, now_ms),
        )

    def take(self, ticket_id: str) -> ToolCall | None:
        """The pending call of ``ticket_id``, marked taken; None if unknown or already taken."""
        with self._db.atomic():
            row = execute(
                self._db,
                "SELECT capability, resource, payload, turn_id FROM pending_actions "
                "WHERE ticket_id = ? AND state = 'pending'",
                (ticket_id,),
            ).fetchone()
            if row is None:
                return None
            execute(self._db, "UPDATE pending_actions SET state = 'taken' WHERE ticket_id = ?", (ticket_id,))
        return ToolCall(capability=row[0], resource=row[1], payload=row[2], turn_id=row[3] or "")

    def finish(self, ticket_id: str, result: ToolResult) -> None:
        """Record the outcome of a taken call."""
        execute(
            self._db,
            "UPDATE pending_actions SET state = ?, result = ? WHERE ticket_id = ?",
            ("done" if result.ok else "failed", result.summary, ticket_id),
        )

    def drop(self, ticket_id: str) -> None:
        """Forget a call whose ticket was denied or answered draft-only."""
        execute(
            self._db,
            "UPDATE pending_actions SET state = 'dropped' WHERE ticket_id = ? AND state = 'pending'",
            (ticket_id,),
        )
