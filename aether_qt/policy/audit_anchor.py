"""Signed checkpoints, and the anchor: the log's newest state kept outside ``audit.db``.

A :class:`Checkpoint` (a row of the ``checkpoints`` table) vouches for the chain
head ``head_hash`` at ``seq``; it is signed with the log's Ed25519 key over
``b"aether-audit-checkpoint-v1:" + canonical_json(fields)``.

The :class:`Anchor` is what the app knows about its log from *outside* the
database, so deleting, replacing or rolling back ``audit.db`` is detected. It
names the log (``log_id``), its ``epoch`` (1, 2, … : a new epoch starts when the
user acknowledges a loss), the newest vouched-for row (``seq``, ``head_hash``)
and checkpoint (``ckpt_no``),
whether a writer may still be appending (``session_open``), and how far the
chain has been fully verified (``verified_seq``, ``verified_hash``, and the digest
of the grant state replayed from the verified rows, ``grants_digest``). It is
signed over ``b"aether-audit-anchor-v2:" + canonical_json(fields)``. An anchor
written by an earlier release (a bare v1 checkpoint) is read as epoch 0,
closed, verified from the start.

:class:`AnchorStore` keeps the anchor in the keyring entry
``<namespace>:audit-anchor`` and in ``config/audit-anchor.json``. Reading checks
every copy against the log's public key and key id *before* using it: a copy
that is malformed, unsigned, or signed by another key is reported as invalid
(tamper evidence), never used, and never blocks a later save. Saving never moves
the anchor back: ``(epoch, seq)`` only grows, checked under a lock that other
processes of the same home respect.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.signing

from aether_qt.policy.canonical import canonical_json
from aether_qt.policy.contracts import PolicyError
from aether_qt.policy.effects import OwnFileLock, OwnRecordFile
from aether_qt.policy.keys import KeyStore, KeysUnavailableError

_log = logging.getLogger(__name__)

CHECKPOINT_PREFIX = b"aether-audit-checkpoint-v1:"
ANCHOR_PREFIX = b"aether-audit-anchor-v2:"
ANCHOR_FORMAT = "aether-audit-anchor-v2"
RECORD_BYTES = 2048  # the anchor file is one record of this size, overwritten in place
_CKPT_FIELDS = ("log_id", "ckpt_no", "seq", "head_hash", "ts_wall_ms", "key_id", "kind", "signature")
_ANCHOR_INTS = ("epoch", "seq", "ckpt_no", "verified_seq", "ts_wall_ms")
_ANCHOR_STRS = ("log_id", "key_id", "head_hash", "verified_hash", "grants_digest", "signature")


class AnchorWriteError(PolicyError):
    """The anchor file could not be written (the rows themselves are committed)."""


class AnchorDivergedError(AnchorWriteError):
    """The log no longer holds the row the current anchor vouches for: the anchor is not moved."""


def _verify(public_key: bytes, message: bytes, signature_hex: str) -> bool:
    try:
        signature = bytes.fromhex(signature_hex)
        if signature.hex() != signature_hex:
            return False  # upper-case hex is another byte string: a flipped byte
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except (ValueError, TypeError, nacl.exceptions.BadSignatureError):
        return False
    return True


def _typed(
    data: dict[str, Any], ints: tuple[str, ...], strs: tuple[str, ...], bools: tuple[str, ...] = ()
) -> bool:
    for name in ints:
        if not isinstance(data.get(name), int) or isinstance(data.get(name), bool):
            return False
    return all(isinstance(data.get(n), str) for n in strs) and all(
        isinstance(data.get(n), bool) for n in bools
    )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement "the log ``log_id`` had head ``head_hash`` at ``seq``".

    Attributes:
        ckpt_no: 1, 2, 3... in the order checkpoints were written.
        kind: ``periodic`` (every N rows), ``shutdown``, ``manual``, ``export`` or ``epoch``.
        signature: hex Ed25519 signature over :meth:`message`.
    """

    log_id: str
    ckpt_no: int
    seq: int
    head_hash: str
    ts_wall_ms: int
    key_id: str
    kind: str
    signature: str

    def message(self) -> bytes:
        """The bytes the signature covers."""
        fields = self.to_json()
        del fields["signature"]
        return CHECKPOINT_PREFIX + canonical_json(fields)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Checkpoint:
        """Parse a dict written by :meth:`to_json`.

        Raises:
            ValueError: a field is missing or has the wrong type.
        """
        if not isinstance(data, dict) or set(data) != set(_CKPT_FIELDS):
            raise ValueError("not a checkpoint")
        if not _typed(
            data, ("ckpt_no", "seq", "ts_wall_ms"), ("log_id", "head_hash", "key_id", "kind", "signature")
        ):
            raise ValueError("a checkpoint field has the wrong type")
        return cls(**data)

    def signature_ok(self, public_key: bytes) -> bool:
        """True if :attr:`signature` is a valid Ed25519 signature by ``public_key``."""
        return _verify(public_key, self.message(), self.signature)


