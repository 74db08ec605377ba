"""Golden vectors of the audit format (tests/data/audit_golden.json).

Fixed keys, three canonical rows, their hashes and MACs, a checkpoint and an
anchor with their signatures. Each value is recomputed twice: by an independent
reading of the byte layouts (hashlib, hmac, json, nacl only, as a verifier in
another language would), and by the project's own functions. A change of the
format, the canonical JSON or a key derivation fails here before it breaks
every existing log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from aether_qt.policy.audit_anchor import Anchor, Checkpoint
from aether_qt.policy.audit_records import content_bytes
from aether_qt.policy.canonical import event_hash, genesis_hash, record_hmac
from aether_qt.policy.keys import AuditKeys

GOLDEN = Path(__file__).resolve().parents[2] / "data" / "audit_golden.json"


@pytest.fixture(scope="module")
def golden() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(GOLDEN.read_text(encoding="utf-8"))
    return data


def canonical(value: Any) -> bytes:
    """Compact, sorted, UTF-8 JSON without escaping non-ASCII (the documented layout)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def test_keys_derive_the_documented_public_key_and_id(golden: dict[str, Any]) -> None:
    seed = bytes.fromhex(golden["ed25519_seed_hex"])
    public = bytes(nacl.signing.SigningKey(seed).verify_key)
    assert public.hex() == golden["public_key_hex"]
    assert hashlib.sha256(public).hexdigest()[:16] == golden["key_id"]
    keys = AuditKeys.from_secrets(bytes.fromhex(golden["hmac_key_hex"]), seed, source="test")
    assert (keys.public_key.hex(), keys.key_id) == (golden["public_key_hex"], golden["key_id"])


def test_rows_by_an_independent_reading_of_the_layout(golden: dict[str, Any]) -> None:
    key = bytes.fromhex(golden["hmac_key_hex"])
    log_id = golden["log_id"]
    prev = hashlib.sha256(("aether-audit-genesis-v1:" + log_id).encode("utf-8")).hexdigest()
    assert prev == golden["genesis"]
    for row in golden["rows"]:
        body = canonical(row["content"])
        assert body.decode("utf-8") == row["canonical"]
        assert row["prev_hash"] == prev
        digest = hashlib.sha256(bytes.fromhex(prev) + body).hexdigest()
        assert digest == row["event_hash"]
        message = log_id.encode("utf-8") + row["content"]["seq"].to_bytes(8, "big") + bytes.fromhex(digest)
        assert hmac.new(key, message, hashlib.sha256).hexdigest() == row["record_hmac"]
        prev = digest


def test_rows_by_the_projects_own_functions(golden: dict[str, Any]) -> None:
    key = bytes.fromhex(golden["hmac_key_hex"])
    prev = genesis_hash(golden["log_id"])
    for row in golden["rows"]:
        assert content_bytes(row["content"]).decode("utf-8") == row["canonical"]
        digest = event_hash(prev, content_bytes(row["content"]))
        assert digest == row["event_hash"]
        assert record_hmac(key, golden["log_id"], row["content"]["seq"], digest) == row["record_hmac"]
        prev = digest


def test_checkpoint_and_anchor_signatures(golden: dict[str, Any]) -> None:
    seed = bytes.fromhex(golden["ed25519_seed_hex"])
    signing = nacl.signing.SigningKey(seed)
    public = bytes(signing.verify_key)
    ckpt = golden["checkpoint"]
    fields = {k: v for k, v in ckpt.items() if k != "signature"}
    message = b"aether-audit-checkpoint-v1:" + canonical(fields)
    assert message.decode("utf-8") == golden["checkpoint_message"]
    assert signing.sign(message).signature.hex() == ckpt["signature"]  # Ed25519 is deterministic
    assert Checkpoint.from_json(ckpt).signature_ok(public)
    assert ckpt["head_hash"] == golden["rows"][-1]["event_hash"]
    anchor = golden["anchor"]
    fields = {k: v for k, v in anchor.items() if k != "signature"}
    message = b"aether-audit-anchor-v2:" + canonical(fields)
    assert message.decode("utf-8") == golden["anchor_message"]
    assert signing.sign(message).signature.hex() == anchor["signature"]
    parsed = Anchor.from_json(anchor)
    assert parsed.signature_ok(public) and parsed.to_json() == anchor
    assert parsed.signed(signing).signature == anchor["signature"]
