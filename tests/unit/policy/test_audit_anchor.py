"""The anchor (aether_qt/policy/audit_anchor.py): signed, checked before use, never moved back.

Attacks on the anchor copies: an unsigned anchor with a huge seq, another
installation's anchor, a malformed file, an older copy written back; each is
reported as invalid (or ignored for an older copy), never used, and never
blocks the next save.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import pytest
from audit_support import random_keys

from aether_qt.policy.audit_anchor import (
    Anchor,
    AnchorStore,
    AnchorWriteError,
    Checkpoint,
    parse_anchor,
    sign_checkpoint,
)
from aether_qt.policy.canonical import canonical_text
from aether_qt.policy.contracts import PolicyError
from aether_qt.policy.keys import AuditKeys, KeysUnavailableError


class FakeKeyStore:
    """Just the anchor entry of a KeyStore; ``fail`` makes it raise."""

    def __init__(self) -> None:
        self.text: str | None = None
        self.fail = False

    def get_anchor_text(self) -> str | None:
        if self.fail:
            raise KeysUnavailableError("keyring locked")
        return self.text

    def set_anchor_text(self, text: str) -> None:
        if self.fail:
            raise KeysUnavailableError("keyring locked")
        self.text = text


@pytest.fixture
def keys() -> AuditKeys:
    return random_keys()


def anchor(keys: AuditKeys, seq: int, *, epoch: int = 1, log_id: str = "log1", **extra: object) -> Anchor:
    base = Anchor(log_id, keys.key_id, epoch, seq, "ab" * 32, 0, True, seq, "cd" * 32, "0" * 64, 5)
    return replace(base, **extra).signed(keys.signing_key)  # type: ignore[arg-type]


def store_with_keyring(tmp_path: Path) -> tuple[AnchorStore, FakeKeyStore]:
    keystore = FakeKeyStore()
    return AnchorStore(anchor_file=tmp_path / "a.json", keystore=keystore), keystore  # type: ignore[arg-type]


def read(store: AnchorStore, keys: AuditKeys) -> tuple[Anchor | None, tuple[str, ...]]:
    reading = store.read(public_key=keys.public_key, key_id=keys.key_id)
    return reading.anchor, reading.invalid


def test_round_trip_and_signature(keys: AuditKeys) -> None:
    a = anchor(keys, 7, epoch=2)
    assert parse_anchor(canonical_text(a.to_json())) == a
    assert a.signature_ok(keys.public_key)
    assert not a.signature_ok(random_keys().public_key)
    for field, value in (("seq", 8), ("epoch", 3), ("session_open", False), ("grants_digest", "1" * 64)):
        assert not replace(a, **{field: value}).signature_ok(keys.public_key), field  # type: ignore[arg-type]
    assert not replace(a, signature=a.signature.upper()).signature_ok(keys.public_key)


def test_a_v1_anchor_reads_as_epoch_zero_and_keeps_its_checkpoint_signature(keys: AuditKeys) -> None:
    ckpt = sign_checkpoint(
        log_id="log1", ckpt_no=3, seq=12, head_hash="ab" * 32, ts_wall_ms=5, kind="shutdown",
        signing_key=keys.signing_key, key_id=keys.key_id,
    )  # fmt: skip
    legacy = parse_anchor(canonical_text(ckpt.to_json()))
    assert (legacy.epoch, legacy.seq, legacy.session_open, legacy.verified_seq) == (0, 12, False, 0)
    assert legacy.legacy == ckpt and legacy.signature_ok(keys.public_key)
    assert legacy.to_json() == ckpt.to_json()  # stored as written
    assert not legacy.signature_ok(random_keys().public_key)


@pytest.mark.parametrize(
    "data",
    [
        [],
        {"format": "aether-audit-anchor-v2"},
        {"format": "aether-audit-anchor-v2", **dict.fromkeys(("log_id", "key_id"), "x")},
        {"log_id": "x"},
    ],
)
def test_parsing_rejects_malformed(data: object) -> None:
    with pytest.raises(ValueError):
        Anchor.from_json(data)


def test_a_wrongly_typed_v2_field_is_rejected(keys: AuditKeys) -> None:
    data = anchor(keys, 3).to_json()
    for field, value in (("seq", "3"), ("epoch", True), ("session_open", 1), ("head_hash", 5)):
        with pytest.raises(ValueError):
            Anchor.from_json({**data, field: value})


@pytest.mark.parametrize(
    "checkpoint",
    [
        [],
        {"log_id": "x"},
        {**dict.fromkeys(("log_id", "head_hash", "key_id", "kind", "signature"), "s"),
         "ckpt_no": True, "seq": 1, "ts_wall_ms": 1},
    ],
)  # fmt: skip
def test_checkpoint_parsing_rejects_malformed(checkpoint: object) -> None:
    with pytest.raises(ValueError):
        Checkpoint.from_json(checkpoint)


def test_the_newest_valid_copy_wins_and_saving_never_moves_back(tmp_path: Path, keys: AuditKeys) -> None:
    store, keystore = store_with_keyring(tmp_path)
    assert read(store, keys) == (None, ())
    first, second = anchor(keys, 4), anchor(keys, 8)
    assert store.save(first, public_key=keys.public_key)
    assert store.save(second, public_key=keys.public_key)
    assert read(store, keys) == (second, ()) and keystore.text is not None
    # Writing an older (valid) copy back into the file is not enough: the keyring copy is newer.
    (tmp_path / "a.json").write_text(canonical_text(first.to_json()))
    assert read(store, keys) == (second, ())
    assert not store.save(first, public_key=keys.public_key)  # refused: it would move back
    assert store.save(second, public_key=keys.public_key)  # the same one again is fine
    assert store.save(anchor(keys, 2, epoch=2), public_key=keys.public_key)  # a new epoch moves on
    assert store.save(anchor(keys, 1, log_id="log2", epoch=3), public_key=keys.public_key)  # a new log too


def test_a_planted_unsigned_anchor_with_a_huge_seq_is_invalid_and_does_not_freeze_saves(
    tmp_path: Path, keys: AuditKeys
) -> None:
    store, _ = store_with_keyring(tmp_path)
    store.save(anchor(keys, 4), public_key=keys.public_key)
    planted = {**anchor(keys, 10**12).to_json(), "signature": "00" * 64}
    (tmp_path / "a.json").write_text(json.dumps(planted))
    current, invalid = read(store, keys)
    assert current is not None and current.seq == 4  # the keyring copy, valid
    assert invalid == ("the anchor file is not signed by this installation's key",)
    assert store.save(anchor(keys, 5), public_key=keys.public_key)  # not frozen by the plant
    assert read(store, keys) == (anchor(keys, 5), ())


def test_another_installations_anchor_is_invalid(tmp_path: Path, keys: AuditKeys) -> None:
    store = AnchorStore(anchor_file=tmp_path / "a.json", keystore=None)
    other = random_keys()
    (tmp_path / "a.json").write_text(canonical_text(anchor(other, 50).to_json()))
    assert read(store, keys) == (None, ("the anchor file is not signed by this installation's key",))
    signed_by_other_with_our_id = replace(anchor(other, 50), key_id=keys.key_id).signed(other.signing_key)
    (tmp_path / "a.json").write_text(canonical_text(signed_by_other_with_our_id.to_json()))
    assert read(store, keys)[1] == ("the anchor file is not signed by this installation's key",)


def test_copies_of_two_different_logs_are_reported(tmp_path: Path, keys: AuditKeys) -> None:
    store, keystore = store_with_keyring(tmp_path)
    keystore.text = canonical_text(anchor(keys, 4, log_id="log1").to_json())
    (tmp_path / "a.json").write_text(canonical_text(anchor(keys, 2, log_id="log2", epoch=2).to_json()))
    current, invalid = read(store, keys)
    assert current is not None and current.log_id == "log2"
    assert invalid == ("the keyring and the anchor file name different logs",)


def test_bad_copies_and_a_failing_keyring(
    tmp_path: Path, keys: AuditKeys, caplog: pytest.LogCaptureFixture
) -> None:
    store, keystore = store_with_keyring(tmp_path)
    (tmp_path / "a.json").write_text("{broken")
    keystore.text = "[]"
    assert read(store, keys) == (None, ("the anchor file is malformed", "the keyring anchor is malformed"))
    keystore.fail = True
    (tmp_path / "a.json").unlink()
    (tmp_path / "a.json").mkdir()
    with caplog.at_level(logging.WARNING):
        assert read(store, keys) == (None, ("the anchor file is malformed",))
    assert "not read from the keyring" in caplog.text
    with pytest.raises(AnchorWriteError, match="anchor file not written"):
        store.save(anchor(keys, 1), public_key=keys.public_key)
    (tmp_path / "a.json").rmdir()
    with caplog.at_level(logging.WARNING):
        store.save(anchor(keys, 1), public_key=keys.public_key)
    assert store.last_error.startswith("anchor not stored in the keyring")
    assert issubclass(AnchorWriteError, PolicyError)


def test_a_file_only_save_leaves_the_keyring_copy(tmp_path: Path, keys: AuditKeys) -> None:
    store, keystore = store_with_keyring(tmp_path)
    store.save(anchor(keys, 4), public_key=keys.public_key)
    before = keystore.text
    store.save(anchor(keys, 5), public_key=keys.public_key, keyring=False, durable=False)
    assert keystore.text == before
    assert read(store, keys)[0] == anchor(keys, 5)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o600


def test_a_deleted_anchor_file_is_written_again_by_the_next_file_only_save(
    tmp_path: Path, keys: AuditKeys
) -> None:
    store = AnchorStore(anchor_file=tmp_path / "a.json", keystore=None, durable=False)
    assert store.anchor_file == tmp_path / "a.json"
    assert store.save(anchor(keys, 5), public_key=keys.public_key, keyring=False)
    store.anchor_file.unlink()  # not the store's own copy any more: there is nothing to compare with
    assert store.save(anchor(keys, 3), public_key=keys.public_key, keyring=False)
    assert read(store, keys) == (anchor(keys, 3), ())
