"""The fault sweep's tools: a hook that fails the N-th statement, opening a home, raw looks at it.

:class:`DiskFault` is the ``statement_hook`` given to ``Companion.open``: once
armed, it numbers every statement of both databases of the home (``aether.db``
and ``audit.db``) on one counter and makes statement N fail with the error
SQLite raises for a failed read or write, ``sqlite3.OperationalError("disk I/O
error")`` (result code ``SQLITE_IOERR``). ``ROLLBACK`` is never failed nor
counted: it is the recovery, and in WAL mode SQLite's rollback writes nothing
that could fail.

:func:`open_home` opens the companion as ``aether say`` does, with the fault;
:func:`reopen_home` is the restart after it (the disk healthy again).

The readers below open the databases of a *closed* home read-only, with plain
``sqlite3``. :func:`app_db` is the one place that opens ``aether.db``: once the
database is encrypted, it becomes a keyed connection.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from aether_qt.companion import Companion, build_conductor, thread_spawn
from aether_qt.core.bus import EventBus
from aether_qt.core.paths import AppPaths
from aether_qt.engines.interaction.phrases import DefaultPersona
from aether_qt.engines.persona.registry import user_personas_dir
from aether_qt.engines.router.router import Router
from aether_qt.policy.audit_home import keystore_for
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.memory.service import MemoryService
from aether_qt.services.persona.service import PersonaService
from aether_qt.storage.cipher import connect_keyed

SQLITE_IOERR = 10
DEADLINE_S = 30.0  # an action still running after this hangs
_T = TypeVar("_T")


def disk_io_error() -> sqlite3.OperationalError:
    """The exception SQLite's driver raises when a read or write of the file fails."""
    exc = sqlite3.OperationalError("disk I/O error")
    exc.sqlite_errorcode = SQLITE_IOERR  # type: ignore[attr-defined]
    exc.sqlite_errorname = "SQLITE_IOERR"  # type: ignore[attr-defined]
    return exc


class DiskFault:
    """A ``statement_hook`` that makes chosen statements fail, once armed.

    :meth:`arm` fails statement ``at`` (and, if ``sticky``, every later one);
    :meth:`arm_on` fails the ``nth`` statement of one database that starts with
    a given text (a regression pinned to a statement rather than to a number).

    Attributes:
        count: statements seen since arming (``ROLLBACK`` excluded).
        fired: ``(database, sql)`` of the first statement that failed, or ``None``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fails: Callable[[int, str, str], bool] | None = None
        self._plan = ""
        self.count = 0
        self.fired: tuple[str, str] | None = None

    def arm(self, at: int, *, sticky: bool = False) -> None:
        """From now on, statement ``at`` fails (and every later one if ``sticky``)."""
        self._start(
            f"statement {at}{' on' if sticky else ''}", lambda n, _d, _s: n == at or (sticky and n > at)
        )

    def arm_on(self, database: str, prefix: str, nth: int = 1) -> None:
        """From now on, the ``nth`` statement on ``database`` that starts with ``prefix`` fails."""
        seen = itertools.count(1)

        def fails(_n: int, db: str, sql: str) -> bool:
            return db == database and sql.startswith(prefix) and next(seen) == nth

        self._start(f"{database} {prefix!r} #{nth}", fails)

    def _start(self, plan: str, fails: Callable[[int, str, str], bool]) -> None:
        with self._lock:
            self._plan, self._fails, self.count, self.fired = plan, fails, 0, None

    def clear(self) -> None:
        """The disk is healthy again: no statement fails from now on."""
        with self._lock:
            self._fails = None

    def __call__(self, database: str, sql: str) -> None:
        with self._lock:
            if self._fails is None or sql.lstrip().upper().startswith("ROLLBACK"):
                return
            self.count += 1
            text = " ".join(sql.split())
            if self._fails(self.count, database, text):
                if self.fired is None:
                    self.fired = (database, f"#{self.count} {text[:80]}")
                raise disk_io_error()

    def where(self) -> str:
        """What was planned and which statement failed, for assertion messages."""
        return f"{self._plan}: {self.fired}"


# ---------------------------------------------------------------- opening a home and acting on it


def open_home(paths: AppPaths, fault: DiskFault | None = None) -> Companion:
    """The companion as ``aether say`` opens it (the reflex tier answers; memory runs text-only)."""
    return Companion.open(
        paths, allow_key_file=True, install_guard=False, load_model=False, statement_hook=fault
    )


def reopen_home(paths: AppPaths, persona: DefaultPersona) -> Companion:
    """The companion after a restart, assembled with the persona given instead of compiling it again.

    The retry needs a fresh process (the gate stays deny-all after a failed audit
    write), not the persona service: its YAML compile would double the cost of a step.
    """
    runtime = PolicyRuntime.open(paths)
    bus = EventBus()
    memory = MemoryService(runtime=runtime, bus=bus, paths=paths, load_embedder=False)
    memory.start()
    router = Router(models_dir=paths.models_dir, clock=time.monotonic)
    conductor = build_conductor(
        runtime=runtime,
        bus=bus,
        router=router,
        persona=persona,
        spawn=thread_spawn,
        workdir=paths.data_dir,
        memory=memory,
    )
    personas = PersonaService(runtime=runtime, bus=bus, user_dir=user_personas_dir(paths.data_dir))
    return Companion(
        runtime=runtime, bus=bus, router=router, conductor=conductor, personas=personas, memory=memory
    )


def within_deadline(action: Callable[[], _T]) -> _T:
    """Run ``action`` on a thread (as the app does); fail if it hangs or raises."""
    result: list[_T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            result.append(action())
        except BaseException as exc:  # reported below, with the statement that failed
            errors.append(exc)

    thread = threading.Thread(target=run, name="fault-sweep-action", daemon=True)
    thread.start()
    thread.join(DEADLINE_S)
    assert not thread.is_alive(), "the action hangs"
    if errors:
        raise errors[0]
    return result[0]


# ---------------------------------------------------------------- raw reads of a closed home


@contextmanager
def app_db(paths: AppPaths, *, writable: bool = False) -> Iterator[Any]:
    """A connection to the encrypted ``aether.db`` with the home's data key, read-only unless asked."""
    key = keystore_for(paths).load_data_key(encrypted_data_exists=True, allow_key_file=True)
    with closing(connect_keyed(paths.app_db, key, read_only=not writable)) as conn:
        yield conn


