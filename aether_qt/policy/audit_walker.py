"""The chain walker: the per-row checks of audit verification, as fast as Python allows.

:class:`ChainWalker` is fed rows in seq order, from the database
(:meth:`~ChainWalker.feed_db`, a tuple in ``COLUMNS`` order: the canonical bytes
are assembled from the stored text without parsing any JSON) or from an export
bundle (:meth:`~ChainWalker.feed_record`, a parsed record). It checks seq order,
the content hash, the link to the previous row, the HMAC when it has the key,
and the key id; a per-row signature is only present on rows written by format
1 and is then checked too (in batches on a thread pool: libsodium releases the
GIL). The rules and reasons are listed in :mod:`aether_qt.policy.audit_verify`.

It can start in the middle of a log (``start_seq``, ``start_hash``): the start
checks at every app start walk only the rows after the last verified point.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import nacl.exceptions
import nacl.signing

from aether_qt.policy.audit_records import content_bytes, content_bytes_from_db
from aether_qt.policy.canonical import genesis_hash, hmac_message
from aether_qt.policy.contracts import PolicyError

_BATCH = 16384
_PARALLEL_MIN = 1024
_REASON_ORDER = (
    "duplicate_seq", "seq_gap", "content_hash_mismatch", "prev_hash_mismatch", "hmac_mismatch",
    "signature_invalid", "key_mismatch",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Failure:
    """The first problem found: ``reason`` at ``seq`` (``None`` if no row can be named)."""

    seq: int | None
    reason: str
    message: str


def _first_bad(verify_key: nacl.signing.VerifyKey, batch: Sequence[tuple[int, bytes, bytes]]) -> int | None:
    for seq, message, signature in batch:
        try:
            verify_key.verify(message, signature)
        except (nacl.exceptions.BadSignatureError, ValueError):
            return seq
    return None


class ChainWalker:
    """Checks rows fed in seq order (see the module docstring).

    Args:
        log_id: the log's id (genesis and HMAC input).
        key_id: fingerprint every row must carry.
        public_key: Ed25519 key per-row signatures (format 1) must verify under.
        hmac_key: the secret HMAC key, or ``None`` to skip the HMAC check.
        wanted: seqs whose event hash the caller needs afterwards (checkpoints, anchor).
        start_seq: the walk starts after this row (0: from the genesis).
        start_hash: that row's event hash (ignored when ``start_seq`` is 0).
    """

    def __init__(
        self,
        *,
        log_id: str,
        key_id: str,
        public_key: bytes,
        hmac_key: bytes | None,
        wanted: Iterable[int],
        start_seq: int = 0,
        start_hash: str = "",
    ) -> None:
        self._log_id = log_id
        self._log_prefix = log_id.encode("utf-8")
        self._key_id = key_id
        self._hmac_key = hmac_key
        self._wanted = set(wanted)
        self.genesis = genesis_hash(log_id)
        self.start_seq = start_seq
        self._prev = start_hash if start_seq else self.genesis
        self._verify_key = nacl.signing.VerifyKey(public_key)
        self._pending: list[tuple[int, bytes, bytes]] = []
        self._workers = max(1, os.cpu_count() or 1)
        self._pool: ThreadPoolExecutor | None = None
        self._failure: Failure | None = None
        self._sig_fail: int | None = None
        self._hmac_fail: int | None = None
        self._hmac_ok_seen = False
        self.last_seq = start_seq
        self.rows_checked = 0
        self.hashes: dict[int, str] = {start_seq: self._prev}

    @property
    def head_hash(self) -> str:
        """The event hash of the last row that passed (the start hash before any row)."""
        return self._prev

    def _stop(self, seq: int, reason: str, message: str) -> bool:
        self._failure = Failure(seq, reason, message)
        return False

    def feed_db(self, values: Sequence[Any]) -> bool:
        """Check one database row (a tuple in ``COLUMNS`` order); False once walking further is pointless."""
        try:
            content = content_bytes_from_db(values)
        except ValueError:
            content = None
        digest = self._feed(values[0], content, values[14], values[15])
        return digest is not None and self._seal(
            values[0], digest, mac=values[16], key_id=values[13], signature=values[17]
        )

    def feed_db_rows(self, rows: Iterable[Sequence[Any]]) -> bool:
        """Check database rows in order; False once walking further is pointless.

        The common case (a sound row of format 2 with the HMAC key) runs in one
        tight loop; any row that is not plainly sound goes through
        :meth:`feed_db`, which names exactly what is wrong with it.
        """
        if self._hmac_key is None or self._pending or self._hmac_fail is not None:
            return all(self.feed_db(values) for values in rows)
        key, prefix, key_id, wanted = self._hmac_key, self._log_prefix, self._key_id, self._wanted
        sha256, fromhex, digest_mac, compare = hashlib.sha256, bytes.fromhex, hmac.digest, hmac.compare_digest
        prev, seq = self._prev, self.last_seq
        for values in rows:
            try:
                raw = sha256(fromhex(values[14]) + content_bytes_from_db(values)).digest()
                digest = raw.hex()
                message = prefix + (seq + 1).to_bytes(8, "big") + raw
                sound = (
                    values[0] == seq + 1
                    and type(values[0]) is int
                    and digest == values[15]
                    and values[14] == prev
                    and values[13] == key_id
                    and values[17] == ""
                    and compare(digest_mac(key, message, "sha256").hex(), values[16])
                )
            except (ValueError, TypeError):
                sound = False
            if not sound:
                self._prev, self.last_seq = prev, seq  # hand over to the careful path for this row
                if not self.feed_db(values):
                    return False
                prev, seq = self._prev, self.last_seq
                continue
            prev, seq = digest, seq + 1
            self.rows_checked += 1
            if seq in wanted:
                self.hashes[seq] = digest
            self._hmac_ok_seen = True
        self._prev, self.last_seq = prev, seq
        return True

    def feed_record(self, record: Mapping[str, Any]) -> bool:
        """Check one parsed record (an export bundle's row)."""
        try:
            content: bytes | None = content_bytes(record)
        except (KeyError, ValueError, TypeError, PolicyError):
            content = None
        get = record.get
        digest = self._feed(get("seq"), content, get("prev_hash"), get("event_hash"))
        return digest is not None and self._seal(
            get("seq"), digest, mac=get("record_hmac"), key_id=get("key_id"), signature=get("signature")
        )

    def _refuse(self, seq: int, reason: str, message: str) -> str | None:
        self._failure = Failure(seq, reason, message)
        return None

    def _feed(self, seq: Any, content: bytes | None, prev: Any, stored: Any) -> str | None:  # noqa: PLR0911
        """Order, content hash and link, in the documented order; the row's digest when they hold."""
        expected = self.last_seq + 1
        if type(seq) is not int:
            return self._refuse(expected, "content_hash_mismatch", "a row has no integer seq")
        if self.rows_checked and seq <= self.last_seq:
            return self._refuse(seq, "duplicate_seq", f"seq {seq} appears twice or out of order")
        if seq != expected:
            return self._refuse(expected, "seq_gap", f"rows {expected}..{seq - 1} are missing")
        try:
            raw_prev = bytes.fromhex(prev) if type(prev) is str else None
        except ValueError:
            raw_prev = None
        if content is None or raw_prev is None or type(stored) is not str:
            return self._refuse(seq, "content_hash_mismatch", f"row {seq} was edited")
        digest = hashlib.sha256(raw_prev + content).hexdigest()
        if digest != stored:
            return self._refuse(seq, "content_hash_mismatch", f"row {seq} was edited")
        if prev != self._prev:
            return self._refuse(seq, "prev_hash_mismatch", f"row {seq} does not follow row {seq - 1}")
        return digest

    def _seal(self, seq: Any, digest: str, *, mac: Any, key_id: Any, signature: Any) -> bool:
        """HMAC, key id and a format-1 signature of a row whose content and link hold; then accept it."""
        if self._hmac_key is not None and not self._check_hmac(seq, digest, mac):
            return False
        if key_id != self._key_id:
            return self._stop(seq, "signature_invalid", f"row {seq} is not sealed by this log's key")
        if signature != "" and not self._queue_signature(seq, digest, signature):
            return self._stop(seq, "signature_invalid", f"row {seq} is not signed by this log's key")
        self._prev = digest
        self.last_seq = seq
        self.rows_checked += 1
        if seq in self._wanted:
            self.hashes[seq] = digest
        if len(self._pending) >= _BATCH:
            return self._flush()
        return True

    def _queue_signature(self, seq: int, digest: str, signature: Any) -> bool:
        """A row of format 1 carries its own signature: queue it for the batch check."""
        if type(signature) is not str or signature != signature.lower():
            return False
        try:
            raw = bytes.fromhex(signature)
        except ValueError:
            return False
        if len(raw) != 64:
            return False
        self._pending.append((seq, bytes.fromhex(digest), raw))
        return True

    def _check_hmac(self, seq: int, digest: str, stored: Any) -> bool:
        assert self._hmac_key is not None
        message = hmac_message(self._log_id, seq, digest)
        ok = type(stored) is str and hmac.compare_digest(
            hmac.digest(self._hmac_key, message, "sha256").hex().encode("ascii"),
            stored.encode("ascii", "replace"),
        )
        if ok:
            if self._hmac_fail is not None:
                return self._stop(self._hmac_fail, "hmac_mismatch", f"row {self._hmac_fail} has a wrong HMAC")
            self._hmac_ok_seen = True
            return True
        if self._hmac_ok_seen:
            return self._stop(seq, "hmac_mismatch", f"row {seq} has a wrong HMAC")
        if self._hmac_fail is None:
            self._hmac_fail = seq
        return True

    def _flush(self) -> bool:
        """Check the pending per-row signatures, on all cores when there are many."""
        batch, self._pending = self._pending, []
        if not batch:
            return True
        if len(batch) < _PARALLEL_MIN or self._workers < 2:
            found = [_first_bad(self._verify_key, batch)]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="audit-verify")
            size = -(-len(batch) // self._workers)
            chunks = [batch[start : start + size] for start in range(0, len(batch), size)]
            found = list(self._pool.map(_first_bad, [self._verify_key] * len(chunks), chunks))
        bad = min((seq for seq in found if seq is not None), default=None)
        if bad is not None:
            self._sig_fail = bad
        return bad is None

    def close(self) -> None:
        """Stop the signature threads (idempotent)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def finish(self) -> Failure | None:
        """Check the remaining signatures and return the first failure, if any."""
        self._flush()
        found = [f for f in (self._failure,) if f is not None]
        if self._sig_fail is not None:
            found.append(Failure(self._sig_fail, "signature_invalid", f"row {self._sig_fail}: bad signature"))
        if self._hmac_fail is not None:
            if not found and not self._hmac_ok_seen:
                return Failure(
                    self._hmac_fail,
                    "key_mismatch",
                    "the HMAC key fails on every row while the chain holds: wrong key",
                )
            found.append(Failure(self._hmac_fail, "hmac_mismatch", f"row {self._hmac_fail} has a wrong HMAC"))
        if not found:
            return None
        return min(found, key=lambda f: (f.seq or 0, _REASON_ORDER.index(f.reason)))


__all__ = ["ChainWalker", "Failure"]
