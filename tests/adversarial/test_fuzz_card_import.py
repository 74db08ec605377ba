"""Fuzzing the character-card importer: only ``CardError`` comes out, and a refused card writes nothing.

Inputs are raw bytes (anything, or anything behind a PNG signature) and
nearly valid cards: V1/V2/V3 card objects, mutated as JSON, carried as JSON
or base64 in a ``tEXt``/``zTXt``/``iTXt`` chunk (compressed or not, ``ccv3``
and/or ``chara``), whose chunks are then mutated with a fresh CRC (so the
walker reads them) or whose file bytes are mutated (so it mostly does not).
The import property runs the public :func:`import_card` against a real
persona folder and checks it byte for byte after every refusal.
"""

from __future__ import annotations

import base64
import os
import struct
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fuzz_support import dump_json, fuzz, mutated_bytes, mutated_json, nasty_text, tree_digest
from hypothesis import event, example, given
from hypothesis import strategies as st

from aether_qt.engines.persona.cards import MAX_CARD_TEXT_BYTES, TEXT_FIELDS, CardError, parse_card
from aether_qt.engines.persona.cards_import import import_card
from aether_qt.engines.persona.compiler import load_and_compile

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEEP = "keep.yaml"  # a persona already in the folder: a refused import must leave it as it was


# --------------------------------------------------------------------------- building cards


def chunk(ctype: bytes, body: bytes) -> bytes:
    """One PNG chunk with a correct CRC."""
    return (
        struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(ctype)))
    )


IHDR = (b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0))
IDAT = (b"IDAT", zlib.compress(b"\x00\x80\x80\x80\xff"))
IEND = (b"IEND", b"")


def png_bytes(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return PNG_SIGNATURE + b"".join(chunk(ctype, body) for ctype, body in chunks)


def text_chunk(kind: str, keyword: bytes, text: bytes, *, compressed: bool) -> tuple[bytes, bytes]:
    """A ``tEXt``, ``zTXt`` or ``iTXt`` chunk (type, body) holding ``text``."""
    if kind == "tEXt":
        return b"tEXt", keyword + b"\0" + text
    if kind == "zTXt":
        return b"zTXt", keyword + b"\0\0" + zlib.compress(text)
    payload = zlib.compress(text) if compressed else text
    return b"iTXt", keyword + b"\0" + (b"\x01\x00" if compressed else b"\x00\x00") + b"en\0Card\0" + payload


TEXT = nasty_text(60)
KEYWORDS = st.lists(st.sampled_from([b"ccv3", b"chara", b"Comment", b""]), min_size=1, max_size=3)
FIELDS = tuple(field for field in TEXT_FIELDS if field != "name")


@st.composite
def card_objects(draw: st.DrawFn) -> dict[str, Any]:
    """A valid-looking V1, V2 or V3 card object (strings may still be hostile)."""
    data: dict[str, Any] = {"name": draw(TEXT)}
    for field in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4, unique=True)):
        data[field] = draw(TEXT)
    spec = draw(st.sampled_from(["v1", "v2", "v3"]))
    if spec == "v1":
        return data
    data["tags"] = draw(st.lists(TEXT, max_size=3))
    if draw(st.booleans()):
        data["character_book"] = {"entries": [{"keys": ["k"], "content": draw(TEXT)}]}
        data["extensions"] = {draw(TEXT): draw(TEXT)}
    if spec == "v2":
        return {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}
    data["nickname"] = draw(TEXT)
    data["assets"] = [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}]
    data["group_only_greetings"] = draw(st.lists(TEXT, max_size=2))
    return {"spec": "chara_card_v3", "spec_version": "3.0", "data": data}


@st.composite
def card_json(draw: st.DrawFn) -> bytes:
    """Card JSON bytes, valid or mutated (a hostile value somewhere, a key gone)."""
    card = draw(card_objects())
    if draw(st.booleans()):
        card = draw(mutated_json(card))
    raw = draw(st.integers(0, 3)) == 0  # lone surrogates then become invalid UTF-8
    return dump_json(card, ascii_only=not raw, depth=draw(st.sampled_from([3, 2_000, 20_000])))


@st.composite
def card_pngs(draw: st.DrawFn) -> bytes:
    """A PNG carrying card JSON in one or two text chunks, perhaps with a chunk mutated under a good CRC."""
    chunks = [IHDR]
    for keyword in draw(KEYWORDS):
        text = base64.b64encode(draw(card_json()))
        if draw(st.integers(0, 9)) == 0:
            text = draw(st.sampled_from([b" " + text + b"\n", text.rstrip(b"="), text.replace(b"+", b"-")]))
        kind = draw(st.sampled_from(["tEXt", "zTXt", "iTXt"]))
        chunks.append(text_chunk(kind, keyword, text, compressed=draw(st.booleans())))
    chunks += [IDAT, IEND]
    if draw(st.booleans()):
        at = draw(st.integers(0, len(chunks) - 1))
        ctype, body = chunks[at]
        chunks[at] = (ctype, draw(mutated_bytes(body)))  # the walker reads it: the CRC is right
    data = png_bytes(chunks)
    if draw(st.integers(0, 4)) == 0:
        data = draw(mutated_bytes(data))
    return data


