"""Encryption at rest: the SQLCipher key of ``aether.db`` and sealed files derived from memory.

One 32-byte *data key* per installation (kept in the OS keyring or the opt-in
key file, see :mod:`aether_qt.policy.keys`) protects everything that holds
memory text or vectors:

* ``aether.db`` is an SQLCipher database keyed with the raw key (no passphrase
  stretching: the key is random, so a KDF would only slow every connection);
* files derived from it (the vector index) are sealed with XSalsa20-Poly1305
  under a subkey, so a flipped byte is refused instead of loaded.

Subkeys are derived with keyed BLAKE2b and a purpose label, so the database key
and the file key never coincide. :class:`DataKey` never prints its bytes.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils
import peewee
from sqlcipher3 import dbapi2 as sqlcipher

KEY_BYTES = 32
SQLITE_HEADER = b"SQLite format 3\x00"
SEALED_MAGIC = b"AETHER-SEALED-1\n"
"""First bytes of a file sealed with :meth:`DataKey.seal` (the version is in the magic)."""

DRIVER_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, sqlcipher.Error)
"""Errors of either SQLite driver (the standard one for ``audit.db``, SQLCipher for ``aether.db``)."""

DB_ERRORS: tuple[type[Exception], ...] = (*DRIVER_ERRORS, peewee.PeeweeException)
""":data:`DRIVER_ERRORS` and peewee's wrappers of them."""


class SealedFileError(ValueError):
    """A sealed file is not one, was made with another key, or was changed."""


@dataclass(frozen=True, slots=True)
class DataKey:
    """The installation's data key. ``repr`` and ``str`` never show it.

    Attributes:
        secret: 32 random bytes.
        source: where it came from (``keyring`` or ``key_file``), for the posture.
    """

    secret: bytes = field(repr=False)
    source: str = "keyring"

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise ValueError("a data key has 32 bytes")

    @classmethod
    def generate(cls, *, source: str) -> DataKey:
        """A fresh random key."""
        return cls(nacl.utils.random(KEY_BYTES), source=source)

    def subkey(self, purpose: str) -> bytes:
        """A 32-byte key for one ``purpose`` (keyed BLAKE2b; independent of every other purpose)."""
        return hashlib.blake2b(purpose.encode("ascii"), key=self.secret, digest_size=KEY_BYTES).digest()

    def sqlcipher_pragma(self) -> str:
        """The value of ``PRAGMA key``: SQLCipher's raw-key form ``x'<64 hex>'`` of the database subkey."""
        return f"x'{self.subkey('aether.db sqlcipher').hex()}'"

    def fingerprint(self) -> str:
        """Eight hex digits that identify the key without revealing it (doctor, backups)."""
        return hmac.new(self.secret, b"aether data key fingerprint", "sha256").hexdigest()[:8]

    def seal(self, data: bytes, *, purpose: str) -> bytes:
        """``data`` encrypted and authenticated under the ``purpose`` subkey."""
        box = nacl.secret.SecretBox(self.subkey(f"sealed file: {purpose}"))
        return SEALED_MAGIC + bytes(box.encrypt(data))

    def unseal(self, blob: bytes, *, purpose: str) -> bytes:
        """The plaintext of :meth:`seal`'s output.

        Raises:
            SealedFileError: not sealed, another key or purpose, or changed.
        """
        if not blob.startswith(SEALED_MAGIC):
            raise SealedFileError("not a sealed Aether file")
        box = nacl.secret.SecretBox(self.subkey(f"sealed file: {purpose}"))
        try:
            return bytes(box.decrypt(blob[len(SEALED_MAGIC) :]))
        except nacl.exceptions.CryptoError:
            raise SealedFileError("the sealed file was made with another key or has been changed") from None


PASSPHRASE_MAGIC = b"AETHER-PASSPHRASE-SEALED-1\n"
"""First bytes of a file sealed with :func:`seal_with_passphrase` (exports, backups)."""
MIN_PASSPHRASE = 8
_SALT_BYTES = nacl.pwhash.argon2id.SALTBYTES
_OPS = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
_MEM = nacl.pwhash.argon2id.MEMLIMIT_MODERATE