def sign_checkpoint(
    *,
    log_id: str,
    ckpt_no: int,
    seq: int,
    head_hash: str,
    ts_wall_ms: int,
    kind: str,
    signing_key: nacl.signing.SigningKey,
    key_id: str,
) -> Checkpoint:
    """Build and sign a checkpoint."""
    unsigned = Checkpoint(log_id, ckpt_no, seq, head_hash, ts_wall_ms, key_id, kind, "")
    signature = signing_key.sign(unsigned.message()).signature.hex()
    return replace(unsigned, signature=signature)


@dataclass(frozen=True, slots=True)
class Anchor:
    """What is known about the log from outside ``audit.db`` (see the module docstring).

    Attributes:
        log_id: the log this anchor vouches for.
        key_id: fingerprint of the key that signed it (the log's key).
        epoch: 1, 2, … ; a new epoch starts with an acknowledged loss (0: an old v1 anchor).
        seq: the newest row vouched for (0: an empty log).
        head_hash: that row's ``event_hash`` (the genesis hash for an empty log).
        ckpt_no: the newest checkpoint known when it was written (the database must still hold it).
        session_open: a writer started and has not closed cleanly since.
        verified_seq: rows up to here were fully verified (chain, HMAC, checkpoints).
        verified_hash: the ``event_hash`` of row ``verified_seq`` ("" when 0).
        grants_digest: digest of the grant state replayed from rows up to ``verified_seq``.
        ts_wall_ms: when it was written.
        signature: hex Ed25519 signature over :meth:`message`.
        legacy: the v1 checkpoint this anchor was read from, if any (its signature is the one checked).
    """

    log_id: str
    key_id: str
    epoch: int
    seq: int
    head_hash: str
    ckpt_no: int
    session_open: bool
    verified_seq: int
    verified_hash: str
    grants_digest: str
    ts_wall_ms: int
    signature: str = ""
    legacy: Checkpoint | None = field(default=None, compare=False)

    @property
    def order(self) -> tuple[int, int]:
        """Anchors of one log only move forward in this order."""
        return (self.epoch, self.seq)

    def to_json(self) -> dict[str, Any]:
        """The stored form (the v2 format; a legacy anchor is stored as written)."""
        if self.legacy is not None:
            return self.legacy.to_json()
        data = {name: getattr(self, name) for name in (*_ANCHOR_INTS, *_ANCHOR_STRS)}
        data["session_open"] = self.session_open
        data["format"] = ANCHOR_FORMAT
        return data

    def message(self) -> bytes:
        """The bytes the signature covers."""
        fields = self.to_json()
        fields.pop("signature")
        return ANCHOR_PREFIX + canonical_json(fields)

    def signature_ok(self, public_key: bytes) -> bool:
        """True if the anchor (or the v1 checkpoint it came from) is signed by ``public_key``."""
        if self.legacy is not None:
            return self.legacy.signature_ok(public_key)
        return _verify(public_key, self.message(), self.signature)

    def signed(self, signing_key: nacl.signing.SigningKey) -> Anchor:
        """This anchor with a fresh signature (never a legacy one)."""
        fields = {name: getattr(self, name) for name in (*_ANCHOR_INTS, *_ANCHOR_STRS)}
        fields.update(session_open=self.session_open, format=ANCHOR_FORMAT)
        del fields["signature"]
        signature = signing_key.sign(ANCHOR_PREFIX + canonical_json(fields)).signature.hex()
        del fields["format"]
        return Anchor(**fields, signature=signature)

    @classmethod
    def from_json(cls, data: Any) -> Anchor:
        """Parse a stored anchor: the v2 format, or a v1 checkpoint (epoch 0).

        Raises:
            ValueError: neither format, or a field has the wrong type.
        """
        if isinstance(data, dict) and data.get("format") == ANCHOR_FORMAT:
            wanted = {*_ANCHOR_INTS, *_ANCHOR_STRS, "session_open", "format"}
            if set(data) != wanted or not _typed(data, _ANCHOR_INTS, _ANCHOR_STRS, ("session_open",)):
                raise ValueError("not an anchor")
            return cls(**{k: v for k, v in data.items() if k != "format"})
        ckpt = Checkpoint.from_json(data)
        return cls(
            log_id=ckpt.log_id,
            key_id=ckpt.key_id,
            epoch=0,
            seq=ckpt.seq,
            head_hash=ckpt.head_hash,
            ckpt_no=ckpt.ckpt_no,
            session_open=False,
            verified_seq=0,
            verified_hash="",
            grants_digest="",
            ts_wall_ms=ckpt.ts_wall_ms,
            signature=ckpt.signature,
            legacy=ckpt,
        )


