"""Tests for aether_qt/storage/cipher.py: the data key, sealed files, passphrase seals, keyed connections."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from aether_qt.storage.cipher import (
    DRIVER_ERRORS,
    MIN_PASSPHRASE,
    PASSPHRASE_MAGIC,
    SEALED_MAGIC,
    DataKey,
    SealedFileError,
    connect_keyed,
    is_passphrase_sealed,
    is_plaintext_sqlite,
    seal_with_passphrase,
    unseal_with_passphrase,
)

PASSPHRASE = "a long enough passphrase"


def test_a_data_key_has_32_bytes_and_never_prints_them() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        DataKey(b"short")
    key = DataKey(bytes(range(32)), source="key_file")
    assert bytes(range(32)).hex() not in repr(key) + str(key)
    assert key.source == "key_file" and len(key.fingerprint()) == 8


def test_subkeys_differ_per_purpose_and_per_key() -> None:
    one, two = DataKey.generate(source="keyring"), DataKey.generate(source="keyring")
    assert one.subkey("a") != one.subkey("b") and one.subkey("a") == one.subkey("a")
    assert one.subkey("a") != two.subkey("a")
    assert one.sqlcipher_pragma().startswith("x'") and len(one.sqlcipher_pragma()) == 67


def test_a_sealed_file_opens_only_with_its_key_and_purpose_and_unchanged() -> None:
    key = DataKey.generate(source="keyring")
    blob = key.seal(b"vectors", purpose="memory index")
    assert blob.startswith(SEALED_MAGIC) and b"vectors" not in blob
    assert key.unseal(blob, purpose="memory index") == b"vectors"
    with pytest.raises(SealedFileError, match="another key"):
        key.unseal(blob, purpose="something else")
    with pytest.raises(SealedFileError, match="another key"):
        DataKey.generate(source="keyring").unseal(blob, purpose="memory index")
    changed = bytearray(blob)
    changed[-1] ^= 1
    with pytest.raises(SealedFileError):
        key.unseal(bytes(changed), purpose="memory index")
    with pytest.raises(SealedFileError, match="not a sealed"):
        key.unseal(b"plain faiss bytes", purpose="memory index")


def test_a_passphrase_seal_round_trips_and_refuses_the_wrong_passphrase_or_a_change() -> None:
    blob = seal_with_passphrase(b"my memories", PASSPHRASE)
    assert is_passphrase_sealed(blob) and blob.startswith(PASSPHRASE_MAGIC) and b"memories" not in blob
    assert unseal_with_passphrase(blob, PASSPHRASE) == b"my memories"
    with pytest.raises(SealedFileError, match="wrong passphrase"):
        unseal_with_passphrase(blob, PASSPHRASE + "!")
    changed = bytearray(blob)
    changed[len(PASSPHRASE_MAGIC) + 40] ^= 1
    with pytest.raises(SealedFileError):
        unseal_with_passphrase(bytes(changed), PASSPHRASE)


def test_a_passphrase_seal_refuses_short_passphrases_and_costs_out_of_range() -> None:
    with pytest.raises(ValueError, match=f"at least {MIN_PASSPHRASE}"):
        seal_with_passphrase(b"x", "short")
    blob = bytearray(seal_with_passphrase(b"x", PASSPHRASE))
    at = len(PASSPHRASE_MAGIC) + 16
    blob[at : at + 8] = (2**40).to_bytes(8, "big")  # a crafted file asking for an absurd work factor
    with pytest.raises(SealedFileError, match="outside the accepted range"):
        unseal_with_passphrase(bytes(blob), PASSPHRASE)
    with pytest.raises(SealedFileError, match="not a passphrase-sealed"):
        unseal_with_passphrase(PASSPHRASE_MAGIC + b"tiny", PASSPHRASE)


def test_keyed_connections_write_files_only_their_key_opens(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    key = DataKey.generate(source="keyring")
    conn = connect_keyed(path, key)
    conn.execute("CREATE TABLE t (secret TEXT)")
    conn.execute("INSERT INTO t VALUES ('canary-words')")
    conn.close()
    assert not is_plaintext_sqlite(path) and b"canary-words" not in path.read_bytes()
    with pytest.raises(sqlite3.DatabaseError, match="not a database"):
        sqlite3.connect(path).execute("SELECT * FROM t").fetchall()
    wrong = connect_keyed(path, DataKey.generate(source="keyring"), read_only=True)
    with pytest.raises(DRIVER_ERRORS, match="not a database"):
        wrong.execute("SELECT * FROM t").fetchall()
    wrong.close()
    again = connect_keyed(path, key, read_only=True)
    assert again.execute("SELECT secret FROM t").fetchall() == [("canary-words",)]
    again.close()


def test_plaintext_detection(tmp_path: Path) -> None:
    plain = tmp_path / "p.db"
    sqlite3.connect(plain).execute("CREATE TABLE t (x)").connection.close()
    assert is_plaintext_sqlite(plain)
    assert not is_plaintext_sqlite(tmp_path / "missing.db")
    (tmp_path / "junk").write_bytes(b"junk")
    assert not is_plaintext_sqlite(tmp_path / "junk")
