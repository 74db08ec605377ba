"""Signed audit checkpoints and the external anchor (the newest checkpoint).

A checkpoint vouches for the chain head ``head_hash`` at ``seq``. It is signed
with the log's Ed25519 key over
``b"aether-audit-checkpoint-v1:" + canonical_json(fields)`` where ``fields``
are every attribute but ``signature`` (so the log id is covered and an anchor
can be checked on its own).

The newest checkpoint is also kept outside ``audit.db`` by :class:`AnchorStore`:
in the keyring entry ``<namespace>:audit-anchor`` and in the config folder's
``audit-anchor.json``. Loading takes the newest valid-looking copy of the two,
so deleting or rolling back one of them is not enough to hide a truncation.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.signing

from aether_qt.policy.canonical import canonical_json
from aether_qt.policy.contracts import PolicyError
from aether_qt.policy.keys import KeyStore, KeysUnavailableError, write_private_file

_log = logging.getLogger(__name__)

CHECKPOINT_PREFIX = b"aether-audit-checkpoint-v1:"
_FIELDS = ("log_id", "ckpt_no", "seq", "head_hash", "ts_wall_ms", "key_id", "kind", "signature")


class AnchorWriteError(PolicyError):
    """The anchor file could not be written (the checkpoint row itself is committed)."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement "the log ``log_id`` had head ``head_hash`` at ``seq``".

    Attributes:
        ckpt_no: 1, 2, 3... in the order checkpoints were written.
        kind: ``periodic`` (every N rows), ``shutdown``, ``manual`` or ``export``.
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
        if not isinstance(data, dict) or set(data) != set(_FIELDS):
            raise ValueError("not a checkpoint")
        ints = ("ckpt_no", "seq", "ts_wall_ms")
        for name in _FIELDS:
            expected: type = int if name in ints else str
            value = data[name]
            if not isinstance(value, expected) or isinstance(value, bool):
                raise ValueError(f"checkpoint field {name} has the wrong type")
        return cls(**data)

    def signature_ok(self, public_key: bytes) -> bool:
        """True if :attr:`signature` is a valid Ed25519 signature by ``public_key``."""
        try:
            signature = bytes.fromhex(self.signature)
            nacl.signing.VerifyKey(public_key).verify(self.message(), signature)
        except (ValueError, nacl.exceptions.BadSignatureError):
            return False
        return True


# Anchors are simply the newest checkpoint, stored elsewhere.
Anchor = Checkpoint


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
    return Checkpoint(log_id, ckpt_no, seq, head_hash, ts_wall_ms, key_id, kind, signature)


def parse_anchor(text: str) -> Checkpoint:
    """Parse anchor JSON text.

    Raises:
        ValueError: not a checkpoint.
    """
    return Checkpoint.from_json(json.loads(text))


class AnchorStore:
    """Keeps the newest checkpoint in the keyring and in a file.

    Args:
        anchor_file: ``AppPaths.anchor_file``.
        keystore: the keyring side; ``None`` when running on the opt-in key
            file (then only the file holds the anchor).
    """

    def __init__(self, *, anchor_file: Path, keystore: KeyStore | None) -> None:
        self._file = anchor_file
        self._keystore = keystore
        self.last_error = ""

    def _candidates(self) -> list[Checkpoint]:
        texts: list[tuple[str, str]] = []
        if self._file.exists():
            try:
                texts.append(("file", self._file.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError) as exc:
                _log.warning("audit anchor file unreadable: %s", type(exc).__name__)
        if self._keystore is not None:
            try:
                text = self._keystore.get_anchor_text()
            except KeysUnavailableError as exc:
                _log.warning("audit anchor not read from the keyring: %s", exc)
                text = None
            if text is not None:
                texts.append(("keyring", text))
        found: list[Checkpoint] = []
        for where, text in texts:
            try:
                found.append(parse_anchor(text))
            except ValueError:
                _log.warning("audit anchor in the %s is malformed; ignored", where)
        return found

    def load(self) -> Checkpoint | None:
        """The newest stored anchor (highest ``ckpt_no``), or ``None``."""
        found = self._candidates()
        if not found:
            return None
        return max(found, key=lambda c: c.ckpt_no)

    def save(self, checkpoint: Checkpoint) -> None:
        """Store ``checkpoint`` as the anchor unless a newer one of the same log is kept.

        Raises:
            AnchorWriteError: the anchor file could not be written.
        """
        current = self.load()
        same_log = current is not None and current.log_id == checkpoint.log_id
        if (
            current is not None
            and same_log
            and current.ckpt_no >= checkpoint.ckpt_no
            and current != checkpoint
        ):
            _log.warning(
                "not moving the audit anchor back from checkpoint %d to %d",
                current.ckpt_no,
                checkpoint.ckpt_no,
            )
            return
        if current is not None and current.log_id != checkpoint.log_id:
            _log.warning("replacing the audit anchor of another log (%s)", current.log_id)
        text = canonical_json(checkpoint.to_json()).decode("utf-8")
        try:
            write_private_file(self._file, text.encode("utf-8"))
        except OSError as exc:
            self.last_error = f"anchor file not written: {type(exc).__name__}"
            raise AnchorWriteError(self.last_error) from exc
        if self._keystore is not None:
            try:
                self._keystore.set_anchor_text(text)
            except KeysUnavailableError as exc:
                self.last_error = f"anchor not stored in the keyring: {exc}"
                _log.warning("%s", self.last_error)


__all__ = [
    "CHECKPOINT_PREFIX",
    "Anchor",
    "AnchorStore",
    "AnchorWriteError",
    "Checkpoint",
    "parse_anchor",
    "sign_checkpoint",
]