# --------------------------------------------------------------------------- the properties


def outcome(reason: str) -> str:
    """The kind of a refusal, for ``--hypothesis-show-statistics`` (how deep the inputs got)."""
    return " ".join(word for word in reason.split()[:4] if not any(c.isdigit() for c in word))


def parse_or_card_error(data: bytes, name: str = "/cards/fuzz.card") -> None:
    """Parse ``data``: it must either parse or raise a ``CardError`` that names the file."""
    try:
        parse_card(data, name_hint=name)
    except CardError as exc:
        assert str(exc).startswith(f"{name}:") and exc.reason, str(exc)
        event(f"refused: {outcome(exc.reason)}")
    else:
        event("parsed")


@fuzz()
@given(st.binary(max_size=2048))
@example(b'{"spec": []}')  # found by this test: TypeError (unhashable spec)
@example(b'{"spec": {"a": 1}, "data": {}}')
@example(b"[" * 5_000)
def test_any_bytes_parse_or_give_a_card_error(data: bytes) -> None:
    parse_or_card_error(data)


@fuzz()
@given(st.binary(max_size=2048).map(lambda rest: PNG_SIGNATURE + rest))
def test_any_bytes_after_a_png_signature_give_a_card_error(data: bytes) -> None:
    parse_or_card_error(data, "/cards/fuzz.png")


@fuzz()
@given(card_json())
def test_nearly_valid_card_json_parses_or_gives_a_card_error(data: bytes) -> None:
    parse_or_card_error(data)


@fuzz()
@given(card_pngs())
def test_nearly_valid_card_pngs_parse_or_give_a_card_error(data: bytes) -> None:
    parse_or_card_error(data, "/cards/fuzz.png")


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(the card file, the persona folder holding one persona already)."""
    root = tmp_path_factory.mktemp("card-fuzz")
    personas = root / "personas"
    personas.mkdir()
    (personas / KEEP).write_text("schema_version: 1\nid: keep\nname: Keep\nsystem_prompt: Hi.\n")
    yield root / "card.png", personas


@fuzz(100)
@given(data=st.one_of(card_json(), card_pngs()))
def test_import_writes_a_persona_that_loads_or_writes_nothing(
    data: bytes, folders: tuple[Path, Path]
) -> None:
    card, personas = folders
    card.write_bytes(data)
    before = tree_digest(personas)
    try:
        result = import_card(card, personas_dir=personas, approve=lambda _id: None)
    except CardError as exc:
        assert str(exc).startswith(f"{card}:") and exc.reason, str(exc)
        event(f"refused: {outcome(exc.reason)}")
        assert tree_digest(personas) == before, "a refused card changed the persona folder"
        return
    event("imported")
    try:
        compiled = load_and_compile(result.path)
        assert compiled.persona_id == result.persona_id and not compiled.summary.trusted
        assert set(tree_digest(personas)) - set(before) == {result.path.name}
    finally:
        os.remove(result.path)  # the next example starts from the same folder


# --------------------------------------------------------------------------- bombs


def deflated_zeros(size: int) -> bytes:
    """``size`` zero bytes, deflated without ever holding them (a few hundred KB for a GiB)."""
    packer = zlib.compressobj(9)
    block = bytes(1 << 20)
    out = [packer.compress(block) for _ in range(size >> 20)]
    return b"".join(out) + packer.flush()


@pytest.mark.parametrize("kind", ["zTXt", "iTXt"])
def test_a_compressed_bomb_is_refused_before_it_is_inflated(kind: str, tmp_path: Path) -> None:
    bomb = deflated_zeros(64 << 20)  # 64 MiB once inflated, 8 times the text cap
    body = b"ccv3\0\0" + bomb if kind == "zTXt" else b"ccv3\0\x01\x00\0\0" + bomb
    data = png_bytes([IHDR, (kind.encode(), body), IDAT, IEND])
    assert len(data) < MAX_CARD_TEXT_BYTES
    refusal = f"inflates to more than the {MAX_CARD_TEXT_BYTES} byte cap"
    tracemalloc.start()
    try:
        with pytest.raises(CardError, match=refusal):
            parse_card(data, name_hint="bomb.png")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * MAX_CARD_TEXT_BYTES, f"peak {peak} bytes"  # the inflate cap, not the 64 MiB
    personas, card = tmp_path / "personas", tmp_path / "bomb.png"
    card.write_bytes(data)
    with pytest.raises(CardError, match=refusal):
        import_card(card, personas_dir=personas, approve=lambda _id: None)
    assert not personas.exists()


def test_card_json_in_a_png_that_is_not_utf8_is_named_as_such() -> None:
    payload = base64.b64encode(b'{"name": "\xff"}')  # found by the PNG property: it said "not a PNG"
    data = png_bytes([IHDR, text_chunk("tEXt", b"chara", payload, compressed=False), IDAT, IEND])
    with pytest.raises(CardError, match=r"the card JSON in the PNG's text chunk is not UTF-8 \(byte 10\)"):
        parse_card(data, name_hint="c.png")
