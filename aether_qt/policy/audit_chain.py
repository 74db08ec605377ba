"""The append-only, chained and sealed audit log (``audit.db``, DESIGN.md §5).

Each row is sealed twice: ``event_hash`` chains it to the previous row
(SHA-256 over the previous hash and the row's canonical bytes) and
``record_hmac`` binds it to this installation's secret HMAC key. Ed25519
signatures go on checkpoints: every ``checkpoint_every`` rows, at a clean
shutdown, at an export and on every anchor (see
:mod:`aether_qt.policy.audit_anchor`), so any row is publicly verifiable
through the chain up to a signed checkpoint with the public key alone, while an
append costs a hash and a MAC instead of a signature. (Rows written by an
earlier release carry a per-row signature; the verifier still checks it.)

One writer at a time, across threads *and processes*: an append re-reads the
head inside its ``BEGIN IMMEDIATE`` transaction, so a command-line process
appending while the app runs chains onto the app's last row instead of
colliding with it on ``seq``; SQLite's busy timeout makes the other wait.

The anchor moves with the log: ``append(entry, anchor=True)`` (every Allow the
gate returns) rewrites the anchor file at that row, and checkpoints, session
starts and shutdowns update the keyring copy too. The anchor's verified point
and grant digest come from the runtime's verification (:meth:`AuditLog.set_verified`).

Durability: ``synchronous=FULL`` with WAL; each :meth:`AuditLog.append` is one
transaction, committed before it returns. Any SQLite error turns the log
unhealthy (:attr:`AuditLog.healthy` stays False until it is reopened) and
raises :class:`~aether_qt.policy.contracts.AuditWriteError`, so the gate
denies the action and goes deny-all. A failure for want of disk space is marked
(:attr:`AuditLog.out_of_space`): once the user freed space and the runtime
verified the rows again, :meth:`AuditLog.resume` reopens the connection, as a
restart would, and the log is healthy again.

Triggers reject UPDATE and DELETE on all three tables. ``open`` does not walk
the chain; :mod:`aether_qt.policy.audit_start` and
:func:`~aether_qt.policy.audit_verify.verify_log` do.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from aether_qt.policy.audit_anchor import Anchor, AnchorStore, AnchorWriteError, Checkpoint, sign_checkpoint
from aether_qt.policy.audit_records import (
    CHECKPOINT_COLUMNS,
    COLUMNS,
    content_bytes_from_db,
    record_from_db,
    row_from_record,
)
from aether_qt.policy.audit_walker import ChainWalker, Failure
from aether_qt.policy.canonical import (
    canonical_text,
    event_hash,
    genesis_hash,
    hmac_equal,
    record_hmac,
)
from aether_qt.policy.contracts import AuditEntry, AuditRow, AuditWriteError, Clock, PolicyError
from aether_qt.policy.keys import AuditKeys
from aether_qt.storage.errors import is_disk_full

SCHEMA_VERSION = "1"
BUNDLE_PREFIX = b"aether-audit-bundle-v1:"
_log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY, audit_id TEXT NOT NULL UNIQUE,
    ts_wall_ms INTEGER NOT NULL, ts_mono_ns INTEGER NOT NULL,
    actor TEXT NOT NULL, capability TEXT NOT NULL, resource TEXT NOT NULL, decision TEXT NOT NULL,
    reason TEXT NOT NULL, change_id TEXT NOT NULL, turn_id TEXT NOT NULL,
    stage_trace TEXT NOT NULL, detail TEXT NOT NULL, key_id TEXT NOT NULL,
    prev_hash TEXT NOT NULL, event_hash TEXT NOT NULL, record_hmac TEXT NOT NULL, signature TEXT NOT NULL
);
CREATE TABLE checkpoints (
    ckpt_no INTEGER PRIMARY KEY, seq INTEGER NOT NULL, head_hash TEXT NOT NULL,
    ts_wall_ms INTEGER NOT NULL, key_id TEXT NOT NULL, kind TEXT NOT NULL, signature TEXT NOT NULL
);
"""
_TRIGGER = (
    "CREATE TRIGGER {table}_no_{op} BEFORE {op} ON {table} "
    "BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"
)


class AuditKeyMismatchError(AuditWriteError):
    """The keys offered do not match the log (``key_mismatch``); nothing is appended."""


