"""Tool calls that wait for the user's approval, kept in the app database until answered.

An ``Ask`` stores the call under its ticket id; answering the ticket takes it
exactly once (even if two answers race) and runs it through the
:class:`~aether_qt.services.interaction.tools.ToolRunner`.

When the disk fails: storing a call raises (the conductor withdraws its
ticket); an allowed call that cannot be read is not run, and the result says
so; recording how a call ended, or that it was dropped, never raises, because
the decision and the act stand whatever the bookkeeping says.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

import peewee

from aether_qt.policy.decisions import Decision, Deny, DenyReason, DraftOnly
from aether_qt.policy.user_words import explain_error
from aether_qt.services.interaction.tools import ToolCall, ToolResult
from aether_qt.storage.sql import execute

_log = logging.getLogger(__name__)
STORE_ERRORS = (sqlite3.Error, peewee.PeeweeException)
"""What a failing read or write of the table raises."""


class PendingActions:
    """Tool calls waiting for an approval, keyed by ticket id (table ``pending_actions``).

    ``take`` marks a call done in the same statement that reads it, so a call
    is handed out at most once even if two answers race.
    """

    def __init__(self, database: peewee.SqliteDatabase) -> None:
        self._db = database

    def put(self, ticket_id: str, call: ToolCall, *, turn_id: str, now_ms: int) -> None:
        """Remember ``call`` for ``ticket_id``.

        Raises:
            sqlite3.Error, peewee.PeeweeException: the call was not stored (see :data:`STORE_ERRORS`).
        """
        execute(
            self._db,
            "INSERT OR REPLACE INTO pending_actions "
            "(ticket_id, capability, resource, payload, turn_id, created_ms, state) "
            "VALUES (?, ?, ?, ?, ?, ?, 'pending')",
            (ticket_id, call.capability, call.resource, call.payload, turn_id, now_ms),
        )

    def peek(self, ticket_id: str) -> ToolCall | None:
        """The pending call of ``ticket_id`` (left pending); None if unknown, taken or unreadable."""
        try:
            return self._pending_call(ticket_id)
        except STORE_ERRORS as exc:
            _log.warning("the pending call of ticket %s could not be read: %s", ticket_id, exc)
            return None

    def _pending_call(self, ticket_id: str) -> ToolCall | None:
        row = execute(
            self._db,
            "SELECT capability, resource, payload, turn_id FROM pending_actions "
            "WHERE ticket_id = ? AND state = 'pending'",
            (ticket_id,),
        ).fetchone()
        return None if row is None else ToolCall(row[0], row[1], row[2], row[3] or "")

    def take(self, ticket_id: str) -> ToolCall | None:
        """The pending call of ``ticket_id``, marked taken; None if unknown or already taken."""
        with self._db.atomic():
            call = self._pending_call(ticket_id)
            if call is None:
                return None
            execute(self._db, "UPDATE pending_actions SET state = 'taken' WHERE ticket_id = ?", (ticket_id,))
        return call

    def run(self, ticket_id: str, perform: Callable[[ToolCall], ToolResult]) -> ToolResult | None:
        """Take the call of an allowed ticket, ``perform`` it once and record how it ended.

        Returns None when the ticket has no call (``aether policy evaluate`` opens
        tickets without one). A call that cannot be read is not performed: the
        result says so (nothing was done; ask again).
        """
        try:
            call = self.take(ticket_id)
        except STORE_ERRORS as exc:
            return ToolResult(
                False,
                f"The approved action could not be read. {explain_error(exc)} Nothing was done; ask again.",
            )
        if call is None:
            return None
        result = perform(call)
        self.finish(ticket_id, result)
        return result

    def finish(self, ticket_id: str, result: ToolResult) -> None:
        """Record the outcome of a taken call (a failure to record it is logged, not raised)."""
        self._update(
            "UPDATE pending_actions SET state = ?, result = ? WHERE ticket_id = ?",
            ("done" if result.ok else "failed", result.summary, ticket_id),
        )

    def drop(self, ticket_id: str) -> None:
        """Forget a call whose ticket the user denied or answered draft-only (logged if it fails)."""
        self._update(
            "UPDATE pending_actions SET state = 'dropped' WHERE ticket_id = ? AND state = 'pending'",
            (ticket_id,),
        )

    def _update(self, sql: str, params: tuple[str, ...]) -> None:
        try:
            execute(self._db, sql, params)
        except STORE_ERRORS as exc:
            _log.warning("the pending call of ticket %s was not updated: %s", params[-1], exc)


def refused_by_user(decision: Decision) -> bool:
    """Whether the user's own answer refused the call (deny, or draft only): it will never run.

    Any other refusal of an answer is a recheck (audit unavailable, ledger not
    intact, paused, out of scope): the ticket stays pending, and so does its call.
    """
    if isinstance(decision, Deny):
        return decision.reason is DenyReason.USER_DENIED
    return isinstance(decision, DraftOnly) and decision.source == "user"
