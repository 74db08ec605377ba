"""Export bundles: the audit log in one file anyone can verify with the public key.

File format (UTF-8, canonical JSON, no trailing newline)::

    {"body": {...}, "format": "aether-audit-bundle-v1", "signature": "<hex>"}

``body`` holds ``log_id``, ``public_key`` (hex), ``key_id``, ``rows`` (every
column, ``stage_trace`` and ``detail`` as JSON values) and ``checkpoints``
(the last one written by the export itself). ``signature`` is Ed25519 over
``b"aether-audit-bundle-v1:" + canonical_json(body)``.

The verifier requires the file to be *exactly* the canonical serialisation of
what it parses to, so one flipped byte anywhere (a key name, a digit, a space
where none belongs) fails: either the parse, the exact-bytes check, or the
signature. The HMAC cannot be checked without the installation's secret key;
the chain, every row signature and every checkpoint are.

The file is untrusted input: whatever it holds, the verifier answers with a
report, never an exception. A file that cannot be read, or is over
:data:`MAX_BUNDLE_BYTES` (checked before it is read: parsing JSON costs up to
~25 bytes of memory per byte of file), is ``undecidable``; JSON nested past the
recursion limit is not an intact bundle.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, Final

import nacl.exceptions
import nacl.signing

from aether_qt.policy.audit_anchor import Checkpoint
from aether_qt.policy.audit_chain import BUNDLE_PREFIX, AuditLog
from aether_qt.policy.audit_records import record_from_row
from aether_qt.policy.audit_verify import (
    ChainWalker,
    Failure,
    VerifyReport,
    check_checkpoints,
    feed_records,
    report_for,
)
from aether_qt.policy.canonical import canonical_json
from aether_qt.policy.keys import write_private_file

BUNDLE_FORMAT = "aether-audit-bundle-v1"
MAX_BUNDLE_BYTES: Final = 256 * 1024 * 1024
"""Largest bundle the verifier reads (rows take about 700 bytes: some 380,000 rows)."""


def bundle_bytes(log: AuditLog) -> bytes:
    """The signed bundle of ``log`` as bytes (after an ``export`` checkpoint).

    The command line writes these bytes through an effector, so exporting is
    gated (``audit.export``) like any other write outside the data folder.

    Raises:
        AuditWriteError: the export checkpoint could not be written.
    """
    log.checkpoint("export")
    body = {
        "log_id": log.log_id,
        "public_key": log.public_key.hex(),
        "key_id": log.key_id,
        "rows": [record_from_row(row) for row in log.rows()],
        "checkpoints": [ckpt.to_json() for ckpt in log.checkpoints()],
    }
    signature = log.sign_export(BUNDLE_PREFIX + canonical_json(body))
    container = {"format": BUNDLE_FORMAT, "body": body, "signature": signature}
    return canonical_json(container)


def export_bundle(log: AuditLog, out_path: Path) -> Path:
    """Write a signed bundle of ``log`` to ``out_path`` in the app's own folders (0600).

    Raises:
        AuditWriteError: the export checkpoint could not be written.
    """
    write_private_file(out_path, bundle_bytes(log))
    return out_path


def _tampered(message: str) -> VerifyReport:
    return report_for(Failure(None, "signature_invalid", message), rows=0, clean=("", None, False), note="")


def _parse(data: bytes) -> dict[str, Any] | None:  # noqa: PLR0911 - one exit per malformation
    """The container if ``data`` is exactly its canonical form, else ``None``."""
    try:
        container = json.loads(data.decode("utf-8"))
        if canonical_json(container) != data:
            return None
    except (ValueError, RecursionError):  # RecursionError: nested deeper than any bundle
        return None
    if not isinstance(container, dict) or set(container) != {"format", "body", "signature"}:
        return None
    body = container["body"]
    if container["format"] != BUNDLE_FORMAT or not isinstance(body, dict):
        return None
    if not isinstance(body.get("rows"), list) or not isinstance(body.get("checkpoints"), list):
        return None
    if not all(isinstance(body.get(k), str) for k in ("log_id", "public_key", "key_id")):
        return None
    return container


def _read(path: Path) -> bytes | str:
    """The bundle's bytes, or why they were not read (not a regular file, over the cap, an OS error)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # before open: a FIFO would block it
            return f"cannot read {path}: not a regular file"
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            data = b"" if size > MAX_BUNDLE_BYTES else handle.read(MAX_BUNDLE_BYTES + 1)
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    if size > MAX_BUNDLE_BYTES or len(data) > MAX_BUNDLE_BYTES:
        return f"{path} is over the {MAX_BUNDLE_BYTES} byte cap for a bundle; it was not checked"
    return data


def _seq_key(record: Any) -> int:
    seq = record.get("seq") if isinstance(record, dict) else None
    return seq if isinstance(seq, int) else -1


def verify_bundle(path: Path, *, public_key: bytes | None = None) -> VerifyReport:  # noqa: PLR0911
    """Verify a bundle with nothing but the log's public key.

    Without ``public_key`` the key embedded in the bundle is used and the best
    outcome is ``undecidable`` (anyone could have re-signed the bundle). A file
    that cannot be read or is over :data:`MAX_BUNDLE_BYTES` is ``undecidable``.
    """
    data = _read(path)
    if isinstance(data, str):
        return VerifyReport("undecidable", False, None, None, 0, data)
    container = _parse(data)
    if container is None:
        return _tampered("the file is not an intact bundle")
    body: dict[str, Any] = container["body"]
    try:
        embedded = bytes.fromhex(body["public_key"])
        signature = bytes.fromhex(str(container["signature"]))
        if signature.hex() != container["signature"]:
            raise ValueError("signature hex must be lowercase")  # 'a' -> 'A' is a flipped byte too
        verify_key = nacl.signing.VerifyKey(public_key if public_key is not None else embedded)
    except ValueError:
        return _tampered("the bundle's key or signature is malformed")
    if public_key is not None and embedded != public_key:
        mismatch = Failure(None, "key_mismatch", "the bundle was not signed by the key offered")
        return report_for(mismatch, rows=0, clean=("", None, False), note="")
    try:
        verify_key.verify(BUNDLE_PREFIX + canonical_json(body), signature)
    except (nacl.exceptions.BadSignatureError, ValueError):
        return _tampered("the bundle signature is invalid")
    try:
        checkpoints = [Checkpoint.from_json(item) for item in body["checkpoints"]]
    except ValueError:
        return _tampered("a checkpoint in the bundle is malformed")
    walker = ChainWalker(
        log_id=body["log_id"],
        key_id=body["key_id"],
        public_key=bytes(verify_key),
        hmac_key=None,
        wanted={c.seq for c in checkpoints},
    )
    records = (record if isinstance(record, dict) else {} for record in sorted(body["rows"], key=_seq_key))
    failure = feed_records(walker, records) or check_checkpoints(
        checkpoints, log_id=body["log_id"], key_id=body["key_id"], public_key=bytes(verify_key), walker=walker
    )
    rows = walker.rows_checked
    if public_key is None:
        note = f"{rows} rows consistent, but checked only against the key inside the bundle"
        return report_for(failure, rows=rows, clean=("undecidable", None, False), note=note)
    note = f"{rows} rows intact (chain, signatures, checkpoints); HMAC not checked: it needs the secret key"
    return report_for(failure, rows=rows, clean=("intact", None, True), note=note)


__all__ = ["BUNDLE_FORMAT", "BUNDLE_PREFIX", "MAX_BUNDLE_BYTES", "export_bundle", "verify_bundle"]