def passphrase_key(passphrase: str, salt: bytes, *, opslimit: int = _OPS, memlimit: int = _MEM) -> bytes:
    """32 bytes from ``passphrase`` with Argon2id (a file that leaves the machine needs no keyring to open).

    Raises:
        ValueError: the passphrase is shorter than :data:`MIN_PASSPHRASE` characters.
    """
    if len(passphrase) < MIN_PASSPHRASE:
        raise ValueError(f"a passphrase needs at least {MIN_PASSPHRASE} characters")
    return bytes(
        nacl.pwhash.argon2id.kdf(
            KEY_BYTES, passphrase.encode("utf-8"), salt, opslimit=opslimit, memlimit=memlimit
        )
    )


def seal_with_passphrase(data: bytes, passphrase: str) -> bytes:
    """``data`` encrypted and authenticated under a key derived from ``passphrase`` (salt and costs in front).

    Layout: :data:`PASSPHRASE_MAGIC`, 16-byte salt, opslimit and memlimit (8 bytes each,
    big-endian), then XSalsa20-Poly1305 ``SecretBox`` output.
    """
    salt = nacl.utils.random(_SALT_BYTES)
    box = nacl.secret.SecretBox(passphrase_key(passphrase, salt))
    header = PASSPHRASE_MAGIC + salt + _OPS.to_bytes(8, "big") + _MEM.to_bytes(8, "big")
    return header + bytes(box.encrypt(data))


def is_passphrase_sealed(blob: bytes) -> bool:
    """``blob`` starts like a :func:`seal_with_passphrase` output."""
    return blob.startswith(PASSPHRASE_MAGIC)


def unseal_with_passphrase(blob: bytes, passphrase: str) -> bytes:
    """The plaintext of :func:`seal_with_passphrase`'s output.

    Raises:
        SealedFileError: not sealed, costs out of range, a wrong passphrase, or changed bytes.
        ValueError: the passphrase is too short to have sealed anything.
    """
    head = len(PASSPHRASE_MAGIC)
    if not blob.startswith(PASSPHRASE_MAGIC) or len(blob) < head + _SALT_BYTES + 16:
        raise SealedFileError("not a passphrase-sealed Aether file")
    salt = blob[head : head + _SALT_BYTES]
    opslimit = int.from_bytes(blob[head + _SALT_BYTES : head + _SALT_BYTES + 8], "big")
    memlimit = int.from_bytes(blob[head + _SALT_BYTES + 8 : head + _SALT_BYTES + 16], "big")
    if not (_OPS <= opslimit <= 4 * _OPS and _MEM <= memlimit <= 4 * _MEM):
        raise SealedFileError("the sealed file asks for key-derivation costs outside the accepted range")
    box = nacl.secret.SecretBox(passphrase_key(passphrase, salt, opslimit=opslimit, memlimit=memlimit))
    try:
        return bytes(box.decrypt(blob[head + _SALT_BYTES + 16 :]))
    except nacl.exceptions.CryptoError:
        raise SealedFileError("wrong passphrase, or the file has been changed") from None


def is_plaintext_sqlite(path: Path) -> bool:
    """``path`` starts with SQLite's plaintext header (an SQLCipher file looks like random bytes)."""
    try:
        with path.open("rb") as handle:
            return handle.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def connect_keyed(
    path: Path | str, key: DataKey | None, *, read_only: bool = False, timeout_s: float = 5.0
) -> Any:
    """A raw SQLCipher connection to ``path`` keyed with ``key`` (``None``: a plaintext file).

    The key is set before anything else touches the file; with ``read_only`` the
    file is opened ``mode=ro`` so a damaged or foreign file is never written.
    """
    target = f"{Path(path).resolve().as_uri()}?mode=ro" if read_only else str(path)
    conn = sqlcipher.connect(target, uri=read_only, timeout=timeout_s, isolation_level=None)
    try:
        if key is not None:
            conn.execute("PRAGMA cipher_log_level = NONE")  # a wrong key is the caller's to explain
            conn.execute(f'PRAGMA key = "{key.sqlcipher_pragma()}"')
        conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
    except BaseException:
        conn.close()
        raise
    return conn


__all__ = [
    "DB_ERRORS",
    "DRIVER_ERRORS",
    "KEY_BYTES",
    "MIN_PASSPHRASE",
    "PASSPHRASE_MAGIC",
    "SEALED_MAGIC",
    "SQLITE_HEADER",
    "DataKey",
    "SealedFileError",
    "connect_keyed",
    "is_passphrase_sealed",
    "is_plaintext_sqlite",
    "passphrase_key",
    "seal_with_passphrase",
    "unseal_with_passphrase",
]
