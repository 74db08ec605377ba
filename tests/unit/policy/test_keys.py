"""Tests of the audit key store: keyring backends, minting rules, the 0600 key file."""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import keyring
import keyring.backend
import keyring.backends.chainer
import keyring.backends.fail
import keyring.backends.null
import keyring.errors
import pytest
from keyring_support import MemoryKeyring

from aether_qt.policy.keys import (
    SERVICE,
    AuditKeys,
    KeyStore,
    KeysUnavailableError,
    backend_name,
    backend_usable,
    install_namespace,
    write_private_file,
)


@pytest.fixture
def memory() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "config" / "keys-on-disk.json"


def store(backend: object, key_file: Path) -> KeyStore:
    return KeyStore(namespace="ns1", key_file=key_file, backend=backend)


@pytest.fixture
def global_keyring() -> Iterator[None]:
    saved = keyring.get_keyring()
    yield
    keyring.set_keyring(saved)


def test_backend_detection() -> None:
    assert backend_name(keyring.backends.fail.Keyring()) == "keyring.backends.fail.Keyring"
    assert not backend_usable(keyring.backends.fail.Keyring())
    assert not backend_usable(keyring.backends.null.Keyring())

    class EmptyChainer(keyring.backends.chainer.ChainerBackend):
        backends: ClassVar[list[object]] = []  # type: ignore[misc]

    class UsefulChainer(keyring.backends.chainer.ChainerBackend):
        backends: ClassVar[list[object]] = [keyring.backends.null.Keyring(), MemoryKeyring()]  # type: ignore[misc]

    assert not backend_usable(EmptyChainer())
    assert backend_usable(UsefulChainer())
    assert backend_usable(MemoryKeyring())


def test_mints_only_for_a_new_log_then_reloads(memory: MemoryKeyring, key_file: Path) -> None:
    keys = store(memory, key_file).load_keys(log_exists=False, allow_key_file=False)
    assert keys.source == "keyring" and len(keys.hmac_key) == 32
    assert {u for _, u in memory.entries} == {"ns1:hmac-key", "ns1:ed25519-seed"}
    again = store(memory, key_file).load_keys(log_exists=True, allow_key_file=False)
    assert again.hmac_key == keys.hmac_key and again.key_id == keys.key_id
    assert not key_file.exists()


def test_never_mints_over_an_existing_log(memory: MemoryKeyring, key_file: Path) -> None:
    with pytest.raises(KeysUnavailableError, match="never minted over an existing log"):
        store(memory, key_file).load_keys(log_exists=True, allow_key_file=False)
    assert memory.entries == {}


def test_existing_key_file_needs_opt_in(memory: MemoryKeyring, key_file: Path) -> None:
    unusable = store(keyring.backends.fail.Keyring(), key_file)
    minted = unusable.load_keys(log_exists=False, allow_key_file=True)
    with pytest.raises(KeysUnavailableError, match="a key file exists: opt in"):
        store(memory, key_file).load_keys(log_exists=True, allow_key_file=False)
    # A working keyring without keys falls back to the opted-in key file, never mints.
    loaded = store(memory, key_file).load_keys(log_exists=True, allow_key_file=True)
    assert loaded.key_id == minted.key_id and loaded.source == "key_file"
    assert memory.entries == {}


def test_half_present_keys_are_an_error(memory: MemoryKeyring, key_file: Path) -> None:
    memory.entries[(SERVICE, "ns1:hmac-key")] = base64.b64encode(b"x" * 32).decode()
    with pytest.raises(KeysUnavailableError, match="only one of the two"):
        store(memory, key_file).load_keys(log_exists=False, allow_key_file=False)


@pytest.mark.parametrize("value", ["***not base64***", base64.b64encode(b"short").decode()])
def test_malformed_stored_key(memory: MemoryKeyring, key_file: Path, value: str) -> None:
    memory.entries[(SERVICE, "ns1:hmac-key")] = value
    memory.entries[(SERVICE, "ns1:ed25519-seed")] = base64.b64encode(b"s" * 32).decode()
    with pytest.raises(KeysUnavailableError, match="HMAC key"):
        store(memory, key_file).load_keys(log_exists=True, allow_key_file=False)


def test_locked_keyring_maps_to_keys_unavailable(memory: MemoryKeyring, key_file: Path) -> None:
    memory.fail_on = {"get"}
    with pytest.raises(KeysUnavailableError, match="refused to read hmac-key: KeyringLocked"):
        store(memory, key_file).load_keys(log_exists=False, allow_key_file=False)


def test_failed_mint_removes_the_half_written_entry(memory: MemoryKeyring, key_file: Path) -> None:
    memory.fail_on = {"set:ed25519-seed"}
    with pytest.raises(KeysUnavailableError, match="refused to store ed25519-seed"):
        store(memory, key_file).load_keys(log_exists=False, allow_key_file=False)
    assert memory.entries == {}


