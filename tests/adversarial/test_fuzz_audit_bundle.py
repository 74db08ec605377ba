"""Fuzzing the audit bundle verifier (``aether audit verify --bundle``): it always answers with a report.

``verify_bundle`` has no exception of its own: its typed answer is a
:class:`VerifyReport` (intact, tampered or undecidable), so the property is
that nothing else ever comes out, whatever the file holds, and that nothing
changed without the key verifies intact. Inputs: raw bytes; the genuine
bundle of a real audit log with its bytes mutated; its body mutated as JSON
(a canonical file, so the parse passes and the signature must catch it); and
the body mutated then re-signed with the log's key, as a key holder could, to
reach the checks behind the signature, with or without the chain resealed
(hashes and checkpoints recomputed) so hostile values reach the row walker.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from audit_support import random_keys
from fuzz_support import DEEP, dump_json, fuzz, mutated_bytes, mutated_json
from hypothesis import event, example, given
from hypothesis import strategies as st

from aether_qt.policy.audit_anchor import AnchorStore, sign_checkpoint
from aether_qt.policy.audit_bundle import BUNDLE_PREFIX, MAX_BUNDLE_BYTES, bundle_bytes, verify_bundle
from aether_qt.policy.audit_chain import AuditLog
from aether_qt.policy.audit_records import content_bytes
from aether_qt.policy.audit_verify import VerifyReport
from aether_qt.policy.canonical import canonical_json, genesis_hash
from aether_qt.policy.contracts import AuditEntry, FakeClock
from aether_qt.policy.keys import AuditKeys

AETHER = (sys.executable, "-m", "aether_qt.cli")
STATUSES = {"intact", "tampered", "undecidable"}


class Genuine:
    """A real audit log's bundle, its keys and a scratch file to verify."""

    def __init__(self, folder: Path) -> None:
        self.keys: AuditKeys = random_keys()
        anchors = AnchorStore(anchor_file=folder / "anchor.json", keystore=None)
        log = AuditLog.open(
            folder / "audit.db", keys=self.keys, anchor_store=anchors, clock=FakeClock(), checkpoint_every=2
        )
        details: list[dict[str, Any]] = [{}, {"grant": "g1", "ttl_s": 60}, {"nested": [1, {"a": None}]}]
        for i, detail in enumerate(details * 2):
            log.append(AuditEntry("gate", "files.read", f"/r/{i}", "allow", change_id=f"c{i}", detail=detail))
        self.data = bundle_bytes(log)
        log.close()
        self.public_key = bytes(self.keys.verify_key)
        self.file = folder / "bundle.json"

    def verify(self, data: bytes, *, keyed: bool = True) -> VerifyReport:
        """Verify ``data`` as a bundle file: only a report may come out, with a known status."""
        self.file.write_bytes(data)
        report = verify_bundle(self.file, public_key=self.public_key if keyed else None)
        assert isinstance(report, VerifyReport) and report.status in STATUSES, report
        assert report.message, report
        return report

    def signed(self, body: Any) -> bytes:
        """A bundle of ``body`` signed by the log's key (canonical when it can be)."""
        container = {"format": "aether-audit-bundle-v1", "body": body}
        try:
            message = BUNDLE_PREFIX + canonical_json(body)
        except ValueError:  # NaN, infinity, a lone surrogate: no canonical form, so no honest signature
            return dump_json({**container, "signature": "00" * 64})
        container["signature"] = self.keys.signing_key.sign(message).signature.hex()
        return canonical_json(container)


@pytest.fixture(scope="module")
def genuine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Genuine]:
    yield Genuine(tmp_path_factory.mktemp("bundle-fuzz"))


def noted(report: VerifyReport) -> VerifyReport:
    """Count the outcome for ``--hypothesis-show-statistics`` (how deep the inputs got)."""
    event(f"{report.status}: {' '.join(report.message.split()[:3])}")
    return report


def body_of(data: bytes) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(data)["body"]
    return body


