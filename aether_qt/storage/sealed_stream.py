"""Large files sealed with a passphrase, as a stream: Argon2id, then libsodium's secretstream.

A backup holds every memory and the keys of the installation, and it can be
gigabytes: it is sealed chunk by chunk, never held whole in memory, and never
written anywhere in clear. Layout:

* :data:`STREAM_MAGIC`, then the 16-byte Argon2id salt, the opslimit and the
  memlimit (8 bytes each, big-endian), then the 24-byte secretstream header;
* then chunks of XChaCha20-Poly1305 (``crypto_secretstream_xchacha20poly1305``):
  each full chunk seals exactly :data:`CHUNK` plaintext bytes and is tagged
  ``MESSAGE``; the last one seals 0 to ``CHUNK - 1`` bytes and is tagged ``FINAL``.

Every chunk is authenticated together with the whole header (additional data),
and the stream's state links each chunk to the one before, so a flipped byte
anywhere, chunks dropped, reordered or repeated, a stream cut at a chunk
boundary (no ``FINAL``) and bytes appended after it (they make the last chunk
fail its authentication) are all refused. The salt and
costs need no separate check: changing them derives another key.

Key-derivation costs are read from the header, so a file stays readable when
the defaults grow; a reader accepts costs from its ``min_cost`` (the default
:data:`MODERATE`, what the command line and the app use) up to four times
:data:`MODERATE`, so a planted file cannot make it spend minutes or gigabytes.
Tests pass a cheaper ``cost``/``min_cost`` to the functions; no command reaches it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Final

import nacl.bindings as sodium
import nacl.exceptions
import nacl.pwhash
import nacl.utils

from aether_qt.storage.cipher import SealedFileError, passphrase_key

STREAM_MAGIC: Final = b"AETHER-SEALED-STREAM-1\n"
CHUNK: Final = 64 * 1024
SALT_BYTES: Final = nacl.pwhash.argon2id.SALTBYTES
_ABYTES: Final = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
_STREAM_HEADER: Final = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
_TAG_MESSAGE: Final = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_TAG_FINAL: Final = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
HEADER_BYTES: Final = len(STREAM_MAGIC) + SALT_BYTES + 16 + _STREAM_HEADER
SEALED_CHUNK: Final = CHUNK + _ABYTES


@dataclass(frozen=True, slots=True)
class KdfCost:
    """Argon2id costs: passes over memory and bytes of memory."""

    opslimit: int
    memlimit: int


MODERATE: Final = KdfCost(nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_MODERATE)
_MAX: Final = KdfCost(4 * MODERATE.opslimit, 4 * MODERATE.memlimit)


def sealed_size(plain_bytes: int) -> int:
    """The size of the sealed file for ``plain_bytes`` of plaintext (for progress and space checks)."""
    chunks = plain_bytes // CHUNK + 1  # the last, shorter chunk carries FINAL, even when empty
    return HEADER_BYTES + plain_bytes + chunks * _ABYTES


def plain_size(sealed_bytes: int) -> int | None:
    """The plaintext length a sealed file of ``sealed_bytes`` holds, or None when no sealing has that size."""
    body = sealed_bytes - HEADER_BYTES
    if body < _ABYTES:
        return None
    full, last = divmod(body, SEALED_CHUNK)
    if last < _ABYTES:
        return None
    return full * CHUNK + last - _ABYTES


class StreamSealer:
    """Seals one stream under ``passphrase`` (the key is derived here, once).

    Raises:
        ValueError: the passphrase is shorter than :data:`~aether_qt.storage.cipher.MIN_PASSPHRASE`.
    """

    def __init__(self, passphrase: str, *, cost: KdfCost = MODERATE) -> None:
        salt = nacl.utils.random(SALT_BYTES)
        self._key = passphrase_key(passphrase, salt, opslimit=cost.opslimit, memlimit=cost.memlimit)
        self._prefix = (
            STREAM_MAGIC + salt + cost.opslimit.to_bytes(8, "big") + cost.memlimit.to_bytes(8, "big")
        )

    def seal(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Yield the sealed file: the header, then one sealed chunk per :data:`CHUNK` bytes of ``chunks``."""
        state = sodium.crypto_secretstream_xchacha20poly1305_state()
        header = self._prefix + sodium.crypto_secretstream_xchacha20poly1305_init_push(state, self._key)
        yield header
        pending = bytearray()
        for piece in chunks:
            pending += piece
            while len(pending) >= CHUNK:
                yield sodium.crypto_secretstream_xchacha20poly1305_push(
                    state, bytes(pending[:CHUNK]), header, _TAG_MESSAGE
                )
                del pending[:CHUNK]
        yield sodium.crypto_secretstream_xchacha20poly1305_push(state, bytes(pending), header, _TAG_FINAL)


