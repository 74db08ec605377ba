"""Approval tickets: the durable questions an ``Ask`` puts to the user.

An ``Ask`` decision opens a ticket in the ``approval_tickets`` table; the UI
lists the pending ones and answers through :meth:`Gate.answer
<aether_qt.policy.gate.Gate.answer>`, which turns the choice into a grant and a
decision (see :func:`plan_answer`). A ticket is answered at most once and a
pending ticket is never auto-denied: it waits, across restarts, until the user
answers it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import peewee

from aether_qt.policy.capabilities import ResourceKind
from aether_qt.policy.contracts import AuditRow, Clock, PolicyError
from aether_qt.policy.decisions import ActionRequest, ApprovalChoice, ApprovalTicket, Duration, TicketState
from aether_qt.policy.grants import LedgerError
from aether_qt.policy.scope import ScopeError, candidate_patterns, default_scope, normalise_pattern
from aether_qt.storage.cipher import DB_ERRORS
from aether_qt.storage.errors import is_disk_full

_COLUMNS = "ticket_id, request_json, risk, created_wall_ms, state, choice, scope"
_DB_ERRORS = DB_ERRORS


class TicketError(PolicyError):
    """A ticket is unknown, already answered, or answered with a scope that does not fit."""


class TicketUnreadableError(TicketError, LedgerError):
    """The ticket table could not be read (a disk error): the ticket cannot be answered now.

    Both a :class:`TicketError` (what the approval card and the command show)
    and a :class:`LedgerError` (the store is no longer intact: the gate denies
    until restart).
    """


def request_to_json(request: ActionRequest) -> str:
    """Serialise an action request for the ticket table."""
    return json.dumps(asdict(request), sort_keys=True)


def request_from_json(text: str) -> ActionRequest:
    """Inverse of :func:`request_to_json`."""
    data: dict[str, Any] = json.loads(text)
    data["provenance_tags"] = tuple(data["provenance_tags"])
    return ActionRequest(**data)


@dataclass(frozen=True, slots=True)
class AnswerPlan:
    """What an answer does: the decision kind and, for allows, the grant to issue.

    Attributes:
        outcome: ``allow``, ``draft`` or ``deny``.
        duration: the grant's duration (allows only).
        pattern: the grant's normalised resource pattern (allows only).
    """

    outcome: str
    duration: Duration | None = None
    pattern: str | None = None


def plan_answer(choice: ApprovalChoice, scope: str | None, canonical: str, kind: ResourceKind) -> AnswerPlan:
    """Turn a user's choice into a plan.

    ``allow_once`` grants exactly the resource; ``allow_session`` the resource
    (or ``scope``) for this session; ``always_scope`` ``scope`` persistently,
    by default the parent folder's ``/**``, the URL's origin or the literal.

    Raises:
        TicketError: ``scope`` is malformed or does not cover the resource.
    """
    if choice is ApprovalChoice.DENY:
        return AnswerPlan("deny")
    if choice is ApprovalChoice.DRAFT_ONLY:
        return AnswerPlan("draft")
    if choice is ApprovalChoice.ALLOW_ONCE:
        return AnswerPlan("allow", Duration.ONCE, canonical)
    fallback = canonical if choice is ApprovalChoice.ALLOW_SESSION else default_scope(canonical, kind)
    try:
        pattern = normalise_pattern(scope, kind) if scope else fallback
    except ScopeError as exc:
        raise TicketError(f"scope {scope!r} is not a valid pattern") from exc
    if pattern not in candidate_patterns(canonical, kind):
        raise TicketError(f"scope {scope!r} does not cover the requested resource")
    duration = Duration.SESSION if choice is ApprovalChoice.ALLOW_SESSION else Duration.PERSISTENT
    return AnswerPlan("allow", duration, pattern)


class TicketStore:
    """Durable approval tickets in the app database.

    Not thread-safe on its own: the gate serialises access with its lock.
    """

    def __init__(self, database: peewee.SqliteDatabase, *, clock: Clock) -> None:
        """Use ``database`` (with ``db/0002_policy.sql`` applied)."""
        self._db = database
        self._clock = clock
        self._intact = True
        self.out_of_space = False  # the last failure was a full disk (recheck() may bring it back)

    @property
    def intact(self) -> bool:
        """False after a failed read or write of the ticket table."""
        return self._intact

    def recheck(self) -> bool:
        """After a failure for want of space: True (and intact again) when the table can be read.

        Tickets live only in the database (a failed write changed nothing), so
        a table that reads again is whole again.
        """
        self._intact = True
        try:
            self._query("SELECT count(*) FROM approval_tickets")
        except LedgerError:
            return False
        self.out_of_space = False
        return True

    def _query(
        self, sql: str, params: tuple[Any, ...] = (), *, error: type[LedgerError] = LedgerError
    ) -> list[tuple[Any, ...]]:
        try:
            with self._db.atomic():
                cursor = self._db.execute_sql(sql, params)  # type: ignore[no-untyped-call]
                return list(cursor.fetchall())
        except _DB_ERRORS as exc:
            self._intact = False
            self.out_of_space = is_disk_full(exc, Path(str(self._db.database)))
            raise error(f"the approval tickets cannot be read or written now ({exc})") from exc

    def open(self, request: ActionRequest, *, ticket_id: str, risk: str, audit_ref: str) -> ApprovalTicket:
        """Record a new pending ticket for an audited ``Ask``.

        Raises:
            LedgerError: the database write failed.
        """
        ticket = ApprovalTicket(ticket_id, request, risk, self._clock.wall_ms())
        self._query(
            "INSERT INTO approval_tickets (ticket_id, request_json, risk, created_wall_ms, audit_ref, state) "
            "VALUES (?,?,?,?,?,?)",
            (
                ticket_id,
                request_to_json(request),
                risk,
                ticket.created_wall_ms,
                audit_ref,
                ticket.state.value,
            ),
        )
        return ticket

    def get(self, ticket_id: str) -> ApprovalTicket:
        """The ticket with this id.

        Raises:
            TicketError: no such ticket.
            TicketUnreadableError: the database read failed.
        """
        rows = self._query(
            f"SELECT {_COLUMNS} FROM approval_tickets WHERE ticket_id = ?",
            (ticket_id,),
            error=TicketUnreadableError,
        )
        if not rows:
            raise TicketError(f"no approval ticket {ticket_id!r}")
        return _ticket(rows[0])

    def pending(self) -> list[ApprovalTicket]:
        """Every unanswered ticket, oldest first."""
        rows = self._query(
            f"SELECT {_COLUMNS} FROM approval_tickets WHERE state = ? ORDER BY created_wall_ms, rowid",
            (TicketState.PENDING.value,),
        )
        return [_ticket(row) for row in rows]

    def mark_answered(
        self, ticket_id: str, *, choice: ApprovalChoice, scope: str | None, audit_ref: str
    ) -> ApprovalTicket:
        """Record the answer of a pending ticket (after it was audited).

        Raises:
            TicketError: unknown or already answered.
            LedgerError: the database write failed.
        """
        ticket = self.get(ticket_id)
        if ticket.state is TicketState.ANSWERED:
            raise TicketError(f"approval ticket {ticket_id!r} was already answered")
        self._query(
            "UPDATE approval_tickets SET state = ?, choice = ?, scope = ?, answered_wall_ms = ?, "
            "answer_audit_ref = ? WHERE ticket_id = ?",
            (TicketState.ANSWERED.value, choice.value, scope, self._clock.wall_ms(), audit_ref, ticket_id),
        )
        return replace(ticket, state=TicketState.ANSWERED, choice=choice, scope=scope)  # stored: no re-read

    def close_answered(self, rows: Iterable[AuditRow]) -> list[str]:
        """Mark answered every pending ticket whose answer is in ``rows``; return their ids.

        The gate audits an answer before it stores the grant and closes the ticket,
        so a crash in between leaves a ticket pending that the audit log says was
        answered (and whose grant the start rebuilds from the log). The runtime
        calls this at start with the verified grant rows, so a ticket answered
        with an allow is never asked twice; a crash right after a refusal was
        audited leaves that ticket pending, to be answered again.

        Raises:
            LedgerError: the database read or write failed.
        """
        pending = {ticket.ticket_id for ticket in self.pending()}
        closed: list[str] = []
        for row in rows:
            ticket_id = row.detail.get("ticket_id")
            if row.detail.get("event") != "ticket_answered" or ticket_id not in pending:
                continue
            choice = ApprovalChoice(row.detail["choice"])
            self.mark_answered(
                ticket_id, choice=choice, scope=row.detail.get("scope"), audit_ref=row.audit_id
            )
            pending.discard(ticket_id)
            closed.append(ticket_id)
        return closed


def _ticket(row: tuple[Any, ...]) -> ApprovalTicket:
    return ApprovalTicket(
        ticket_id=row[0],
        request=request_from_json(row[1]),
        risk=row[2],
        created_wall_ms=int(row[3]),
        state=TicketState(row[4]),
        choice=None if row[5] is None else ApprovalChoice(row[5]),
        scope=row[6],
    )
