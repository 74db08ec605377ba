"""The passphrase-sealed stream of backups, attacked byte by byte: every change, cut or addition is refused.

Keys are derived at the cheapest Argon2id cost (``CHEAP``), passed as a parameter:
the command line and the app never pass one, so their files always use MODERATE.
"""

from __future__ import annotations

import io

import nacl.pwhash
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aether_qt.storage.cipher import SealedFileError
from aether_qt.storage.sealed_stream import (
    CHUNK,
    HEADER_BYTES,
    MODERATE,
    SEALED_CHUNK,
    STREAM_MAGIC,
    KdfCost,
    StreamOpener,
    StreamSealer,
    plain_size,
    sealed_size,
)

CHEAP = KdfCost(nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN)
PASS = "correct horse battery"


def _seal(data: bytes, *, pieces: int = 1, passphrase: str = PASS) -> bytes:
    step = max(1, len(data) // pieces)
    chunks = [data[i : i + step] for i in range(0, len(data), step)] or [b""]
    return b"".join(StreamSealer(passphrase, cost=CHEAP).seal(chunks))


def _open(blob: bytes, passphrase: str = PASS) -> bytes:
    return b"".join(StreamOpener(io.BytesIO(blob), passphrase, min_cost=CHEAP).chunks())


SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17]


