"""A systematic sweep of mutations of the signed checkpoints and of the anchor.

A clean log of 24 rows has periodic checkpoints at 8, 16 and 24 and is
anchored. Every checkpoint row (edited with plain sqlite3) and the anchor file
are mutated in each way below; verification must never say intact:

bit flips in the signature, the head hash and the seq; seq + 1 and - 1; the
heads of two checkpoints swapped; a wrong key id; a valid signature by another
key; a checkpoint validly signed by the log's own key that does not extend its
predecessor (it goes back) or vouches for another head.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from audit_support import entry, random_keys

from aether_qt.policy.audit_anchor import Anchor, AnchorStore, Checkpoint, sign_checkpoint
from aether_qt.policy.audit_chain import AuditLog
from aether_qt.policy.audit_verify import verify_log
from aether_qt.policy.canonical import canonical_text
from aether_qt.policy.contracts import FakeClock
from aether_qt.policy.keys import AuditKeys


@dataclass
class Clean:
    folder: Path
    keys: AuditKeys
    checkpoints: list[Checkpoint]
    anchor: Anchor


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Clean:
    folder = tmp_path_factory.mktemp("ckpt-sweep")
    keys = random_keys()
    anchors = AnchorStore(anchor_file=folder / "anchor.json", keystore=None)
    log = AuditLog.open(
        folder / "audit.db", keys=keys, anchor_store=anchors, clock=FakeClock(), checkpoint_every=8
    )
    for i in range(24):
        log.append(entry(i))
    checkpoints = log.checkpoints()
    log.close()
    anchor = anchors.load(public_key=keys.public_key, key_id=keys.key_id)
    assert [c.seq for c in checkpoints] == [8, 16, 24] and anchor is not None and anchor.seq == 24
    assert verify_log(folder / "audit.db", keys=keys, anchor=anchor).intact
    return Clean(folder, keys, checkpoints, anchor)


def flip(hex_text: str, index: int = 3) -> str:
    raw = bytearray(bytes.fromhex(hex_text))
    raw[index % len(raw)] ^= 0x01
    return raw.hex()


def resign(ckpt: Checkpoint, keys: AuditKeys, **changes: Any) -> Checkpoint:
    changed = replace(ckpt, **changes)
    return sign_checkpoint(
        log_id=changed.log_id, ckpt_no=changed.ckpt_no, seq=changed.seq, head_hash=changed.head_hash,
        ts_wall_ms=changed.ts_wall_ms, kind=changed.kind, signing_key=keys.signing_key, key_id=keys.key_id,
    )  # fmt: skip


Mutation = Callable[[Checkpoint, Clean], Checkpoint]
MUTATIONS: dict[str, Mutation] = {
    "signature bit flip": lambda c, _: replace(c, signature=flip(c.signature)),
    "head bit flip": lambda c, _: replace(c, head_hash=flip(c.head_hash)),
    "seq bit flip": lambda c, _: replace(c, seq=c.seq ^ 1),
    "seq + 1": lambda c, _: replace(c, seq=c.seq + 1),
    "seq - 1": lambda c, _: replace(c, seq=c.seq - 1),
    "wrong key id": lambda c, _: replace(c, key_id="0" * 16),
    "another key's valid signature": lambda c, _: resign(c, random_keys(), key_id=c.key_id),
    "own key, another head": lambda c, clean: resign(c, clean.keys, head_hash="ab" * 32),
    "own key, seq - 1 (head of another row)": lambda c, clean: resign(c, clean.keys, seq=c.seq - 1),
}


def with_checkpoint(clean: Clean, tmp_path: Path, index: int, mutated: Checkpoint) -> Path:
    db = tmp_path / "audit.db"
    shutil.copy(clean.folder / "audit.db", db)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TRIGGER checkpoints_no_UPDATE")
    conn.execute(
        "UPDATE checkpoints SET seq = ?, head_hash = ?, key_id = ?, signature = ? WHERE ckpt_no = ?",
        (mutated.seq, mutated.head_hash, mutated.key_id, mutated.signature, clean.checkpoints[index].ckpt_no),
    )
    conn.close()
    return db


@pytest.mark.parametrize("index", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_a_mutated_checkpoint_is_never_intact(clean: Clean, tmp_path: Path, name: str, index: int) -> None:
    original = clean.checkpoints[index]
    mutated = MUTATIONS[name](original, clean)
    assert mutated != original
    db = with_checkpoint(clean, tmp_path, index, mutated)
    for keys in (clean.keys, None):  # with the secret keys, and with the public key alone
        report = verify_log(db, keys=keys, anchor=clean.anchor)
        assert not report.intact, (name, index, report)
        assert report.status == "tampered" or (keys is None and report.status == "undecidable"), report


def test_swapped_heads_of_two_checkpoints(clean: Clean, tmp_path: Path) -> None:
    first, second = clean.checkpoints[0], clean.checkpoints[1]
    db = with_checkpoint(clean, tmp_path, 0, replace(first, head_hash=second.head_hash))
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS checkpoints_no_UPDATE")
    conn.execute("UPDATE checkpoints SET head_hash = ? WHERE ckpt_no = 2", (first.head_hash,))
    conn.close()
    report = verify_log(db, keys=clean.keys, anchor=clean.anchor)
    assert (report.status, report.reason) == ("tampered", "signature_invalid"), report


def test_a_validly_signed_checkpoint_that_goes_back(clean: Clean, tmp_path: Path) -> None:
    """Checkpoint 3, re-signed with the log's key at row 8 with row 8's true head: it does not extend #2."""
    third = clean.checkpoints[2]
    back = resign(third, clean.keys, seq=8, head_hash=clean.checkpoints[0].head_hash)
    db = with_checkpoint(clean, tmp_path, 2, back)
    report = verify_log(db, keys=clean.keys, anchor=None)
    assert (report.status, report.first_bad_seq, report.reason) == ("tampered", 8, "rollback"), report


