"""The append-only, sealed and signed audit log (``audit.db``, DESIGN.md §5).

Each row is sealed three ways: ``event_hash`` chains it to the previous row
(SHA-256 over the previous hash and the row's canonical bytes), ``record_hmac``
binds it to this installation's secret HMAC key, and ``signature`` (Ed25519
over the event hash) lets anyone holding the public key check it. Every
``checkpoint_every`` rows, and at a clean shutdown, a signed checkpoint of the
head is written to the ``checkpoints`` table and to the external
:class:`~aether_qt.policy.audit_anchor.AnchorStore`.

Durability: ``synchronous=FULL`` with WAL; each :meth:`AuditLog.append` is one
transaction, committed before it returns. Any SQLite error turns the log
unhealthy (:attr:`AuditLog.healthy` stays False until it is reopened) and
raises :class:`~aether_qt.policy.contracts.AuditWriteError`, so the gate
denies the action and goes deny-all.

Triggers reject UPDATE and DELETE on all three tables. ``open`` does not walk
the chain; call :func:`~aether_qt.policy.audit_verify.verify_log` for that.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from aether_qt.policy.audit_anchor import AnchorStore, Checkpoint, sign_checkpoint
from aether_qt.policy.audit_records import (
    CHECKPOINT_COLUMNS,
    COLUMNS,
    content_bytes,
    record_from_db,
    row_from_record,
)
from aether_qt.policy.canonical import (
    canonical_text,
    event_hash,
    genesis_hash,
    hmac_equal,
    record_hmac,
)
from aether_qt.policy.contracts import AuditEntry, AuditRow, AuditWriteError, Clock, PolicyError
from aether_qt.policy.keys import AuditKeys

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
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


class AuditLog:
    """The audit chain over one ``audit.db``; implements :class:`AuditSink`.

    Thread-safe: one lock serialises appends, checkpoints and reads. Build it
    with :meth:`open`.
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
        last_ckpt: tuple[int, int],
    ) -> None:
        self._conn: AuditConnection | None = conn
        self.path = path
        self.log_id = log_id
        self._keys = keys
        self._anchors = anchor_store
        self._clock = clock
        self._every = checkpoint_every
        self._head = head
        self._ckpt_no, self._ckpt_seq = last_ckpt
        self._lock = threading.Lock()
        self._healthy = True
        self.last_error = ""

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
            AuditWriteError: the database cannot be opened or created.
        """
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be >= 1")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            conn = connect(path)
        except sqlite3.Error as exc:
            raise AuditWriteError(f"audit database unusable: {type(exc).__name__}: {exc}") from exc
        try:
            log_id, head, last_ckpt = cls._prepare(conn, keys, clock)
        except sqlite3.Error as exc:
            conn.close()
            raise AuditWriteError(f"audit database unusable: {type(exc).__name__}: {exc}") from exc
        except AuditKeyMismatchError:
            conn.close()
            raise
        return cls(
            conn=conn, path=path, log_id=log_id, keys=keys, anchor_store=anchor_store, clock=clock,
            checkpoint_every=checkpoint_every, head=head, last_ckpt=last_ckpt,
        )  # fmt: skip

    @staticmethod
    def _prepare(
        conn: AuditConnection, keys: AuditKeys, clock: Clock
    ) -> tuple[str, AuditHead, tuple[int, int]]:
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
        last = conn.execute(
            "SELECT seq, event_hash, record_hmac FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if last is None:
            head = AuditHead(0, genesis_hash(log_id))
        else:
            if not hmac_equal(record_hmac(keys.hmac_key, log_id, last[0], last[1]), last[2]):
                raise AuditKeyMismatchError(f"key_mismatch: the HMAC key is not the one of log {log_id}")
            head = AuditHead(last[0], last[1])
        ckpt = conn.execute("SELECT ckpt_no, seq FROM checkpoints ORDER BY ckpt_no DESC LIMIT 1").fetchone()
        return log_id, head, (ckpt[0], ckpt[1]) if ckpt else (0, 0)

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
        """The newest committed row."""
        with self._lock:
            return self._head

    def _require_conn(self) -> AuditConnection:
        if self._conn is None:
            raise AuditWriteError("audit log is closed")
        if not self._healthy:
            raise AuditWriteError(f"audit log unhealthy: {self.last_error}")
        return self._conn

    def _fail(self, what: str, exc: BaseException) -> AuditWriteError:
        self._healthy = False
        self.last_error = f"{what}: {type(exc).__name__}: {exc}"
        if self._conn is not None and self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error as rollback_exc:
                self.last_error += f" (rollback failed: {type(rollback_exc).__name__})"
        return AuditWriteError(self.last_error)

    # ------------------------------------------------------------ writing

    def append(self, entry: AuditEntry) -> AuditRow:
        """Seal, sign and commit one row; return it once it is durable.

        Raises:
            AuditWriteError: the row was not committed (the log turns unhealthy,
                except for an entry that cannot be canonicalised).
        """
        with self._lock:
            conn = self._require_conn()
            seq = self._head.seq + 1
            record: dict[str, Any] = {
                "seq": seq,
                "audit_id": f"aud_{uuid.uuid4().hex}",
                "ts_wall_ms": self._clock.wall_ms(),
                "ts_mono_ns": self._clock.monotonic_ns(),
                "actor": entry.actor,
                "capability": entry.capability,
                "resource": entry.resource,
                "decision": entry.decision,
                "reason": entry.reason,
                "change_id": entry.change_id,
                "turn_id": entry.turn_id,
                "stage_trace": [dict(stage) for stage in entry.stage_trace],
                "detail": dict(entry.detail),
                "key_id": self._keys.key_id,
            }
            try:
                canonical = content_bytes(record)
            except PolicyError as exc:
                raise AuditWriteError(f"audit entry not representable: {exc}") from exc
            record["prev_hash"] = self._head.event_hash
            record["event_hash"] = digest = event_hash(self._head.event_hash, canonical)
            record["record_hmac"] = record_hmac(self._keys.hmac_key, self.log_id, seq, digest)
            record["signature"] = self._keys.signing_key.sign(bytes.fromhex(digest)).signature.hex()
            values = dict(record)
            values["stage_trace"] = canonical_text(record["stage_trace"])
            values["detail"] = canonical_text(record["detail"])
            checkpoint = None
            try:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(
                    f"INSERT INTO audit_log ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
                    tuple(values[name] for name in COLUMNS),
                )
                if seq % self._every == 0:
                    checkpoint = self._insert_checkpoint(conn, AuditHead(seq, digest), "periodic")
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._fail("audit row not committed", exc) from exc
            self._head = AuditHead(seq, digest)
            if checkpoint is not None:
                self._after_checkpoint(checkpoint)
            return row_from_record(record)

    def _insert_checkpoint(self, conn: AuditConnection, head: AuditHead, kind: str) -> Checkpoint:
        checkpoint = sign_checkpoint(
            log_id=self.log_id,
            ckpt_no=self._ckpt_no + 1,
            seq=head.seq,
            head_hash=head.event_hash,
            ts_wall_ms=self._clock.wall_ms(),
            kind=kind,
            signing_key=self._keys.signing_key,
            key_id=self._keys.key_id,
        )
        conn.execute(
            f"INSERT INTO checkpoints ({', '.join(CHECKPOINT_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            tuple(getattr(checkpoint, name) for name in CHECKPOINT_COLUMNS),
        )
        return checkpoint

    def _after_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Record a committed checkpoint and push it to the external anchor."""
        self._ckpt_no, self._ckpt_seq = checkpoint.ckpt_no, checkpoint.seq
        try:
            self._anchors.save(checkpoint)
        except PolicyError as exc:
            self._fail("audit anchor not stored", exc)

    def checkpoint(self, kind: str = "manual") -> Checkpoint:
        """Write a signed checkpoint of the head and store it as the external anchor.

        Raises:
            AuditWriteError: the checkpoint was not committed.
        """
        with self._lock:
            conn = self._require_conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
                checkpoint = self._insert_checkpoint(conn, self._head, kind)
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._fail("audit checkpoint not committed", exc) from exc
            self._after_checkpoint(checkpoint)
            return checkpoint

    def close(self) -> None:
        """Write a shutdown checkpoint (if rows were added since the last one) and close.

        Idempotent. A failing shutdown checkpoint is recorded in
        :attr:`last_error`; the connection is closed regardless.
        """
        if self._conn is None:
            return
        try:
            if self._healthy and self._head.seq > self._ckpt_seq:
                self.checkpoint("shutdown")
        except AuditWriteError as exc:
            _log.error("no shutdown checkpoint written: %s", exc)
        finally:
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

    def _select(self, where: str, params: tuple[Any, ...]) -> list[AuditRow]:
        with self._lock:
            if self._conn is None:
                raise AuditWriteError("audit log is closed")
            sql = f"SELECT {', '.join(COLUMNS)} FROM audit_log {where}"
            found = self._conn.execute(sql, params).fetchall()
        return [row_from_record(record_from_db(values)) for values in found]

    def get(self, audit_id: str) -> AuditRow | None:
        """The row with ``audit_id``, or ``None``."""
        found = self._select("WHERE audit_id = ?", (audit_id,))
        return found[0] if found else None

    def rows(self, after_seq: int = 0, limit: int = -1) -> list[AuditRow]:
        """Rows with ``seq > after_seq`` in seq order (at most ``limit``; -1 = all)."""
        return self._select("WHERE seq > ? ORDER BY seq LIMIT ?", (after_seq, limit))

    def checkpoints(self) -> list[Checkpoint]:
        """All checkpoints in order."""
        with self._lock:
            if self._conn is None:
                raise AuditWriteError("audit log is closed")
            found = self._conn.execute(
                f"SELECT {', '.join(CHECKPOINT_COLUMNS)} FROM checkpoints ORDER BY ckpt_no"
            ).fetchall()
        return [Checkpoint(self.log_id, *values) for values in found]


__all__ = [
    "BUNDLE_PREFIX",
    "AuditConnection",
    "AuditHead",
    "AuditKeyMismatchError",
    "AuditLog",
    "connect_audit_db",
]