def test_failed_cleanup_is_logged(
    memory: MemoryKeyring, key_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    memory.fail_on = {"set:ed25519-seed", "delete"}
    with caplog.at_level(logging.WARNING), pytest.raises(KeysUnavailableError):
        store(memory, key_file).load_keys(log_exists=False, allow_key_file=False)
    assert "could not remove half-written keyring entry hmac-key" in caplog.text


@pytest.mark.parametrize("backend_class", [keyring.backends.fail.Keyring, keyring.backends.null.Keyring])
def test_fail_and_null_backends_degrade_without_minting(
    backend_class: type, key_file: Path, global_keyring: None
) -> None:
    keyring.set_keyring(backend_class())
    keystore = KeyStore(namespace=uuid.uuid4().hex, key_file=key_file)
    status = keystore.status()
    assert (status.usable, status.on_disk) == (False, False)
    assert status.backend == f"{backend_class.__module__}.Keyring"
    assert "no usable keyring" in status.message
    for log_exists in (False, True):
        with pytest.raises(KeysUnavailableError):
            keystore.load_keys(log_exists=log_exists, allow_key_file=False)
    with pytest.raises(KeysUnavailableError):
        keystore.load_keys(log_exists=True, allow_key_file=True)  # existing log: still no new key
    assert not key_file.exists()
    assert keystore.get_anchor_text() is None
    with pytest.raises(KeysUnavailableError, match="no usable keyring"):
        keystore.set_anchor_text("{}")


def test_opt_in_key_file_is_0600(key_file: Path) -> None:
    keystore = store(keyring.backends.null.Keyring(), key_file)
    keys = keystore.load_keys(log_exists=False, allow_key_file=True)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert keys.source == "key_file"
    assert keystore.status().on_disk and "keys on disk" in keystore.status().message
    assert keystore.load_keys(log_exists=True, allow_key_file=True).key_id == keys.key_id


def test_key_file_readable_by_others_is_refused(key_file: Path) -> None:
    keystore = store(keyring.backends.null.Keyring(), key_file)
    keystore.load_keys(log_exists=False, allow_key_file=True)
    os.chmod(key_file, 0o644)
    with pytest.raises(KeysUnavailableError, match="readable by others"):
        keystore.load_keys(log_exists=True, allow_key_file=True)


@pytest.mark.parametrize("content", ["{not json", json.dumps({"hmac_key": "x"}), json.dumps([1])])
def test_malformed_key_file(key_file: Path, content: str) -> None:
    write_private_file(key_file, content.encode())
    with pytest.raises(KeysUnavailableError, match=r"unreadable or malformed|has no audit keys"):
        store(keyring.backends.null.Keyring(), key_file).load_keys(log_exists=True, allow_key_file=True)


def test_anchor_entry_round_trip(memory: MemoryKeyring, key_file: Path) -> None:
    keystore = store(memory, key_file)
    assert keystore.get_anchor_text() is None
    keystore.set_anchor_text('{"a":1}')
    assert keystore.get_anchor_text() == '{"a":1}'
    assert memory.entries[(SERVICE, "ns1:audit-anchor")] == '{"a":1}'


def test_status_of_a_usable_keyring(memory: MemoryKeyring, key_file: Path) -> None:
    status = store(memory, key_file).status()
    assert status.usable and not status.on_disk
    assert status.backend.endswith("MemoryKeyring") and "OS keyring" in status.message


def test_keys_repr_hides_secrets() -> None:
    keys = AuditKeys.from_secrets(b"\x11" * 32, b"\x22" * 32, source="test")
    text = repr(keys)
    assert "hmac_key" not in text and "signing_key" not in text and "1111" not in text
    assert keys.public_key == bytes(keys.verify_key)


def test_install_namespace_is_stable_and_distinct(tmp_path: Path) -> None:
    assert install_namespace(tmp_path / "a") == install_namespace(tmp_path / "a")
    assert install_namespace(tmp_path / "a") != install_namespace(tmp_path / "b")
    assert len(install_namespace(tmp_path)) == 16


@pytest.mark.skipif(os.environ.get("EXPECT_SECRET_SERVICE") != "1", reason="needs the Secret Service session")
def test_real_secret_service(key_file: Path) -> None:
    keystore = KeyStore(namespace=f"test-{uuid.uuid4().hex}", key_file=key_file)
    status = keystore.status()
    assert status.usable, status
    assert "SecretService" in status.backend or "chainer" in status.backend
    try:
        keys = keystore.load_keys(log_exists=False, allow_key_file=False)
        assert keys.source == "keyring"
        again = keystore.load_keys(log_exists=True, allow_key_file=False)
        assert again.hmac_key == keys.hmac_key and again.key_id == keys.key_id
        keystore.set_anchor_text('{"x":1}')
        assert keystore.get_anchor_text() == '{"x":1}'
        assert not key_file.exists()
    finally:
        for entry in ("hmac-key", "ed25519-seed", "audit-anchor"):
            with contextlib.suppress(keyring.errors.PasswordDeleteError):
                keyring.delete_password(SERVICE, keystore.username(entry))
    with pytest.raises(KeysUnavailableError):
        keystore.load_keys(log_exists=True, allow_key_file=False)
