"""Canonical JSON and the hash primitives of the audit chain.

Everything that is hashed, MACed or signed goes through :func:`canonical_json`
first, so two processes (or a third-party verifier) that hold the same values
always produce the same bytes: compact separators, keys sorted, UTF-8 without
``\\u`` escaping of non-ASCII text, and no NaN or infinity (JSON has no such
numbers and their text form differs between implementations).

Byte layouts (DESIGN.md §5; written down here because a verifier in another
language must reproduce them exactly):

* ``genesis = SHA-256("aether-audit-genesis-v1:" + log_id)`` (UTF-8), hex;
* ``event_hash = SHA-256(bytes.fromhex(prev_hash) + canonical)``, hex;
* ``record_hmac = HMAC-SHA256(key, log_id_utf8 + seq_u64_be + bytes.fromhex(event_hash))``, hex;
* row ``signature``: empty since format 2 (rows are signed through checkpoints);
  rows of format 1 carry ``Ed25519(bytes.fromhex(event_hash))``, hex of the 64-byte signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from aether_qt.policy.contracts import PolicyError

GENESIS_PREFIX = "aether-audit-genesis-v1:"

# One shared encoder: ``json.dumps`` with these options builds a new one per call.
# It holds no state between calls, so sharing it across threads is safe.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


class CanonicalError(PolicyError, ValueError):
    """A value cannot be written as canonical JSON (NaN, infinity, non-JSON type)."""


def canonical_json(value: Any) -> bytes:
    """Return the canonical UTF-8 JSON bytes of ``value``.

    Args:
        value: JSON-compatible data (dict keys must be strings).

    Raises:
        CanonicalError: ``value`` holds NaN, infinity, a non-string key or a
            type JSON cannot express.
    """
    try:
        text = _ENCODER.encode(value)
    except ValueError as exc:
        raise CanonicalError("canonical JSON rejects NaN and infinity") from exc
    except TypeError as exc:
        raise CanonicalError(f"not JSON-serialisable: {type(exc).__name__}") from exc
    return text.encode("utf-8")


def canonical_text(value: Any) -> str:
    """Like :func:`canonical_json` but returns ``str`` (for TEXT columns)."""
    return canonical_json(value).decode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def genesis_hash(log_id: str) -> str:
    """The ``prev_hash`` of the first row of the log ``log_id``."""
    return sha256_hex((GENESIS_PREFIX + log_id).encode("utf-8"))


def event_hash(prev_hash: str, canonical: bytes) -> str:
    """``SHA-256(prev_hash || canonical)`` with ``prev_hash`` taken as raw bytes.

    Raises:
        ValueError: ``prev_hash`` is not hex.
    """
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest()


def hmac_message(log_id: str, seq: int, event_hash_hex: str) -> bytes:
    """The bytes sealed by ``record_hmac``: ``log_id || seq (u64 BE) || event_hash``."""
    return log_id.encode("utf-8") + seq.to_bytes(8, "big", signed=False) + bytes.fromhex(event_hash_hex)


def record_hmac(key: bytes, log_id: str, seq: int, event_hash_hex: str) -> str:
    """Hex ``HMAC-SHA256(key, log_id || seq || event_hash)``."""
    return hmac.digest(key, hmac_message(log_id, seq, event_hash_hex), "sha256").hex()


def hmac_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two hex MACs."""
    return hmac.compare_digest(a.encode("ascii", "replace"), b.encode("ascii", "replace"))


def key_fingerprint(public_key: bytes) -> str:
    """Short id of an Ed25519 public key: the first 16 hex digits of its SHA-256."""
    return sha256_hex(public_key)[:16]


__all__ = [
    "GENESIS_PREFIX",
    "CanonicalError",
    "canonical_json",
    "canonical_text",
    "event_hash",
    "genesis_hash",
    "hmac_equal",
    "hmac_message",
    "key_fingerprint",
    "record_hmac",
    "sha256_hex",
]
