"""Reading text chunks out of a PNG file, for character cards embedded in images (DESIGN.md §10).

A card PNG carries its card as base64 JSON in a text chunk whose keyword is
``ccv3`` (V3) or ``chara`` (V2). This is a small, strict chunk walker, not an
image decoder: it checks the signature, that ``IHDR`` comes first, every
chunk's length, type and CRC (``zlib.crc32``), caps the chunk count and the
size of the text it keeps, and stops at ``IEND``. Pixel data is never decoded.

Text chunk layouts (PNG 1.2, §4.2.3):

* ``tEXt``: ``keyword \\0 text`` (Latin-1);
* ``zTXt``: ``keyword \\0 method(0) zlib-data`` (Latin-1 once inflated);
* ``iTXt``: ``keyword \\0 flag method language \\0 translated \\0 text`` (UTF-8,
  zlib-compressed when ``flag`` is 1).

Inflating is capped (``zlib.decompressobj(...).decompress(data, cap + 1)``), so a
small compressed chunk cannot expand into gigabytes.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Collection
from typing import Final

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
MAX_CHUNKS: Final = 4096
_MAX_PNG_LENGTH: Final = 2**31 - 1  # PNG 1.2: chunk lengths fit in 31 bits
_TEXT_TYPES: Final = frozenset({b"tEXt", b"zTXt", b"iTXt"})
_MAX_KEYWORD: Final = 79


class PngError(ValueError):
    """The PNG is malformed or one of its text chunks breaks a cap; the message says where and why."""


def is_png(data: bytes) -> bool:
    """True if ``data`` starts with the PNG signature."""
    return data.startswith(PNG_SIGNATURE)


def read_text_chunks(data: bytes, keywords: Collection[str], *, max_text_bytes: int) -> dict[str, str]:
    """The text of every ``tEXt``/``zTXt``/``iTXt`` chunk whose keyword is in ``keywords``.

    Every chunk's CRC is verified, wanted or not. Text chunks with other
    keywords are skipped without being inflated.

    Args:
        data: the whole PNG file.
        keywords: the keywords to keep (case-sensitive, as PNG keywords are).
        max_text_bytes: cap on a kept chunk's stored data and on its inflated text,
            checked against the length field before anything is decoded.

    Returns:
        keyword -> text for the wanted keywords present (each at most once).

    Raises:
        PngError: bad signature, ``IHDR`` not first, a truncated or oversized chunk,
            a CRC mismatch, too many chunks, no ``IEND``, a wanted keyword twice,
            or a kept text chunk that is malformed, too large or not decodable.
    """
    if not is_png(data):
        raise PngError("not a PNG file (bad signature)")
    found: dict[str, str] = {}
    pos = len(PNG_SIGNATURE)
    for index in range(MAX_CHUNKS):
        ctype, body, pos = _next_chunk(data, pos)
        if index == 0 and ctype != b"IHDR":
            raise PngError(f"the first chunk is {_show(ctype)}, not IHDR")
        if ctype == b"IEND":
            return found
        if ctype not in _TEXT_TYPES:
            continue
        keyword = _keyword(body, ctype)
        if keyword not in keywords:
            continue
        if keyword in found:
            raise PngError(f"more than one {keyword!r} text chunk")
        if len(body) > max_text_bytes:
            raise PngError(
                f"the {keyword!r} {_show(ctype)} chunk is {len(body)} bytes, "
                f"over the {max_text_bytes} byte cap"
            )
        found[keyword] = _chunk_text(ctype, body[len(keyword) + 1 :], keyword, max_text_bytes)
    raise PngError(f"more than {MAX_CHUNKS} chunks")


def _next_chunk(data: bytes, pos: int) -> tuple[bytes, bytes, int]:
    """Parse the chunk at ``pos``: its type, its data and the offset of the next chunk."""
    if pos + 8 > len(data):
        raise PngError(f"truncated at offset {pos}: no IEND chunk")
    length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
    if not ctype.isalpha() or not ctype.isascii():
        raise PngError(f"bad chunk type {_show(ctype)} at offset {pos}")
    if length > _MAX_PNG_LENGTH:
        raise PngError(f"chunk {_show(ctype)} at offset {pos} declares an invalid length {length}")
    end = pos + 8 + length
    if end + 4 > len(data):
        raise PngError(f"chunk {_show(ctype)} at offset {pos} is truncated ({length} bytes declared)")
    body = data[pos + 8 : end]
    (crc,) = struct.unpack(">I", data[end : end + 4])
    if zlib.crc32(body, zlib.crc32(ctype)) != crc:
        raise PngError(f"CRC mismatch in chunk {_show(ctype)} at offset {pos}")
    return ctype, body, end + 4


def _keyword(body: bytes, ctype: bytes) -> str:
    """The Latin-1 keyword before the first NUL of a text chunk ("" if there is none)."""
    nul = body.find(b"\0", 0, _MAX_KEYWORD + 1)
    if nul < 1:
        return ""  # no valid keyword: not one we want, so it is skipped like any other chunk
    return body[:nul].decode("latin-1")


def _chunk_text(ctype: bytes, rest: bytes, keyword: str, cap: int) -> str:
    """Decode what follows the keyword's NUL in a kept text chunk."""
    where = f"the {keyword!r} {_show(ctype)} chunk"
    if ctype == b"tEXt":
        return rest.decode("latin-1")
    if ctype == b"zTXt":
        if not rest or rest[0] != 0:
            raise PngError(f"{where} has an unknown compression method")
        return _inflate(rest[1:], cap, where).decode("latin-1")
    # iTXt: flag, method, language \0, translated keyword \0, text
    if len(rest) < 2 or rest[0] not in (0, 1):
        raise PngError(f"{where} has a bad compression flag")
    compressed, method = rest[0] == 1, rest[1]
    parts = rest[2:].split(b"\0", 2)
    if len(parts) != 3:
        raise PngError(f"{where} is malformed (missing language or translated keyword)")
    payload = parts[2]
    if compressed:
        if method != 0:
            raise PngError(f"{where} has an unknown compression method")
        payload = _inflate(payload, cap, where)
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        raise PngError(f"{where} is not valid UTF-8") from None


def _inflate(data: bytes, cap: int, where: str) -> bytes:
    """Inflate zlib ``data`` to at most ``cap`` bytes."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, cap + 1)
    except zlib.error:
        raise PngError(f"{where} has corrupt compressed data") from None
    if len(out) > cap or inflater.unconsumed_tail:
        raise PngError(f"{where} inflates to more than the {cap} byte cap")
    if not inflater.eof:
        raise PngError(f"{where} has truncated compressed data")
    return out


def _show(ctype: bytes) -> str:
    """A chunk type for messages (never raises, never prints control bytes)."""
    return ctype.decode("ascii", "replace") if ctype.isascii() and ctype.isalpha() else repr(ctype)
