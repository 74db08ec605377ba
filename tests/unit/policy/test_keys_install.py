"""``KeyStore.install_keys``: restored keys go to the keyring or the opt-in file; replaced ones are kept."""

from __future__ import annotations

import json
from pathlib import Path

import keyring.backends.fail
import pytest
from keyring_support import MemoryKeyring

from aether_qt.policy.keys import SERVICE, KeyStore, KeysUnavailableError

NEW = {"hmac_key": b"h" * 32, "seed": b"s" * 32, "data_key": b"d" * 32}


def test_into_the_keyring_keeping_a_different_key_under_the_replaced_entry(tmp_path: Path) -> None:
    ring = MemoryKeyring()
    store = KeyStore(namespace="ns", key_file=tmp_path / "keys.json", backend=ring)
    ring.set_password(SERVICE, "ns:data-key", "b2xkIGRhdGEga2V5IG9mIGEgaG9tZSB0aGF0IHdlbnQ=")
    ring.set_password(SERVICE, "ns:hmac-key", "aGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGhoaGg=")  # the same key
    where = store.install_keys(**NEW, allow_key_file=False, keep_old_as="replaced-1")
    assert where == "keyring"
    assert ring.entries[(SERVICE, "ns:replaced-1:data-key")] == "b2xkIGRhdGEga2V5IG9mIGEgaG9tZSB0aGF0IHdlbnQ="
    assert (SERVICE, "ns:replaced-1:hmac-key") not in ring.entries
    keys = store.load_keys(log_exists=True, allow_key_file=False)
    assert keys.hmac_key == NEW["hmac_key"] and bytes(keys.signing_key) == NEW["seed"]
    assert store.load_data_key(encrypted_data_exists=True, allow_key_file=False).secret == NEW["data_key"]
    assert not (tmp_path / "keys.json").exists()


def test_into_the_key_file_only_after_an_opt_in(tmp_path: Path) -> None:
    store = KeyStore(namespace="ns", key_file=tmp_path / "keys.json", backend=keyring.backends.fail.Keyring())
    with pytest.raises(KeysUnavailableError, match="opt in"):
        store.install_keys(**NEW, allow_key_file=False, keep_old_as="replaced-1")
    assert not (tmp_path / "keys.json").exists()
    assert store.install_keys(**NEW, allow_key_file=True, keep_old_as="replaced-1") == "key_file"
    body = json.loads((tmp_path / "keys.json").read_text())
    assert "replaced-1" not in body and (tmp_path / "keys.json").stat().st_mode & 0o777 == 0o600
    assert (
        store.install_keys(**{**NEW, "data_key": b"e" * 32}, allow_key_file=True, keep_old_as="replaced-2")
        == "key_file"
    )
    body = json.loads((tmp_path / "keys.json").read_text())
    assert body["replaced-2"] == {"data_key": "ZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGQ="}


def test_a_keyring_that_refuses_is_a_typed_error(tmp_path: Path) -> None:
    ring = MemoryKeyring()
    ring.fail_on.add("set")
    store = KeyStore(namespace="ns", key_file=tmp_path / "keys.json", backend=ring)
    with pytest.raises(KeysUnavailableError, match="refused to store"):
        store.install_keys(**NEW, allow_key_file=True, keep_old_as="replaced-1")
