"""Export bundles verify with the public key alone; any flipped byte fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from audit_support import random_keys

from aether_qt.policy.audit_anchor import AnchorStore
from aether_qt.policy.audit_bundle import BUNDLE_PREFIX, export_bundle, verify_bundle
from aether_qt.policy.audit_chain import AuditLog
from aether_qt.policy.canonical import canonical_json
from aether_qt.policy.contracts import AuditEntry, FakeClock
from aether_qt.policy.keys import AuditKeys


@pytest.fixture
def keys() -> AuditKeys:
    return random_keys()


@pytest.fixture
def bundle(tmp_path: Path, keys: AuditKeys) -> Path:
    anchors = AnchorStore(anchor_file=tmp_path / "anchor.json", keystore=None)
    log = AuditLog.open(
        tmp_path / "audit.db", keys=keys, anchor_store=anchors, clock=FakeClock(), checkpoint_every=2
    )
    for i in range(3):
        log.append(
            AuditEntry(
                actor="gate", capability="files.read", resource=f"/r/{i}", decision="allow", detail={"i": i}
            )
        )
    path = export_bundle(log, tmp_path / "bundle.json")
    log.close()
    return path


def rewrite(path: Path, keys: AuditKeys, edit: object) -> None:
    """Re-sign a modified body (what a key holder could do) to reach the inner checks."""
    container = json.loads(path.read_bytes())
    edit(container["body"])  # type: ignore[operator]
    container["signature"] = keys.signing_key.sign(
        BUNDLE_PREFIX + canonical_json(container["body"])
    ).signature.hex()
    path.write_bytes(canonical_json(container))


def test_bundle_verifies_with_public_key_only(bundle: Path, keys: AuditKeys) -> None:
    report = verify_bundle(bundle, public_key=keys.public_key)
    assert report.intact and report.anchored and report.rows_checked == 3
    assert "HMAC not checked" in report.message
    body = json.loads(bundle.read_bytes())["body"]
    assert [c["kind"] for c in body["checkpoints"]] == ["periodic", "export"]


def test_bundle_without_a_key_is_undecidable(bundle: Path) -> None:
    report = verify_bundle(bundle)
    assert (report.status, report.reason) == ("undecidable", None)


def test_bundle_signed_by_another_key(bundle: Path) -> None:
    report = verify_bundle(bundle, public_key=random_keys().public_key)
    assert (report.status, report.reason) == ("undecidable", "key_mismatch")


def test_every_flipped_byte_fails(bundle: Path, keys: AuditKeys, tmp_path: Path) -> None:
    data = bundle.read_bytes()
    flipped = tmp_path / "flipped.json"
    positions = sorted({0, len(data) - 1, *range(0, len(data), max(1, len(data) // 400))})
    for position in positions:
        for mask in (0x01, 0x20):
            changed = bytearray(data)
            changed[position] ^= mask
            flipped.write_bytes(bytes(changed))
            report = verify_bundle(flipped, public_key=keys.public_key)
            assert not report.intact, (position, mask)
    flipped.write_bytes(data + b"\n")
    assert not verify_bundle(flipped, public_key=keys.public_key).intact


@pytest.mark.parametrize(
    "content",
    [
        b"[]",
        b'{"body":{},"format":"x","signature":""}',
        b'{"body":[],"format":"aether-audit-bundle-v1","signature":""}',
    ],
)
def test_malformed_containers(tmp_path: Path, keys: AuditKeys, content: bytes) -> None:
    path = tmp_path / "b.json"
    path.write_bytes(content)
    report = verify_bundle(path, public_key=keys.public_key)
    assert (report.status, report.reason) == ("tampered", "signature_invalid")


def test_malformed_key_and_fields(bundle: Path, keys: AuditKeys) -> None:
    container = json.loads(bundle.read_bytes())
    container["body"]["public_key"] = "zz"
    bundle.write_bytes(canonical_json(container))
    assert verify_bundle(bundle, public_key=keys.public_key).reason == "signature_invalid"
    container["body"]["public_key"] = 5
    bundle.write_bytes(canonical_json(container))
    assert verify_bundle(bundle, public_key=keys.public_key).reason == "signature_invalid"


def test_inner_checks_behind_a_valid_signature(bundle: Path, keys: AuditKeys) -> None:
    rewrite(bundle, keys, lambda body: body["rows"][1].update(resource="/etc/shadow"))
    report = verify_bundle(bundle, public_key=keys.public_key)
    assert (report.status, report.first_bad_seq, report.reason) == ("tampered", 2, "content_hash_mismatch")


def test_duplicate_and_junk_rows(bundle: Path, keys: AuditKeys) -> None:
    rewrite(bundle, keys, lambda body: body["rows"].insert(1, dict(body["rows"][1])))
    report = verify_bundle(bundle, public_key=keys.public_key)
    assert (report.first_bad_seq, report.reason) == (2, "duplicate_seq")
    rewrite(bundle, keys, lambda body: body["rows"].__setitem__(1, "junk"))
    report = verify_bundle(bundle, public_key=keys.public_key)
    assert report.reason == "content_hash_mismatch"


def test_malformed_and_truncating_checkpoints(bundle: Path, keys: AuditKeys) -> None:
    rewrite(bundle, keys, lambda body: body["rows"].pop())
    report = verify_bundle(bundle, public_key=keys.public_key)
    assert (report.first_bad_seq, report.reason) == (3, "truncated")
    rewrite(bundle, keys, lambda body: body["checkpoints"].append({"x": 1}))
    report = verify_bundle(bundle, public_key=keys.public_key)
    assert report.reason == "signature_invalid"