@dataclass(frozen=True, slots=True)
class AuditHead:
    """The newest row: its ``seq`` (0 when empty) and ``event_hash`` (genesis when empty)."""

    seq: int
    event_hash: str


class AuditConnection(Protocol):
    """The part of :class:`sqlite3.Connection` the log uses.

    Tests pass :meth:`AuditLog.open` a ``connect`` that wraps a real connection
    to make statements fail; production uses :func:`connect_audit_db`.
    """

    @property
    def in_transaction(self) -> bool:
        """True while a transaction is open."""
        ...

    def execute(self, sql: str, parameters: Any = ..., /) -> sqlite3.Cursor:
        """Run one statement."""
        ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        """Run one statement once for each set of parameters."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...


def connect_audit_db(path: Path) -> sqlite3.Connection:
    """Open ``path`` for the log: WAL, ``synchronous=FULL``, autocommit (the log begins its transactions)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    # Switching a new file to WAL takes an exclusive lock and SQLite does not call the busy
    # handler for it: two processes creating the log at once see "database is locked" at once.
    deadline = time.monotonic() + 10.0
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(0.02)
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class AuditLog:
    """The audit chain over one ``audit.db``; implements :class:`AuditSink`.

    Thread-safe (one lock serialises this process's appends, checkpoints and
    reads) and process-safe (see the module docstring). Build it with :meth:`open`.
    """

    def __init__(
        self,
        *,
        conn: AuditConnection,
        path: Path,
        log_id: str,
        keys: AuditKeys,
        anchor_store: AnchorStore,
        clock: Clock,
        checkpoint_every: int,
        head: AuditHead,
        connect: Callable[[Path], AuditConnection] = connect_audit_db,
    ) -> None:
        self._conn: AuditConnection | None = conn
        self._connect = connect
        self.path = path
        self.log_id = log_id
        self._keys = keys
        self._anchors = anchor_store
        self._clock = clock
        self._every = checkpoint_every
        self._head = head
        self._lock = threading.Lock()
        self._healthy = True
        self.last_error = ""
        self.out_of_space = False  # the last failure was a full disk: resume() may bring the log back
        # what the anchor says beyond the head: set by the runtime after it verified the log
        self._base = Anchor(log_id, keys.key_id, 1, 0, "", 0, True, 0, "", "", 0)
        self._ckpt_no = 0  # the newest checkpoint this process has seen

    # ------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        keys: AuditKeys,
        anchor_store: AnchorStore,
        clock: Clock,
        checkpoint_every: int = 256,
        connect: Callable[[Path], AuditConnection] = connect_audit_db,
    ) -> AuditLog:
        """Open (creating if needed) the audit database at ``path``.

        ``connect`` opens the database file; tests pass a wrapper around
        :func:`connect_audit_db` to inject write failures.

        Raises:
            AuditKeyMismatchError: ``keys`` are not the keys of this log.
            AuditWriteError: the database cannot be opened or created, or its ``meta`` or
                newest row is not what the log writes.
        """
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be >= 1")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            conn = connect(path)
        except sqlite3.Error as exc:
            raise AuditWriteError(f"audit database unusable: {type(exc).__name__}: {exc}") from exc
        try:
            log_id, head = cls._prepare(conn, keys, clock)
        except (sqlite3.Error, KeyError, ValueError) as exc:  # also a meta or a newest row it never writes
            conn.close()
            raise AuditWriteError(f"audit database unusable: {type(exc).__name__}: {exc}") from exc
        except AuditKeyMismatchError:
            conn.close()
            raise
        return cls(
            conn=conn, path=path, log_id=log_id, keys=keys, anchor_store=anchor_store, clock=clock,
            checkpoint_every=checkpoint_every, head=head, connect=connect,
        )  # fmt: skip

    @staticmethod
    def _prepare(conn: AuditConnection, keys: AuditKeys, clock: Clock) -> tuple[str, AuditHead]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            exists = conn.execute("SELECT 1 FROM sqlite_master WHERE name='meta'").fetchone()
            if exists is None:
                AuditLog._create(conn, keys, clock)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        log_id = meta["log_id"]
        if meta["public_key"] != keys.public_key.hex():
            raise AuditKeyMismatchError(f"key_mismatch: the signing key is not the one of log {log_id}")
        head = _read_head(conn, log_id)
        if head.seq:
            stored = conn.execute("SELECT record_hmac FROM audit_log WHERE seq = ?", (head.seq,)).fetchone()[
                0
            ]
            if not hmac_equal(record_hmac(keys.hmac_key, log_id, head.seq, head.event_hash), stored):
                raise AuditKeyMismatchError(f"key_mismatch: the HMAC key is not the one of log {log_id}")
        return log_id, head

    @staticmethod
    def _create(conn: AuditConnection, keys: AuditKeys, clock: Clock) -> None:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        for table in ("meta", "audit_log", "checkpoints"):
            for op in ("UPDATE", "DELETE"):
                conn.execute(_TRIGGER.format(table=table, op=op))
        meta = {
            "log_id": uuid.uuid4().hex,
            "public_key": keys.public_key.hex(),
            "key_id": keys.key_id,
            "schema_version": SCHEMA_VERSION,
            "created_wall_ms": str(clock.wall_ms()),
        }
        conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", sorted(meta.items()))

    # ------------------------------------------------------------ state

    @property
    def healthy(self) -> bool:
        """False once a write failed; stays False until the log is reopened."""
        return self._healthy and self._conn is not None

    @property
    def key_id(self) -> str:
        """Fingerprint of the signing key."""
        return self._keys.key_id

    @property
    def public_key(self) -> bytes:
        """The Ed25519 public key of this log."""
        return self._keys.public_key

    def head(self) -> AuditHead:
        """The newest row this process has seen committed (another process may be further on)."""
        with self._lock:
            return self._head

    def set_verified(self, *, epoch: int, verified_seq: int, verified_hash: str, grants_digest: str) -> None:
        """What the next anchors say about verification (the runtime verified the log up to here)."""
        with self._lock:
            self._base = replace(
                self._base,
                epoch=epoch,
                verified_seq=verified_seq,
                verified_hash=verified_hash,
                grants_digest=grants_digest,
            )

    @property
    def epoch(self) -> int:
        """The epoch the anchors of this session carry."""
        return self._base.epoch

    def _require_conn(self) -> AuditConnection:
        if self._conn is None:
            raise AuditWriteError("audit log is closed")
        if not self._healthy:
            raise AuditWriteError(f"audit log unhealthy: {self.last_error}")
        return self._conn

    def _fail(self, what: str, exc: BaseException) -> AuditWriteError:
        self._healthy = False
        self.out_of_space = is_disk_full(exc, self.path)
        self.last_error = f"{what}: {type(exc).__name__}: {exc}"
        if self._conn is not None and self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error as rollback_exc:
                self.last_error += f" (rollback failed: {type(rollback_exc).__name__})"
        return AuditWriteError(self.last_error)

    def resume(self) -> None:
        """Write again after a failure for want of disk space, on a new connection.

        What a restart would do: the database is opened afresh (the failed
        connection may hold a half-rolled-back state), its keys are checked and
        its head is read again. The caller (the runtime) verifies the rows since
        the last verified point first; only then may the gate trust this log again.

        Raises:
            AuditWriteError: the log is closed, did not fail for want of space, or
                cannot be opened again (it stays unhealthy).
        """
        with self._lock:
            if self._conn is None:
                raise AuditWriteError("audit log is closed")
            if self._healthy:
                return
            if not self.out_of_space:
                raise AuditWriteError(f"audit log unhealthy: {self.last_error}")
            try:
                conn = self._connect(self.path)
            except sqlite3.Error as exc:
                raise AuditWriteError(f"audit database unusable: {type(exc).__name__}: {exc}") from exc
            try:
                log_id, head = self._prepare(conn, self._keys, self._clock)
                ckpt_no = int(conn.execute("SELECT coalesce(max(ckpt_no), 0) FROM checkpoints").fetchone()[0])
            except (sqlite3.Error, KeyError, ValueError, AuditKeyMismatchError) as exc:
                conn.close()
                raise AuditWriteError(f"audit database unusable: {type(exc).__name__}: {exc}") from exc
            if log_id != self.log_id:
                conn.close()
                raise AuditWriteError("audit database replaced while it could not be written")
            old, self._conn = self._conn, conn
            old.close()
            self._head, self._ckpt_no = head, ckpt_no
            self._healthy, self.out_of_space, self.last_error = True, False, ""

    # ------------------------------------------------------------ writing

    def append(self, entry: AuditEntry, *, anchor: bool = False) -> AuditRow:
        """Seal and commit one row; return it once it is durable.

        Args:
            entry: what to record.
            anchor: also move the anchor file to this row (the gate does for every Allow).

        Raises:
            AuditWriteError: the row was not committed (the log turns unhealthy,
                except for an entry that cannot be canonicalised).
        """
        try:
            trace_text = canonical_text([dict(stage) for stage in entry.stage_trace])
            detail_text = canonical_text(dict(entry.detail))
        except PolicyError as exc:
            raise AuditWriteError(f"audit entry not representable: {exc}") from exc
        with self._lock:
            conn = self._require_conn()
            checkpoint = None
            try:
                conn.execute("BEGIN IMMEDIATE")  # the write lock across processes, then the head
                head = _read_head(conn, self.log_id)
                seq = head.seq + 1
                values: list[Any] = [
                    seq, f"aud_{uuid.uuid4().hex}", self._clock.wall_ms(), self._clock.monotonic_ns(),
                    entry.actor, entry.capability, entry.resource, entry.decision, entry.reason,
                    entry.change_id, entry.turn_id, trace_text, detail_text, self._keys.key_id,
                ]  # fmt: skip
                digest = event_hash(head.event_hash, content_bytes_from_db(values))
                values += [
                    head.event_hash,
                    digest,
                    record_hmac(self._keys.hmac_key, self.log_id, seq, digest),
                    "",
                ]
                conn.execute(_INSERT_ROW, values)
                if seq % self._every == 0:
                    checkpoint = self._insert_checkpoint(conn, AuditHead(seq, digest), "periodic")
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._fail("audit row not committed", exc) from exc
            except ValueError as exc:  # a column of the stored head is not what the log writes
                raise self._fail("audit head unreadable", exc) from exc
            except AuditWriteError as exc:  # the rows this checkpoint would sign fail verification
                raise self._fail("audit checkpoint refused", exc) from exc
            self._head = AuditHead(seq, digest)
            if checkpoint is not None:
                self._vouch(self._head, keyring=True)
            elif anchor:
                self._vouch(self._head, keyring=False)
            written = dict(zip(COLUMNS, values, strict=True))  # the stored row, with its JSON as given
            written.update(
                stage_trace=tuple(dict(stage) for stage in entry.stage_trace), detail=dict(entry.detail)
            )
            return AuditRow(**written)

    def _insert_checkpoint(self, conn: AuditConnection, head: AuditHead, kind: str) -> Checkpoint:
        """Sign the head, but only after the rows since the previous checkpoint verify.

        The key never signs over a row it has not checked: a row forged into
        the file while the app runs (it fails the HMAC) would otherwise become
        publicly verifiable through this checkpoint.

        Raises:
            AuditWriteError: a row since the previous checkpoint fails verification.
        """
        last = conn.execute(
            f"SELECT {', '.join(CHECKPOINT_COLUMNS)} FROM checkpoints ORDER BY ckpt_no DESC LIMIT 1"
        ).fetchone()
        previous = Checkpoint(self.log_id, *last) if last is not None else None
        self._check_since(conn, previous, head)
        checkpoint = sign_checkpoint(
            log_id=self.log_id,
            ckpt_no=previous.ckpt_no + 1 if previous is not None else 1,
            seq=head.seq,
            head_hash=head.event_hash,
            ts_wall_ms=self._clock.wall_ms(),
            kind=kind,
            signing_key=self._keys.signing_key,
            key_id=self._keys.key_id,
        )
        conn.execute(_INSERT_CHECKPOINT, tuple(getattr(checkpoint, name) for name in CHECKPOINT_COLUMNS))
        self._ckpt_no = checkpoint.ckpt_no  # used by the anchor once the transaction commits
        return checkpoint

    def _check_since(self, conn: AuditConnection, previous: Checkpoint | None, head: AuditHead) -> None:
        """Walk the rows after ``previous`` up to ``head`` with the HMAC key (raise if one fails)."""
        if previous is not None and not previous.signature_ok(self.public_key):
            raise AuditWriteError("the previous checkpoint's signature is invalid")
        start = previous.seq if previous is not None else 0
        walker = ChainWalker(
            log_id=self.log_id, key_id=self._keys.key_id, public_key=self.public_key,
            hmac_key=self._keys.hmac_key, wanted={head.seq}, start_seq=start,
            start_hash=previous.head_hash if previous is not None else "",
        )  # fmt: skip
        rows = conn.execute(
            f"SELECT {', '.join(COLUMNS)} FROM audit_log WHERE seq > ? AND seq <= ? ORDER BY seq",
            (start, head.seq),
        )
        try:
            walker.feed_db_rows(rows)
            failure = walker.finish()
        finally:
            walker.close()
        if failure is None and walker.hashes.get(head.seq) != head.event_hash:
            failure = Failure(head.seq, "prev_hash_mismatch", "the head is not the row walked to")
        if failure is not None:
            raise AuditWriteError(f"not signing over a row that fails verification: {failure.message}")

    def _vouch(self, head: AuditHead, *, keyring: bool, session_open: bool = True) -> None:
        """Sign and store an anchor at ``head`` (caller holds the lock); a failure turns the log unhealthy."""
        base = self._base
        anchor = Anchor(
            base.log_id, base.key_id, base.epoch, head.seq, head.event_hash, self._ckpt_no, session_open,
            base.verified_seq, base.verified_hash, base.grants_digest, self._clock.wall_ms(),
        ).signed(self._keys.signing_key)  # fmt: skip
        try:
            self._anchors.save(
                anchor, public_key=self.public_key, keyring=keyring, durable=keyring, holds=self._holds
            )
        except (AnchorWriteError, sqlite3.Error) as exc:  # also the read of the row it vouched for
            self._fail("audit anchor not stored", exc)

    def _holds(self, anchor: Anchor) -> bool:
        """Whether the database still has the row ``anchor`` vouches for (caller holds the lock)."""
        assert self._conn is not None  # only called by _vouch, under the lock, on an open log
        if anchor.seq == 0:
            return anchor.head_hash == genesis_hash(self.log_id)
        found = self._conn.execute("SELECT event_hash FROM audit_log WHERE seq = ?", (anchor.seq,)).fetchone()
        return found is not None and found[0] == anchor.head_hash

    def vouch(self, *, keyring: bool = True, session_open: bool = True) -> AuditHead:
        """Move the anchor to the newest committed row (read from the database); return that row.

        Raises:
            AuditWriteError: the log is closed or unhealthy, or the head cannot be read.
        """
        with self._lock:
            conn = self._require_conn()
            try:
                self._head = _read_head(conn, self.log_id)
                self._ckpt_no = int(
                    conn.execute("SELECT coalesce(max(ckpt_no), 0) FROM checkpoints").fetchone()[0]
                )
            except (sqlite3.Error, ValueError) as exc:
                raise self._fail("audit head unreadable", exc) from exc
            self._vouch(self._head, keyring=keyring, session_open=session_open)
            if not self._healthy:
                raise AuditWriteError(self.last_error)
            return self._head

    def checkpoint(self, kind: str = "manual", *, session_open: bool = True) -> Checkpoint:
        """Write a signed checkpoint of the head and move the anchor (keyring too) to it.

        Raises:
            AuditWriteError: the checkpoint was not committed.
        """
        with self._lock:
            conn = self._require_conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
                self._head = _read_head(conn, self.log_id)
                checkpoint = self._insert_checkpoint(conn, self._head, kind)
                conn.execute("COMMIT")
            except (sqlite3.Error, ValueError, AuditWriteError) as exc:
                raise self._fail("audit checkpoint not committed", exc) from exc
            self._vouch(self._head, keyring=True, session_open=session_open)
            return checkpoint

    def close(self, *, session_open: bool = False) -> None:
        """Write a shutdown checkpoint and the closing anchor, then close. Idempotent.

        Args:
            session_open: another writer still runs on this home (its close will say so).

        A failing shutdown checkpoint is recorded in :attr:`last_error`; the
        connection is closed regardless.
        """
        if self._conn is None:
            return
        try:
            if self._healthy:
                self._close_anchor(session_open)
        except (AuditWriteError, sqlite3.Error) as exc:
            _log.error("no shutdown checkpoint written: %s", exc)
        finally:
            with self._lock:
                conn, self._conn = self._conn, None
                if conn is not None:
                    conn.close()

    def _close_anchor(self, session_open: bool) -> None:
        """A shutdown checkpoint when rows came after the last one, else just the closing anchor."""
        last = self._query("SELECT coalesce(max(seq), 0) FROM checkpoints", ())[0][0]
        head = self._query("SELECT coalesce(max(seq), 0) FROM audit_log", ())[0][0]
        if head > last:
            self.checkpoint("shutdown", session_open=session_open)
        else:
            self.vouch(keyring=True, session_open=session_open)

    def close_without_checkpoint(self) -> None:
        """Close without writing anything (the log failed its start checks). Idempotent."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    def sign_export(self, message: bytes) -> str:
        """Sign an export bundle body; only messages with the bundle prefix are signed.

        Raises:
            ValueError: ``message`` does not start with :data:`BUNDLE_PREFIX`
                (the key must never sign something that could pass for a row).
        """
        if not message.startswith(BUNDLE_PREFIX):
            raise ValueError("only export bundles are signed here")
        return str(self._keys.signing_key.sign(message).signature.hex())

    # ------------------------------------------------------------ reading

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        with self._lock:
            if self._conn is None:
                raise AuditWriteError("audit log is closed")
            return list(self._conn.execute(sql, params).fetchall())

    def _select(self, where: str, params: tuple[Any, ...]) -> list[AuditRow]:
        found = self._query(f"SELECT {', '.join(COLUMNS)} FROM audit_log {where}", params)
        return [row_from_record(record_from_db(values)) for values in found]

    def get(self, audit_id: str) -> AuditRow | None:
        """The row with ``audit_id``, or ``None``."""
        found = self._select("WHERE audit_id = ?", (audit_id,))
        return found[0] if found else None

    def rows(self, after_seq: int = 0, limit: int = -1) -> list[AuditRow]:
        """Rows with ``seq > after_seq`` in seq order (at most ``limit``; -1 = all)."""
        return self._select("WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit))

    def first_seq_since(self, wall_ms: int) -> int:
        """The first row written at or after ``wall_ms`` (head + 1 when none): a binary search on seq.

        Rows are appended in time order, so a few primary-key look-ups find it (no scan of a
        long log); a wall clock set back can only make it start a little early or late.
        """
        low, high = 1, self.head().seq + 1
        while low < high:
            middle = (low + high) // 2
            found = self._query("SELECT ts_wall_ms FROM audit_log WHERE seq = ?", (middle,))
            if found and int(found[0][0]) >= wall_ms:
                high = middle
            else:
                low = middle + 1
        return low

    def grant_rows(self) -> list[AuditRow]:
        """Every row whose detail may carry grant facts (issue, revoke, cascade, spend), in seq order."""
        return self._select(f"WHERE {GRANT_ROWS_SQL} ORDER BY seq", ())

    def checkpoints(self) -> list[Checkpoint]:
        """All checkpoints in order."""
        found = self._query(f"SELECT {', '.join(CHECKPOINT_COLUMNS)} FROM checkpoints ORDER BY ckpt_no", ())
        return [Checkpoint(self.log_id, *values) for values in found]


GRANT_ROWS_SQL = (
    """(instr(detail, '"grant_issued":') > 0 OR instr(detail, '"event":"grant_') > 0 """
    """OR instr(detail, '"event":"cascade"') > 0)"""
)
_INSERT_ROW = f"INSERT INTO audit_log ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
_INSERT_CHECKPOINT = f"INSERT INTO checkpoints ({', '.join(CHECKPOINT_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)"


def _read_head(conn: AuditConnection, log_id: str) -> AuditHead:
    """The newest row in the database (genesis when empty).

    Raises:
        ValueError: the stored seq or hash is not what the log writes.
    """
    last = conn.execute("SELECT seq, event_hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    if last is None:
        return AuditHead(0, genesis_hash(log_id))
    seq, digest = last
    if type(seq) is not int or seq < 1 or type(digest) is not str or len(digest) != 64:
        raise ValueError("the newest audit row is malformed")
    return AuditHead(seq, digest)


__all__ = [
    "BUNDLE_PREFIX",
    "GRANT_ROWS_SQL",
    "AuditConnection",
    "AuditHead",
    "AuditKeyMismatchError",
    "AuditLog",
    "connect_audit_db",
]