def _read_exactly(source: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes; fewer only at the end of the file.

    Raises:
        SealedFileError: the file could not be read (a disk error), so a caller that
            writes what it reads can tell its own failures from the source's.
    """
    parts: list[bytes] = []
    missing = size
    while missing > 0:
        try:
            piece = source.read(missing)
        except OSError as exc:
            raise SealedFileError(
                f"the backup cannot be read: {exc.strerror or type(exc).__name__}"
            ) from None
        if not piece:
            break
        parts.append(piece)
        missing -= len(piece)
    return b"".join(parts)


class StreamOpener:
    """Reads the header of a sealed stream from ``source`` and derives its key from ``passphrase``.

    Raises:
        SealedFileError: not a sealed stream, costs outside the accepted range, or a passphrase
            too short to have sealed anything. A wrong passphrase is found by :meth:`chunks`.
    """

    def __init__(self, source: BinaryIO, passphrase: str, *, min_cost: KdfCost = MODERATE) -> None:
        self._source = source
        header = _read_exactly(source, HEADER_BYTES)
        if len(header) < HEADER_BYTES or not header.startswith(STREAM_MAGIC):
            raise SealedFileError("not a sealed Aether backup")
        at = len(STREAM_MAGIC)
        salt = header[at : at + SALT_BYTES]
        opslimit = int.from_bytes(header[at + SALT_BYTES : at + SALT_BYTES + 8], "big")
        memlimit = int.from_bytes(header[at + SALT_BYTES + 8 : at + SALT_BYTES + 16], "big")
        if not (
            min_cost.opslimit <= opslimit <= _MAX.opslimit and min_cost.memlimit <= memlimit <= _MAX.memlimit
        ):
            raise SealedFileError("the file asks for key-derivation costs outside the accepted range")
        try:
            key = passphrase_key(passphrase, salt, opslimit=opslimit, memlimit=memlimit)
        except ValueError:
            raise SealedFileError("wrong passphrase (too short to have sealed anything)") from None
        self._header = header
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        sodium.crypto_secretstream_xchacha20poly1305_init_pull(self._state, header[-_STREAM_HEADER:], key)

    def chunks(self) -> Iterator[bytes]:
        """Yield the plaintext, chunk by chunk, each one authenticated before it is yielded.

        Raises:
            SealedFileError: a wrong passphrase, a changed byte, chunks missing, or bytes after the end.
        """
        first = True
        while True:
            sealed = _read_exactly(self._source, SEALED_CHUNK)
            if len(sealed) < _ABYTES:
                raise SealedFileError("the backup ends early: it was cut short")
            try:
                plain, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                    self._state, sealed, self._header
                )
            except (nacl.exceptions.CryptoError, ValueError):
                what = (
                    "wrong passphrase, or the file has been changed"
                    if first
                    else "the backup has been changed"
                )
                raise SealedFileError(what) from None
            first = False
            if len(sealed) == SEALED_CHUNK:
                if tag != _TAG_MESSAGE:
                    raise SealedFileError("the backup has been changed (a chunk is out of place)")
                yield plain
                continue
            if tag != _TAG_FINAL:
                raise SealedFileError("the backup ends early: it was cut short")
            yield plain  # a short read happens only at the end of the file: nothing follows FINAL
            return


__all__ = [
    "CHUNK",
    "HEADER_BYTES",
    "MODERATE",
    "SEALED_CHUNK",
    "STREAM_MAGIC",
    "KdfCost",
    "StreamOpener",
    "StreamSealer",
    "plain_size",
    "sealed_size",
]