def reseal(body: Any, keys: AuditKeys) -> Any:
    """Recompute every row's hashes and re-sign every checkpoint, as a key holder could.

    Rows or checkpoints too broken to seal are left as they are.
    """
    if not isinstance(body, dict) or not isinstance(body.get("rows"), list):
        return body
    log_id = body.get("log_id") if isinstance(body.get("log_id"), str) else ""
    prev, heads = genesis_hash(log_id), {}
    for row in body["rows"]:
        try:
            row["prev_hash"] = prev
            prev = row["event_hash"] = hashlib.sha256(bytes.fromhex(prev) + content_bytes(row)).hexdigest()
            heads[row["seq"]] = prev
        except (TypeError, KeyError, ValueError):
            continue
    checkpoints = body.get("checkpoints")
    for at, ckpt in enumerate(checkpoints if isinstance(checkpoints, list) else []):
        try:
            body["checkpoints"][at] = sign_checkpoint(
                log_id=log_id,
                ckpt_no=ckpt["ckpt_no"],
                seq=ckpt["seq"],
                head_hash=heads.get(ckpt["seq"], ckpt["head_hash"]),
                ts_wall_ms=ckpt["ts_wall_ms"],
                kind=ckpt["kind"],
                signing_key=keys.signing_key,
                key_id=body.get("key_id"),
            ).to_json()
        except (TypeError, KeyError, ValueError):
            continue
    return body


# --------------------------------------------------------------------------- properties


@fuzz()
@given(data=st.binary(max_size=1024))
@example(data=b"[" * 5_000)  # found by this test: RecursionError
@example(data=b'{"body":' + b"[" * 5_000)
@example(data=dump_json({"body": DEEP, "format": "aether-audit-bundle-v1", "signature": ""}))
def test_any_bytes_are_never_a_bundle(data: bytes, genuine: Genuine) -> None:
    assert noted(genuine.verify(data)).status == "tampered"
    assert genuine.verify(data, keyed=False).status == "tampered"


@fuzz()
@given(data=st.data())
def test_a_mutated_bundle_never_verifies(data: st.DataObject, genuine: Genuine) -> None:
    mutated = data.draw(mutated_bytes(genuine.data))
    assert noted(genuine.verify(mutated)).status != "intact"
    assert genuine.verify(mutated, keyed=False).status != "intact"


@fuzz()
@given(data=st.data())
def test_a_body_changed_without_the_key_never_verifies(data: st.DataObject, genuine: Genuine) -> None:
    original = json.loads(genuine.data)
    body = data.draw(mutated_json(original["body"], max_ops=3))
    try:
        changed = canonical_json(body) != canonical_json(original["body"])
        forged = canonical_json({**original, "body": body})
    except ValueError:  # no canonical form: write it as JSON anyway
        changed, forged = True, dump_json({**original, "body": body})
    report = noted(genuine.verify(forged))
    assert report.status != "intact" or not changed, "a changed bundle verified intact"


@fuzz()
@given(data=st.data())
def test_a_resigned_hostile_body_gives_a_report(data: st.DataObject, genuine: Genuine) -> None:
    body = data.draw(mutated_json(body_of(genuine.data), max_ops=3))
    if data.draw(st.booleans()):
        body = reseal(body, genuine.keys)  # past the chain checks, into the walker and the checkpoints
    noted(genuine.verify(genuine.signed(body)))
    genuine.verify(genuine.signed(body), keyed=False)


def test_the_genuine_bundle_verifies(genuine: Genuine) -> None:
    assert genuine.verify(genuine.data).status == "intact"  # the properties above are not vacuous
    assert genuine.verify(genuine.signed(reseal(body_of(genuine.data), genuine.keys))).status == "intact"


# --------------------------------------------------------------------------- size and the command line


def test_a_huge_bundle_is_refused_before_it_is_read(genuine: Genuine) -> None:
    with genuine.file.open("wb") as handle:  # sparse: costs no disk
        handle.truncate(MAX_BUNDLE_BYTES + 1)
    tracemalloc.start()
    try:
        report = verify_bundle(genuine.file, public_key=genuine.public_key)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.status == "undecidable" and f"over the {MAX_BUNDLE_BYTES} byte cap" in report.message
    assert peak < 1 << 20, f"peak {peak} bytes: the file was read"


@pytest.mark.parametrize("name", ["missing.json", "."])
def test_an_unreadable_bundle_is_undecidable(tmp_path: Path, name: str) -> None:
    report = verify_bundle(tmp_path / name)
    assert (report.status, report.rows_checked) == ("undecidable", 0)
    assert report.message.startswith(f"cannot read {tmp_path / name}:")


@pytest.mark.parametrize("content", [b"[" * 5_000, None], ids=["deep", "missing"])
def test_the_command_answers_a_hostile_bundle_with_an_exit_code(
    tmp_path: Path, content: bytes | None
) -> None:
    bundle = tmp_path / "bundle.json"
    if content is not None:
        bundle.write_bytes(content)
    proc = subprocess.run(
        [*AETHER, "--home", str(tmp_path / "home"), "audit", "verify", "--bundle", str(bundle), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    expected = ("tampered", 1) if content is not None else ("undecidable", 2)
    report = json.loads(proc.stdout)
    assert (report["status"], report["exit_code"], proc.returncode) == (*expected, expected[1])