@contextmanager
def audit_db(paths: AppPaths) -> Iterator[sqlite3.Connection]:
    """A read-only connection to ``audit.db`` (never encrypted: its rows are sealed instead)."""
    with closing(sqlite3.connect(f"{paths.audit_db.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        yield conn


@dataclass(frozen=True, slots=True)
class Row:
    """One audit row, as the checks need it."""

    seq: int
    audit_id: str
    capability: str
    resource: str
    decision: str
    detail: dict[str, Any]


def audit_rows(paths: AppPaths, *, after: int = 0) -> list[Row]:
    """The audit rows after ``after``, in order."""
    with audit_db(paths) as conn:
        found = conn.execute(
            "SELECT seq, audit_id, capability, resource, decision, detail FROM audit_log "
            "WHERE seq > ? ORDER BY seq",
            (after,),
        ).fetchall()
    return [Row(s, a, c, r, d, json.loads(t)) for s, a, c, r, d, t in found]


def audit_head(paths: AppPaths) -> int:
    """The newest audit row's seq."""
    with audit_db(paths) as conn:
        return int(conn.execute("SELECT coalesce(max(seq), 0) FROM audit_log").fetchone()[0])


def live_memories(paths: AppPaths) -> list[tuple[int, str, str]]:
    """``(seq, text, provenance audit id)`` of every live memory."""
    with app_db(paths) as conn:
        return [
            (int(seq), str(text), str(audit_id))
            for seq, text, audit_id in conn.execute(
                "SELECT seq, text, audit_id FROM memory_items "
                "WHERE tombstoned_at_ms IS NULL AND purged = 0 ORDER BY seq"
            )
        ]


def check_consistent(paths: AppPaths, *, orphans: bool = False) -> None:
    """Assert that the two databases of a closed home agree with themselves and each other.

    ``orphans``: an open ticket may lack its call (the disk failed while the call was
    kept, and again when the ticket was withdrawn); answering it says so.

    * both files pass ``PRAGMA integrity_check``; the FTS5 index passes its own check;
    * the FTS index holds exactly the live memories (a forget leaves search at once);
    * every grant row was audited as issued (``grant_issued`` with its id, at its ``audit_ref``);
    * every ticket was audited as an ``ask``, and an answered one as ``ticket_answered``;
    * an open ticket's call still waits (never dropped, taken or done while the card is open);
    * a memory written under an Allow names an audited ``allow`` row for a memory write.
    """
    rows = {row.audit_id: row for row in audit_rows(paths)}
    with audit_db(paths) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    with app_db(paths) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        live = {
            seq
            for (seq,) in conn.execute(
                "SELECT seq FROM memory_items WHERE tombstoned_at_ms IS NULL AND purged = 0"
            )
        }
        indexed = {seq for (seq,) in conn.execute("SELECT id FROM memory_fts_docsize")}
        assert indexed == live, f"FTS rows {sorted(indexed)} but live memories {sorted(live)}"
        for grant_id, audit_ref in conn.execute("SELECT grant_id, audit_ref FROM grants"):
            row = rows.get(audit_ref)
            issued = row.detail.get("grant_issued", {}) if row is not None else {}
            assert row is not None and issued.get("grant_id") == grant_id, f"grant {grant_id} not audited"
        calls = dict(conn.execute("SELECT ticket_id, state FROM pending_actions").fetchall())
        for ticket_id, state, ask_ref, answer_ref in conn.execute(
            "SELECT ticket_id, state, audit_ref, answer_audit_ref FROM approval_tickets"
        ):
            ask = rows.get(ask_ref)
            assert ask is not None and ask.decision == "ask", f"ticket {ticket_id} not audited"
            if state == "pending":
                call = calls.get(ticket_id, "never kept" if orphans else "missing")
                assert call in ("pending", "never kept"), f"ticket {ticket_id} is open but its call is {call}"
            if state == "answered":
                answer = rows.get(answer_ref)
                assert answer is not None and answer.detail.get("ticket_id") == ticket_id, (
                    f"the answer to ticket {ticket_id} was not audited"
                )
        for seq, source, audit_id in conn.execute("SELECT seq, source, audit_id FROM memory_items"):
            if source == "imported":
                continue  # keeps the audit id of the home it was exported from
            row = rows.get(audit_id)
            assert row is not None and row.decision == "allow", f"memory {seq} has no audited allow"
            assert row.capability.startswith("memory.write."), f"memory {seq} cites {row.capability}"
    fts_check(paths)


def fts_check(paths: AppPaths) -> None:
    """FTS5's own structural check of its index (a writable connection: it is a command)."""
    with app_db(paths, writable=True) as conn:
        conn.execute("INSERT INTO memory_fts (memory_fts) VALUES ('integrity-check')")
        conn.rollback()