def parse_anchor(text: str) -> Anchor:
    """Parse anchor JSON text.

    Raises:
        ValueError: not an anchor.
    """
    return Anchor.from_json(json.loads(text))


@dataclass(frozen=True, slots=True)
class AnchorReading:
    """What the anchor copies say, checked against one log's key.

    Attributes:
        anchor: the newest valid copy, or None.
        invalid: one line per copy that is present but not valid for this key
            ("the anchor file is not signed by this installation's key").
    """

    anchor: Anchor | None
    invalid: tuple[str, ...] = ()


class AnchorStore:
    """Keeps the anchor in the keyring and in a file (see the module docstring).

    Args:
        anchor_file: ``AppPaths.anchor_file``.
        keystore: the keyring side; ``None`` when running on the opt-in key
            file (then only the file holds the anchor).
        durable: fsync the file when a save asks for it (tests that write
            thousands of anchors turn it off).
    """

    def __init__(self, *, anchor_file: Path, keystore: KeyStore | None, durable: bool = True) -> None:
        self._file = anchor_file
        self._keystore = keystore
        self._durable = durable
        self._written: tuple[tuple[int, int, int], Anchor] | None = None  # (stat of the file, what we wrote)
        self._record: OwnRecordFile | None = None
        self._file_lock = OwnFileLock(
            anchor_file.with_name(anchor_file.name + ".lock"), root=anchor_file.parent
        )
        self._lock = threading.Lock()
        self.last_error = ""

    @property
    def anchor_file(self) -> Path:
        """Where the file copy lives."""
        return self._file

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """This process's threads, then other processes of the home (an advisory lock file)."""
        with self._lock, self._file_lock:
            yield

    def close(self) -> None:
        """Release the lock file's descriptor (idempotent; a later save reopens it)."""
        with self._lock:
            self._file_lock.close()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            info = self._file.stat()
        except OSError:
            return None
        return (info.st_ino, info.st_size, info.st_mtime_ns)

    def _own_copy(self) -> Anchor | None:
        """What this store wrote last, if the file is still exactly that (no parse, no signature check)."""
        if self._written is not None and self._written[0] == self._stat():
            return self._written[1]
        return None

    def _texts(self, *, keyring: bool = True) -> list[tuple[str, str]]:
        texts: list[tuple[str, str]] = []
        if self._file.exists():
            try:
                texts.append(("the anchor file", self._file.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                texts.append(("the anchor file", f"unreadable: {type(exc).__name__}"))
        if keyring and self._keystore is not None:
            try:
                text = self._keystore.get_anchor_text()
            except KeysUnavailableError as exc:
                _log.warning("audit anchor not read from the keyring: %s", exc)
                text = None
            if text is not None:
                texts.append(("the keyring anchor", text))
        return texts

    def read(self, *, public_key: bytes, key_id: str, keyring: bool = True) -> AnchorReading:
        """Every copy checked against ``public_key``; the newest valid one and what is wrong with the rest."""
        valid: list[Anchor] = []
        invalid: list[str] = []
        for where, text in self._texts(keyring=keyring):
            try:
                anchor = parse_anchor(text)
            except ValueError:
                invalid.append(f"{where} is malformed")
                continue
            if anchor.key_id != key_id or not anchor.signature_ok(public_key):
                invalid.append(f"{where} is not signed by this installation's key")
                continue
            valid.append(anchor)
        newest = max(valid, key=lambda a: a.order, default=None)
        if newest is not None and any(a.log_id != newest.log_id for a in valid):
            invalid.append("the keyring and the anchor file name different logs")
        return AnchorReading(newest, tuple(invalid))

    def load(self, *, public_key: bytes, key_id: str) -> Anchor | None:
        """The newest valid anchor, ignoring invalid copies (they are reported by :meth:`read`)."""
        return self.read(public_key=public_key, key_id=key_id).anchor

    def save(
        self,
        anchor: Anchor,
        *,
        public_key: bytes,
        keyring: bool = True,
        durable: bool = True,
        holds: Callable[[Anchor], bool] | None = None,
    ) -> bool:
        """Store ``anchor`` unless a valid copy of the same log is already further on.

        Args:
            anchor: a signed anchor.
            public_key: the log's key (copies not signed by it never block a save).
            keyring: also update the keyring copy (slower: a D-Bus round trip).
            durable: fsync the file (a crash of the machine keeps it).
            holds: whether the log still holds the row a current anchor of the same log and
                epoch vouches for; when it does not, the log was rolled back or replaced
                underneath the writer and the anchor is kept as evidence.

        Returns:
            False when a newer anchor of the same log was kept.

        Raises:
            AnchorDivergedError: ``holds`` says the log diverged from the current anchor.
            AnchorWriteError: the anchor file could not be written.
        """
        with self._locked():
            own = None if keyring else self._own_copy()
            current = own or self.read(public_key=public_key, key_id=anchor.key_id, keyring=keyring).anchor
            same = current is not None and current.log_id == anchor.log_id
            if current is not None and same and current.order > anchor.order:
                return False
            if (
                current is not None
                and same
                and current.epoch == anchor.epoch
                and holds
                and not holds(current)
            ):
                raise AnchorDivergedError(f"the log no longer holds row {current.seq} its anchor vouches for")
            text = canonical_json(anchor.to_json()).decode("utf-8")
            try:
                if self._record is None:
                    self._record = OwnRecordFile(self._file, root=self._file.parent, size=RECORD_BYTES)
                self._record.write(text.encode("utf-8"), durable=durable and self._durable)
            except (OSError, ValueError) as exc:
                self._written = None
                self.last_error = f"anchor file not written: {type(exc).__name__}"
                raise AnchorWriteError(self.last_error) from exc
            stat = self._stat()
            self._written = (stat, anchor) if stat is not None else None
            if keyring and self._keystore is not None:
                try:
                    self._keystore.set_anchor_text(text)
                except KeysUnavailableError as exc:
                    self.last_error = f"anchor not stored in the keyring: {exc}"
                    _log.warning("%s", self.last_error)
        return True


__all__ = [
    "ANCHOR_FORMAT",
    "CHECKPOINT_PREFIX",
    "Anchor",
    "AnchorDivergedError",
    "AnchorReading",
    "AnchorStore",
    "AnchorWriteError",
    "Checkpoint",
    "parse_anchor",
    "sign_checkpoint",
]
