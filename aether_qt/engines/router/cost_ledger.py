"""The persisted cost ledger: reservations checked against daily and monthly caps, atomically.

Tables: ``db/0007_cost_ledger.sql`` in ``aether.db`` (encrypted like the rest).

How the caps hold:

* **Atomic.** A reservation is checked and written in one ``BEGIN IMMEDIATE``
  transaction: SQLite's write lock serialises every thread's connection and
  every process of the home, so two calls never both see the room that only
  one of them fits. Spent plus reserved therefore never passes a cap by
  reservations; only a settlement larger than its reservation (a server that
  reports more than ``max_tokens``) can go past it, and the next reservation
  then trips the cap.
* **Clock.** The ledger's time is ``max(wall clock, high-water mark)`` and the
  mark is saved with every write, so moving the system clock back never opens
  a new day or month (restarts included).
* **Tripped.** A reservation that does not fit trips the cap of its period,
  and the ledger refuses every paid call, even a smaller one that would fit,
  until the user re-arms it (audited, with a ``cost.admin`` permit of their
  own) or that period truly ends by the ledger's clock. Why a new period
  re-opens on its own: the cap *is* the user's budget per period, already
  approved; a daily cap that stayed shut for good would be an off switch the
  user did not ask for. Why the same period stays shut: refusing only what
  does not fit would let a stream of small calls creep up to the cap after
  the user was told it was reached.
* **Free calls.** A reservation that costs nothing (a self-hosted server)
  cannot spend money, so it is never refused by a cap.
* **Refuse when unsure.** A locked, damaged or missing ledger (and the
  in-memory stand-in used while the data is locked) raises
  :class:`~.costs.LedgerUnavailable`: no check, no spend.

A reservation left open by a process that died is kept at its full amount
(the server may well have billed it) and marked ``abandoned`` after
``stale_after_ms``.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import peewee

from aether_qt.engines.router.costs import (
    CapReached,
    CostEntry,
    CostState,
    LedgerUnavailable,
    Price,
    Reservation,
    cap_sentence,
    check_tokens,
    cost_micros,
    day_key,
    entry_from_row,
    format_usd,
    micros_from_usd,
    month_key,
)
from aether_qt.policy.contracts import PermitVerifier
from aether_qt.policy.decisions import Permit
from aether_qt.storage.cipher import DB_ERRORS
from aether_qt.storage.errors import DatabaseLockedError, translate_sqlite_error
from aether_qt.storage.sql import execute

ADMIN_CAPABILITY = "cost.admin"
REARM_RESOURCE = "costs:rearm"
CAPS_RESOURCE = "costs:caps"
USER = "user"  # the persona of the user's own acts (services.gate.user_acts.USER)
STALE_AFTER_MS = 15 * 60_000
"""Longer than any call may stream (connect + read timeouts, retries): an older open reservation is dead."""
_MAX_NAME = 200
_MAX_ENTRIES = 10_000
_TRIPPED = "The cost cap was reached: run `aether costs rearm` to re-arm it."
_ENTRY_COLUMNS = (
    "id, provider, model, day, state, reserved_micros, charged_micros, input_tokens, output_tokens,"
    " usage_reported, created_at_ms"
)


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


def _name(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_NAME:
        raise ValueError(f"{what} must be a non-empty name of at most {_MAX_NAME} characters")
    return value


class CostLedger:
    """Reserve, settle and release the cost of remote calls under daily and monthly caps.

    Thread-safe and process-safe: every method is one SQLite transaction on the
    calling thread's connection. Construct one per database; it holds no state
    of its own besides the clock.

    Example::

        ledger = CostLedger(database=runtime.database)
        held = ledger.reserve("openai", "gpt-4o-mini", prompt_tokens, max_tokens, price)
        try:
            result = provider.generate_with(...)
        except RemoteError:
            ledger.release(held)  # or settle, if the server reported usage first
            raise
        ledger.settle(held, result.prompt_tokens, result.tokens, usage_reported=result.usage_reported)
    """

    def __init__(
        self,
        *,
        database: peewee.SqliteDatabase,
        clock_ms: Callable[[], int] = _wall_ms,
        stale_after_ms: int = STALE_AFTER_MS,
    ) -> None:
        """Bind the ledger to the app database.

        Args:
            database: the open, migrated ``aether.db``. The in-memory stand-in of a
                locked home is accepted but refuses every paid call.
            clock_ms: the wall clock (tests move it back and forth).
            stale_after_ms: an open reservation older than this is counted as abandoned.
        """
        self._db = database
        self._path = Path(str(database.database))
        self._clock_ms = clock_ms
        self._stale_after_ms = stale_after_ms
        self._durable = self._path.is_file()  # the stand-in lives in memory: nothing would persist

    # ------------------------------------------------------------------ plumbing

    @contextlib.contextmanager
    def _transaction(self, *, write: bool) -> Iterator[None]:
        """A transaction (``BEGIN IMMEDIATE`` to write); database trouble is :class:`LedgerUnavailable`."""
        if not self._durable:
            raise LedgerUnavailable(
                "Your data is locked, so the cost ledger cannot be checked: "
                "remote models are off until it opens."
            )
        if write and self._db.in_transaction():
            raise RuntimeError(
                "the cost ledger writes in its own transaction (BEGIN IMMEDIATE), not inside another"
            )
        try:
            with self._db.atomic(lock_type="IMMEDIATE" if write else None):
                yield
        except DB_ERRORS as exc:
            error = translate_sqlite_error(exc, self._path)
            what = "locked by another program" if isinstance(error, DatabaseLockedError) else "unusable"
            raise LedgerUnavailable(
                f"The cost ledger is {what} ({error.detail}), so no spend can be checked: "
                "remote models are off until it works again."
            ) from exc

    def _row(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = execute(self._db, sql, params).fetchone()
        return row

    def _settings(self) -> tuple[int, int, int, str | None, str]:
        """``(daily cap, monthly cap, high-water ms, tripped period, reason)``; a bad row is damage."""
        row = self._row(
            "SELECT daily_cap_micros, monthly_cap_micros, high_water_ms, tripped_period, tripped_reason"
            " FROM cost_state WHERE id = 1"
        )
        if row is None or not all(isinstance(v, int) and v >= 0 for v in row[:3]):
            raise LedgerUnavailable(
                f"The cost ledger in {self._path.name} is damaged (its caps are missing): "
                "remote models are off until it is repaired."
            )
        tripped = row[3] if isinstance(row[3], str) and row[3] else None
        return row[0], row[1], row[2], tripped, str(row[4] or "")

    def _now(self, high_water: int, *, save: bool) -> int:
        """The ledger's clock; with ``save`` the mark moves up to it (inside a write transaction)."""
        wall = self._clock_ms()
        if save and wall > high_water:
            execute(self._db, "UPDATE cost_state SET high_water_ms = ? WHERE id = 1", (wall,))
        return max(wall, high_water)

    def _used(self, column: str, key: str) -> int:
        row = self._row(
            f"SELECT coalesce(sum(charged_micros), 0) FROM cost_entries WHERE {column} = ?", (key,)
        )
        return int(row[0]) if row else 0

    def _event(self, kind: str, detail: dict[str, Any], audit_id: str, now: int) -> None:
        execute(
            self._db,
            "INSERT INTO cost_events (kind, detail, audit_id, at_ms) VALUES (?, ?, ?, ?)",
            (kind, json.dumps(detail, sort_keys=True), audit_id, now),
        )

    @staticmethod
    def _current(tripped: str | None, now: int) -> str | None:
        """The trip if its period is still the current one, else None (the period ended)."""
        if tripped in (f"day:{day_key(now)}", f"month:{month_key(now)}"):
            return tripped
        return None

    # ------------------------------------------------------------------ spending

    def reserve(
        self, provider: str, model: str, prompt_tokens: int, max_tokens: int, price: Price
    ) -> Reservation:
        """Hold the worst case of one call (``prompt_tokens`` in, ``max_tokens`` out at ``price``).

        Raises:
            CapReached: it does not fit under the daily or monthly cap (the cap trips),
                or a cap of this period was reached and not re-armed.
            LedgerUnavailable: the ledger is locked, damaged or not persisted.
            ValueError: a name or token count is malformed.
        """
        _name(provider, "the provider")
        _name(model, "the model")
        check_tokens(prompt_tokens, "prompt tokens")
        check_tokens(max_tokens, "max tokens")
        if not isinstance(price, Price):
            raise ValueError("price must be a Price")
        call = Reservation(uuid.uuid4().hex, provider, model, cost_micros(price, prompt_tokens, max_tokens),
                           day="", month="", price=price)  # fmt: skip
        with self._transaction(write=True):
            refused, held = self._reserve_locked(call, prompt_tokens, max_tokens)
        if refused is not None:  # raised after the commit, so the trip is saved
            raise refused
        return held

    def _reserve_locked(
        self, call: Reservation, prompt_tokens: int, max_tokens: int
    ) -> tuple[CapReached | None, Reservation]:
        _, _, high_water, tripped, reason = self._settings()
        now = self._now(high_water, save=True)
        held = replace(call, day=day_key(now), month=month_key(now))
        execute(
            self._db,
            "UPDATE cost_entries SET state = 'abandoned' WHERE state = 'reserved' AND created_at_ms < ?",
            (now - self._stale_after_ms,),
        )
        if held.amount_micros > 0:  # a free call cannot spend money: no cap refuses it
            if self._current(tripped, now) is not None:
                return CapReached(reason or _TRIPPED), held
            refusal = self._over_cap(held)
            if refusal is not None:
                period, sentence = refusal
                execute(
                    self._db,
                    "UPDATE cost_state SET tripped_period = ?, tripped_reason = ?, tripped_at_ms = ?"
                    " WHERE id = 1",
                    (period, sentence, now),
                )
                detail = {"period": period, "provider": held.provider, "amount_micros": held.amount_micros}
                self._event("trip", detail, "", now)
                return CapReached(sentence), held
        execute(
            self._db,
            "INSERT INTO cost_entries (id, provider, model, day, month, state, reserved_micros,"
            " charged_micros, prompt_tokens, max_tokens, price_in, price_out, created_at_ms)"
            " VALUES (?, ?, ?, ?, ?, 'reserved', ?, ?, ?, ?, ?, ?, ?)",
            (
                held.entry_id, held.provider, held.model, held.day, held.month, held.amount_micros,
                held.amount_micros, prompt_tokens, max_tokens, float(held.price.input_per_mtok),
                float(held.price.output_per_mtok), now,
            ),
        )  # fmt: skip
        return None, held

    def _over_cap(self, held: Reservation) -> tuple[str, str] | None:
        """``(period, sentence)`` of the cap ``held`` does not fit under (the month first), else None."""
        daily, monthly, _, _, _ = self._settings()
        amount, day, month = held.amount_micros, held.day, held.month
        used_month = self._used("month", month)
        if used_month + amount > monthly:
            return f"month:{month}", cap_sentence("monthly", monthly, used_month, month)
        used_day = self._used("day", day)
        if used_day + amount > daily:
            return f"day:{day}", cap_sentence("daily", daily, used_day, day)
        return None

    def settle(
        self, reservation: Reservation, input_tokens: int, output_tokens: int, *, usage_reported: bool = True
    ) -> CostEntry:
        """Record what the call really cost: the server's usage, or the counted tokens.

        The amount is recorded as is, even above the reservation: it is what the
        provider bills. A settlement is final; settling an abandoned reservation
        (a very late answer) corrects it.

        Raises:
            LedgerUnavailable: the ledger is locked or damaged.
            ValueError: the reservation is unknown or already closed, or a count is malformed.
        """
        check_tokens(input_tokens, "input tokens")
        check_tokens(output_tokens, "output tokens")
        charged = cost_micros(reservation.price, input_tokens, output_tokens)
        with self._transaction(write=True):
            now = self._close(reservation, "settled", charged)
            execute(
                self._db,
                "UPDATE cost_entries SET input_tokens = ?, output_tokens = ?, usage_reported = ?"
                " WHERE id = ?",
                (input_tokens, output_tokens, int(bool(usage_reported)), reservation.entry_id),
            )
            row = self._row(
                f"SELECT {_ENTRY_COLUMNS} FROM cost_entries WHERE id = ?", (reservation.entry_id,)
            )
        assert row is not None and now > 0
        return entry_from_row(row)

    def release(self, reservation: Reservation) -> None:
        """Give the reservation back: the call failed before the server reported any usage.

        Raises:
            LedgerUnavailable: the ledger is locked or damaged.
            ValueError: the reservation is unknown or already closed.
        """
        with self._transaction(write=True):
            self._close(reservation, "released", 0)

    def _close(self, reservation: Reservation, state: str, charged: int) -> int:
        _, _, high_water, _, _ = self._settings()
        now = self._now(high_water, save=True)
        row = self._row("SELECT state FROM cost_entries WHERE id = ?", (reservation.entry_id,))
        if row is None or row[0] not in ("reserved", "abandoned"):
            found = "unknown" if row is None else f"already {row[0]}"
            raise ValueError(f"reservation {reservation.entry_id} is {found}")
        execute(
            self._db,
            "UPDATE cost_entries SET state = ?, charged_micros = ?, closed_at_ms = ? WHERE id = ?",
            (state, charged, now, reservation.entry_id),
        )
        return now

    # ------------------------------------------------------------------ reading

    def state(self) -> CostState:
        """Spend against the caps now (read-only; the high-water mark is not moved).

        Raises:
            LedgerUnavailable: the ledger is locked or damaged.
        """
        with self._transaction(write=False):
            daily, monthly, high_water, tripped, reason = self._settings()
            now = self._now(high_water, save=False)
            day, month = day_key(now), month_key(now)
            groups = execute(
                self._db,
                "SELECT day = ?, state = 'reserved' AND created_at_ms >= ?, sum(charged_micros), count(*)"
                " FROM cost_entries WHERE month = ? GROUP BY 1, 2",
                (day, now - self._stale_after_ms, month),
            ).fetchall()
        spent, held = [0, 0], [0, 0]  # [today, this month]
        for today, open_, micros, _ in groups:
            bucket = held if open_ else spent
            bucket[1] += micros
            bucket[0] += micros if today else 0
        current = self._current(tripped, now)
        return CostState(
            now_ms=now, day=day, month=month, spent_day_micros=spent[0], reserved_day_micros=held[0],
            spent_month_micros=spent[1], reserved_month_micros=held[1], daily_cap_micros=daily,
            monthly_cap_micros=monthly, tripped=current, tripped_reason=reason if current else "",
            open_reservations=sum(count for _, open_, _, count in groups if open_),
            clock_behind_ms=max(0, high_water - self._clock_ms()),
        )  # fmt: skip

    def entries(self, limit: int = 50) -> list[CostEntry]:
        """The newest ``limit`` ledger entries, newest first.

        Raises:
            LedgerUnavailable: the ledger is locked or damaged.
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_ENTRIES:
            raise ValueError(f"limit must be between 1 and {_MAX_ENTRIES}")
        with self._transaction(write=False):
            query = f"SELECT {_ENTRY_COLUMNS} FROM cost_entries ORDER BY seq DESC LIMIT ?"
            rows = execute(self._db, query, (limit,)).fetchall()
        return [entry_from_row(row) for row in rows]

    def refusal(self) -> str | None:
        """Why a paid remote call would be refused right now (tripped, full, no ledger), else None."""
        try:
            state = self.state()
        except LedgerUnavailable as exc:
            return str(exc)
        if state.tripped is not None:
            return state.tripped_reason or _TRIPPED
        if state.used_month_micros >= state.monthly_cap_micros:
            return f"The monthly cost cap of {format_usd(state.monthly_cap_micros)} is used up."
        if state.used_day_micros >= state.daily_cap_micros:
            return f"The daily cost cap of {format_usd(state.daily_cap_micros)} is used up."
        return None

    # ------------------------------------------------------------------ the user's changes

    def set_caps(
        self, *, daily_usd: float | None, monthly_usd: float | None, permit: Permit, verifier: PermitVerifier
    ) -> CostState:
        """Change the caps (None keeps one) with the user's ``cost.admin`` permit on ``costs:caps``.

        Changing a cap does not re-arm a tripped one: that is its own, audited act.

        Raises:
            ValueError: an amount is negative, not finite or absurd (checked before the permit is spent).
            PermitError: the permit is not the user's own for this act (nothing changes).
            LedgerUnavailable: the ledger is locked or damaged.
        """
        daily = None if daily_usd is None else micros_from_usd(daily_usd, what="the daily cap")
        monthly = None if monthly_usd is None else micros_from_usd(monthly_usd, what="the monthly cap")
        verifier.redeem(permit, ADMIN_CAPABILITY, CAPS_RESOURCE, persona=USER)
        with self._transaction(write=True):
            old_daily, old_monthly, high_water, _, _ = self._settings()
            now = self._now(high_water, save=True)
            new = (old_daily if daily is None else daily, old_monthly if monthly is None else monthly)
            execute(
                self._db,
                "UPDATE cost_state SET daily_cap_micros = ?, monthly_cap_micros = ? WHERE id = 1",
                new,
            )
            detail = {"daily_micros": [old_daily, new[0]], "monthly_micros": [old_monthly, new[1]]}
            self._event("caps", detail, permit.audit_id, now)
        return self.state()

    def rearm(self, *, permit: Permit, verifier: PermitVerifier) -> CostState:
        """Lift a tripped cap, with the user's own ``cost.admin`` permit on ``costs:rearm``.

        The permit comes from the gate's audited decision for the user (a typed
        command or a click); one minted for a persona, for another resource or
        capability, spent, or forged is refused. Re-arming does not raise the
        cap: calls that do not fit still trip it again.

        Raises:
            PermitError: the permit is not the user's own for this act (nothing changes).
            LedgerUnavailable: the ledger is locked or damaged.
        """
        verifier.redeem(permit, ADMIN_CAPABILITY, REARM_RESOURCE, persona=USER)
        with self._transaction(write=True):
            _, _, high_water, tripped, _ = self._settings()
            now = self._now(high_water, save=True)
            execute(
                self._db,
                "UPDATE cost_state SET tripped_period = NULL, tripped_reason = '', tripped_at_ms = NULL"
                " WHERE id = 1",
            )
            self._event("rearm", {"was": self._current(tripped, now)}, permit.audit_id, now)
        return self.state()