@pytest.mark.parametrize("size", SIZES)
def test_a_round_trip_gives_back_every_byte_and_the_sizes_are_predicted(size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(size % 256)
    blob = _seal(data, pieces=3)
    assert len(blob) == sealed_size(size)
    assert plain_size(len(blob)) == size
    assert blob.startswith(STREAM_MAGIC)
    assert _open(blob) == data


def test_the_plaintext_appears_nowhere_in_the_sealed_bytes() -> None:
    secret = b"periwinkle-zeppelin-4471" * 100
    assert b"periwinkle" not in _seal(secret)


def test_a_wrong_passphrase_is_refused_at_the_first_chunk() -> None:
    blob = _seal(b"x" * (2 * CHUNK))
    with pytest.raises(SealedFileError, match="wrong passphrase"):
        _open(blob, passphrase="correct horse battery!")


@pytest.mark.parametrize(
    "position",
    [
        0,
        len(STREAM_MAGIC) + 3,
        HEADER_BYTES - 30,
        HEADER_BYTES - 1,
        HEADER_BYTES + 5,
        HEADER_BYTES + SEALED_CHUNK + 7,
    ],
    ids=["magic", "salt", "costs", "stream-header", "first-chunk", "second-chunk"],
)
def test_one_flipped_byte_anywhere_is_refused(position: int) -> None:
    blob = bytearray(_seal(bytes(3 * CHUNK)))
    blob[position] ^= 0x01
    with pytest.raises(SealedFileError):
        _open(bytes(blob))


def test_the_last_byte_flipped_is_refused() -> None:
    blob = bytearray(_seal(bytes(2 * CHUNK + 10)))
    blob[-1] ^= 0x80
    with pytest.raises(SealedFileError, match="changed"):
        _open(bytes(blob))


def test_a_stream_cut_at_a_chunk_boundary_is_refused_although_every_chunk_is_authentic() -> None:
    blob = _seal(bytes(3 * CHUNK + 5))
    cut = blob[: HEADER_BYTES + 2 * SEALED_CHUNK]
    with pytest.raises(SealedFileError, match="cut short"):
        _open(cut)


@pytest.mark.parametrize("size", [3, CHUNK])
@pytest.mark.parametrize("extra", [b"\x00", bytes(SEALED_CHUNK)])
def test_bytes_after_the_final_chunk_are_refused(size: int, extra: bytes) -> None:
    with pytest.raises(SealedFileError, match="changed"):
        _open(_seal(bytes(size)) + extra)


def test_chunks_swapped_or_repeated_are_refused() -> None:
    blob = _seal(bytes(range(256)) * (3 * CHUNK // 256))
    head, body = blob[:HEADER_BYTES], blob[HEADER_BYTES:]
    first, second = body[:SEALED_CHUNK], body[SEALED_CHUNK : 2 * SEALED_CHUNK]
    rest = body[2 * SEALED_CHUNK :]
    for forged in (head + second + first + rest, head + first + first + rest):
        with pytest.raises(SealedFileError, match="changed"):
            _open(forged)


def test_a_header_from_another_file_does_not_open_this_body() -> None:
    one, other = _seal(b"one" * 100), _seal(b"one" * 100)
    with pytest.raises(SealedFileError):
        _open(other[:HEADER_BYTES] + one[HEADER_BYTES:])


def test_costs_below_the_floor_or_above_the_ceiling_are_refused_before_any_derivation() -> None:
    cheap = _seal(b"data")
    with pytest.raises(SealedFileError, match="costs"):
        StreamOpener(io.BytesIO(cheap), PASS)  # the app's floor: MODERATE
    blob = bytearray(cheap)
    at = len(STREAM_MAGIC) + 16
    blob[at : at + 8] = (4 * MODERATE.opslimit + 1).to_bytes(8, "big")
    with pytest.raises(SealedFileError, match="costs"):
        StreamOpener(io.BytesIO(bytes(blob)), PASS, min_cost=CHEAP)


def test_not_a_sealed_stream_and_a_too_short_passphrase_are_typed_errors() -> None:
    with pytest.raises(SealedFileError, match="not a sealed"):
        StreamOpener(io.BytesIO(b"SQLite format 3\x00" + bytes(100)), PASS, min_cost=CHEAP)
    with pytest.raises(SealedFileError, match="too short"):
        StreamOpener(io.BytesIO(_seal(b"x")), "short", min_cost=CHEAP)
    with pytest.raises(ValueError, match="at least"):
        StreamSealer("short", cost=CHEAP)


def test_plain_size_rejects_sizes_no_sealing_has() -> None:
    assert plain_size(HEADER_BYTES) is None
    assert plain_size(HEADER_BYTES + SEALED_CHUNK + 3) is None
    assert plain_size(sealed_size(0)) == 0


SAMPLE = _seal(bytes(range(200)) * 700)  # two full chunks and a short last one


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.tuples(st.just("flip"), st.integers(0, len(SAMPLE) - 1), st.integers(1, 255)),
        st.tuples(st.just("cut"), st.integers(0, len(SAMPLE) - 1), st.just(0)),
        st.tuples(st.just("insert"), st.integers(0, len(SAMPLE)), st.integers(0, 255)),
    )
)
def test_any_single_edit_of_a_sealed_stream_is_refused_with_the_typed_error(
    edit: tuple[str, int, int],
) -> None:
    kind, at, value = edit
    blob = bytearray(SAMPLE)
    if kind == "flip":
        blob[at] ^= value
    elif kind == "cut":
        del blob[at:]
    else:
        blob.insert(at, value)
    with pytest.raises(SealedFileError):
        _open(bytes(blob))


def _forged(tags: list[tuple[bytes, int]]) -> bytes:
    """A stream sealed with the right key whose chunks carry the given tags (a writer's bug, or a forger)."""
    import nacl.bindings as sodium

    from aether_qt.storage.cipher import passphrase_key

    salt = bytes(16)
    key = passphrase_key(PASS, salt, opslimit=CHEAP.opslimit, memlimit=CHEAP.memlimit)
    prefix = STREAM_MAGIC + salt + CHEAP.opslimit.to_bytes(8, "big") + CHEAP.memlimit.to_bytes(8, "big")
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    header = prefix + sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    body = [sodium.crypto_secretstream_xchacha20poly1305_push(state, m, header, t) for m, t in tags]
    return header + b"".join(body)


def test_tags_out_of_place_are_refused_even_under_the_right_key() -> None:
    import nacl.bindings as sodium

    final, message = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL, 0
    assert _open(_forged([(b"x" * CHUNK, message), (b"end", final)])) == b"x" * CHUNK + b"end"
    with pytest.raises(SealedFileError, match="out of place"):
        _open(_forged([(b"x" * CHUNK, final), (b"", final)]))
    with pytest.raises(SealedFileError, match="cut short"):
        _open(_forged([(b"short", message)]))


class _FailingDisk(io.BytesIO):
    def read(self, size: int | None = -1) -> bytes:
        if self.tell() >= HEADER_BYTES:
            raise OSError(5, "Input/output error")
        return super().read(size)


def test_a_disk_error_while_reading_is_the_typed_error() -> None:
    opener = StreamOpener(_FailingDisk(_seal(b"x" * 100)), PASS, min_cost=CHEAP)
    with pytest.raises(SealedFileError, match="cannot be read: Input/output error"):
        b"".join(opener.chunks())
