"""The grant ledger: durable permissions with an in-memory index.

A grant lets one persona perform one capability on resources matching a
pattern (see :mod:`aether_qt.policy.scope`). Grants live in the ``grants``
table of the app database (``db/0002_policy.sql``) and in an index keyed by
``(capability, persona)`` and normalised pattern, so a look-up costs a handful
of dictionary hits per candidate pattern of the resource, not a table scan.

Lifetimes:

* ``once``: bound to the single permit minted with it; never found by
  :meth:`GrantLedger.find_valid`; spent when that permit is redeemed.
* ``task``: valid only for requests carrying the same ``task_id``.
* ``session``: valid until the process ends. Session, task and unspent once
  grants are persisted like the rest and **ended at the next start** by the
  gate (an audited ``session_start`` cascade), so the table never silently
  disagrees with the audit log.
* ``persistent``: until revoked, or until its optional TTL runs out. Inside a
  process the TTL is measured on the monotonic clock; the wall-clock expiry
  is stored so it survives a restart.

The ledger never writes the audit log itself: the gate audits every change
first and then applies it here. :func:`replay` rebuilds the same state from
the audit rows, and the ledger's order-independent digest makes comparing the
two cheap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import peewee

from aether_qt.policy.capabilities import CAPABILITIES, ResourceKind
from aether_qt.policy.contracts import AuditRow, Clock, PolicyError

__all__ = [
    "GrantLedger",
    "GrantRecord",
    "LedgerError",
    "LedgerState",
    "ephemeral",
    "grant_facts",
    "grant_from_facts",
    "make_grant",
    "replay",
]
from aether_qt.policy.decisions import Duration, Grant, new_id
from aether_qt.policy.grant_state import (
    GrantRecord,
    LedgerState,
    float_or_none,
    grant_facts,
    grant_from_facts,
    replay,
)
from aether_qt.policy.scope import candidate_patterns, normalise_pattern
from aether_qt.storage.cipher import DB_ERRORS
from aether_qt.storage.errors import is_disk_full

_COLUMNS = (
    "grant_id, capability, resource_pattern, persona, duration, issued_by, audit_ref, "
    "issued_wall_ms, ttl_s, expires_wall_ms, task_id, revoked_at_ms, end_cause"
)
_EPHEMERAL = frozenset({Duration.ONCE, Duration.TASK, Duration.SESSION})
_DB_ERRORS = DB_ERRORS
_READ_ERRORS: tuple[type[BaseException], ...] = (*DB_ERRORS, ValueError, TypeError)


class LedgerError(PolicyError):
    """The grant table could not be read or written; the ledger is no longer intact."""


def make_grant(
    *,
    capability: str,
    resource_pattern: str,
    persona: str,
    duration: Duration,
    issued_by: str,
    clock: Clock,
    ttl_s: float | None = None,
    task_id: str | None = None,
) -> Grant:
    """A new grant (not yet audited: ``audit_ref`` is empty) with a normalised pattern.

    Raises:
        ScopeError: the pattern has no canonical form.
    """
    kind = CAPABILITIES[capability].resource_kind
    mono, wall = clock.monotonic_ns(), clock.wall_ms()
    return Grant(
        grant_id=new_id("grt"),
        capability=capability,
        resource_pattern=normalise_pattern(resource_pattern, kind),
        persona=persona,
        duration=duration,
        issued_by=issued_by,
        audit_ref="",
        issued_wall_ms=wall,
        ttl_s=float_or_none(ttl_s),
        expires_mono_ns=None if ttl_s is None else mono + int(ttl_s * 1e9),
        expires_wall_ms=None if ttl_s is None else wall + int(ttl_s * 1000),
        task_id=task_id,
    )


class GrantLedger:
    """Durable grants (``grants`` table) with a fast in-memory index.

    Not thread-safe on its own: the gate serialises access with its lock.
    """

    def __init__(self, database: peewee.SqliteDatabase, *, clock: Clock) -> None:
        """Load every grant from ``database`` (which must have ``db/0002_policy.sql`` applied).

        A row that cannot be read marks the ledger as not intact instead of raising.
        """
        self._db = database
        self._clock = clock
        self._state = LedgerState()
        self._intact = True
        self.out_of_space = False  # the last failure was a full disk (reload() may bring it back)
        self._generation = -1
        self._load()

    def _load(self) -> None:
        """(Re)read every grant and the generation they belong to."""
        try:
            with self._db.atomic():
                generation = self._read_generation()
                rows = self._db.execute_sql(  # type: ignore[no-untyped-call]
                    f"SELECT {_COLUMNS} FROM grants ORDER BY rowid"
                ).fetchall()
            state = LedgerState()
            for row in rows:
                state.add(self._from_row(row), end_cause=row[12])
        except _READ_ERRORS:
            self._intact = False
            return
        self._state, self._generation = state, generation

    def _read_generation(self) -> int:
        row = self._db.execute_sql("SELECT value FROM ledger_generation WHERE id = 1").fetchone()  # type: ignore[no-untyped-call]
        return int(row[0]) if row is not None else 0

    def refresh(self) -> bool:
        """Reload when another process changed the grants since; True if it did.

        Costs one read of a one-row table; the gate calls it before each decision.
        """
        try:
            current = self._read_generation()
        except _DB_ERRORS as exc:
            self._failed(exc)
            return False
        if current == self._generation:
            return False
        self._load()
        return True

    @property
    def intact(self) -> bool:
        """False after a failed read or write, or a mismatch with the audit log."""
        return self._intact

    def _failed(self, exc: BaseException) -> None:
        self._intact = False
        self.out_of_space = is_disk_full(exc, Path(str(self._db.database)))

    def reload(self) -> bool:
        """Read every grant again after a failure for want of space; True when that read worked.

        The ledger counts as intact again, so the caller must then check it
        against the verified audit rows and rebuild it from them if they differ,
        as the runtime does at start (:meth:`verify_against`, :meth:`rebuild_from_audit`).
        """
        self._intact = True
        self._load()
        if self._intact:
            self.out_of_space = False
        return self._intact

    def _from_row(self, row: tuple[Any, ...]) -> Grant:
        return self._with_mono(
            Grant(
                grant_id=row[0],
                capability=row[1],
                resource_pattern=row[2],
                persona=row[3],
                duration=Duration(row[4]),
                issued_by=row[5],
                audit_ref=row[6],
                issued_wall_ms=int(row[7]),
                ttl_s=float_or_none(row[8]),
                expires_wall_ms=row[9],
                task_id=row[10],
                revoked_at_ms=row[11],
            )
        )

    def _execute(self, writes: Iterable[tuple[str, tuple[Any, ...]]]) -> None:
        try:
            with self._db.atomic():
                others = self._read_generation() != self._generation  # another process wrote since
                for sql, params in writes:
                    self._db.execute_sql(  # type: ignore[no-untyped-call]
                        sql, params
                    )
                self._db.execute_sql(  # type: ignore[no-untyped-call]
                    "UPDATE ledger_generation SET value = value + 1 WHERE id = 1"
                )
                generation = self._read_generation()
        except _DB_ERRORS as exc:
            self._failed(exc)
            raise LedgerError(f"the grants cannot be written now ({exc})") from exc
        # the caller updates the index next; if another process wrote before us, the next
        # refresh() reloads everything instead of trusting an index that missed its change
        self._generation = -1 if others else generation

    @staticmethod
    def _insert(grant: Grant, end_cause: str | None) -> tuple[str, tuple[Any, ...]]:
        return (
            f"INSERT OR REPLACE INTO grants ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                grant.grant_id,
                grant.capability,
                grant.resource_pattern,
                grant.persona,
                grant.duration.value,
                grant.issued_by,
                grant.audit_ref,
                grant.issued_wall_ms,
                grant.ttl_s,
                grant.expires_wall_ms,
                grant.task_id,
                grant.revoked_at_ms,
                end_cause,
            ),
        )

    def issue(self, grant: Grant) -> Grant:
        """Persist and index an audited grant.

        Raises:
            ValueError: the grant has no ``audit_ref`` (it was not audited first).
            LedgerError: the database write failed.
        """
        if not grant.audit_ref:
            raise ValueError("a grant must be audited before it is issued")
        self._execute([self._insert(grant, None)])
        self._state.add(grant)
        return grant

    def get(self, grant_id: str) -> Grant | None:
        """The active (not ended) grant with this id, or None."""
        return self._state.active.get(grant_id)

    def is_valid(self, grant_id: str, now_mono_ns: int) -> bool:
        """Whether a grant is active and not past its TTL."""
        grant = self._state.active.get(grant_id)
        return grant is not None and not _expired(grant, now_mono_ns)

    def find_valid(
        self,
        capability: str,
        resource: str,
        persona: str,
        task_id: str | None,
        now_mono_ns: int,
        *,
        include_preset: bool = True,
    ) -> Grant | None:
        """The most specific valid grant covering a request, or None.

        Args:
            capability: the capability id.
            resource: the **canonical** resource (see ``scope.canonical_resource``).
            persona: the acting persona; grants are per persona.
            task_id: the request's task; ``task`` grants need the same one.
            now_mono_ns: the monotonic now, for TTLs.
            include_preset: False skips grants the preset issued on its own
                (``issued_by == "preset"``), used when the mode now says ask.
        """
        kind = CAPABILITIES[capability].resource_kind if capability in CAPABILITIES else ResourceKind.TEXT
        for grant in self._state.candidates(capability, persona, candidate_patterns(resource, kind)):
            if grant.duration is Duration.ONCE or _expired(grant, now_mono_ns):
                continue
            if grant.duration is Duration.TASK and grant.task_id != task_id:
                continue
            if not include_preset and grant.issued_by == "preset":
                continue
            return grant
        return None

    def revoke(self, grant_id: str, *, at_ms: int, cause: str = "revoked") -> bool:
        """End one grant. Idempotent: False when it was unknown or already ended.

        Raises:
            LedgerError: the database write failed.
        """
        return bool(self.revoke_many([grant_id], at_ms=at_ms, cause=cause))

    def spend(self, grant_id: str, *, at_ms: int) -> bool:
        """Mark a ``once`` grant as used (same as a revocation with cause ``spent``)."""
        return self.revoke(grant_id, at_ms=at_ms, cause="spent")

    def matching(self, predicate: Callable[[Grant], bool]) -> list[str]:
        """Ids of active grants for which ``predicate`` holds (for cascades)."""
        return [g.grant_id for g in self._state.active.values() if predicate(g)]

    def revoke_many(self, grant_ids: Iterable[str], *, at_ms: int, cause: str) -> list[str]:
        """End several grants in one transaction; return the ids that were active.

        Raises:
            LedgerError: the database write failed (nothing changed).
        """
        ended = [self._state.active[i] for i in dict.fromkeys(grant_ids) if i in self._state.active]
        writes = [self._insert(replace(g, revoked_at_ms=at_ms), cause) for g in ended]
        self._execute(writes)
        for grant in ended:
            self._state.end(grant.grant_id, at_ms, cause)
        return [g.grant_id for g in ended]

    def revoke_where(
        self,
        *,
        at_ms: int,
        cause: str,
        persona: str | None = None,
        durations: frozenset[Duration] | None = None,
        all_grants: bool = False,
    ) -> list[str]:
        """Cascade: end every active grant of ``persona`` and/or ``durations`` (or all)."""
        if not all_grants and persona is None and durations is None:
            return []
        return self.revoke_many(self.matching(_where(persona, durations)), at_ms=at_ms, cause=cause)

    def active(self) -> list[Grant]:
        """Every grant that has not ended (expired TTLs included), oldest first."""
        return list(self._state.active.values())

    def snapshot(self) -> dict[str, GrantRecord]:
        """Every grant ever recorded, keyed by id, without process-local fields."""
        return dict(self._state.records)

    def digest(self) -> str:
        """Cheap order-independent digest of :meth:`snapshot`."""
        return self._state.digest

    def verify_against(self, rows: Iterable[AuditRow]) -> bool:
        """Compare with a replay of the audit log; a mismatch marks the ledger not intact."""
        same = replay(rows).digest == self._state.digest
        self._intact = self._intact and same
        return same

    def rebuild_from_audit(self, rows: Iterable[AuditRow]) -> None:
        """Replace the table and the index with a replay of the audit log.

        Raises:
            LedgerError: the database write failed (the old state is kept).
        """
        state = replay(rows)
        writes: list[tuple[str, tuple[Any, ...]]] = [("DELETE FROM grants", ())]
        writes += [self._insert(r.grant, r.end_cause) for r in state.records.values()]
        self._execute(writes)
        fresh = LedgerState()
        for record in state.records.values():
            fresh.add(self._with_mono(record.grant), record.end_cause)
        self._state = fresh
        self._intact = True

    def _with_mono(self, grant: Grant) -> Grant:
        if grant.expires_wall_ms is None:
            return grant
        delta_ms = grant.expires_wall_ms - self._clock.wall_ms()
        return replace(grant, expires_mono_ns=self._clock.monotonic_ns() + delta_ms * 1_000_000)


def ephemeral(grant: Grant) -> bool:
    """True for grants that must not outlive the process (once, task, session)."""
    return grant.duration in _EPHEMERAL


def _expired(grant: Grant, now_mono_ns: int) -> bool:
    return grant.expires_mono_ns is not None and now_mono_ns >= grant.expires_mono_ns


def _where(persona: str | None, durations: frozenset[Duration] | None) -> Callable[[Grant], bool]:
    def predicate(grant: Grant) -> bool:
        return (persona is None or grant.persona == persona) and (
            durations is None or grant.duration in durations
        )

    return predicate