AnchorMutation = Callable[[dict[str, Any], Clean], dict[str, Any]]
ANCHOR_MUTATIONS: dict[str, AnchorMutation] = {
    "signature bit flip": lambda a, _: {**a, "signature": flip(a["signature"])},
    "head bit flip": lambda a, _: {**a, "head_hash": flip(a["head_hash"])},
    "seq + 1": lambda a, _: {**a, "seq": a["seq"] + 1},
    "seq - 1": lambda a, _: {**a, "seq": a["seq"] - 1},
    "epoch + 1": lambda a, _: {**a, "epoch": a["epoch"] + 1},
    "wrong key id": lambda a, _: {**a, "key_id": "0" * 16},
    "another key's valid signature": lambda a, clean: (
        replace(Anchor.from_json(a), signature="").signed(random_keys().signing_key).to_json()
    ),
    "unsigned, huge seq": lambda a, _: {**a, "seq": 10**12, "signature": ""},
}


@pytest.mark.parametrize("name", sorted(ANCHOR_MUTATIONS))
def test_a_mutated_anchor_is_never_intact(clean: Clean, tmp_path: Path, name: str) -> None:
    shutil.copy(clean.folder / "audit.db", tmp_path / "audit.db")
    mutated = ANCHOR_MUTATIONS[name](clean.anchor.to_json(), clean)
    (tmp_path / "anchor.json").write_text(json.dumps(mutated))
    store = AnchorStore(anchor_file=tmp_path / "anchor.json", keystore=None)
    reading = store.read(public_key=clean.keys.public_key, key_id=clean.keys.key_id)
    report = verify_log(
        tmp_path / "audit.db", keys=clean.keys, anchor=reading.anchor, invalid_anchors=reading.invalid
    )
    assert (report.status, report.reason) == ("tampered", "anchor_invalid"), (name, report)


def test_an_anchor_signed_by_the_own_key_for_another_head_is_a_rollback(clean: Clean, tmp_path: Path) -> None:
    shutil.copy(clean.folder / "audit.db", tmp_path / "audit.db")
    other = replace(clean.anchor, head_hash="ab" * 32).signed(clean.keys.signing_key)
    (tmp_path / "anchor.json").write_text(canonical_text(other.to_json()))
    reading = AnchorStore(anchor_file=tmp_path / "anchor.json", keystore=None).read(
        public_key=clean.keys.public_key, key_id=clean.keys.key_id
    )
    report = verify_log(tmp_path / "audit.db", keys=clean.keys, anchor=reading.anchor)
    assert (report.status, report.reason) == ("tampered", "rollback"), report
