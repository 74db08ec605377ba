"""The GGUF header reader on small synthetic files (aether_qt/engines/router/gguf.py)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from gguf_builder import ARRAY, STRING, UINT32, GgufSpec, Tensor, build, write

from aether_qt.engines.router.gguf import ModelFileError, read_header


def test_parses_metadata_and_locates_the_pre_tokenizer_value(tmp_path: Path) -> None:
    path = write(tmp_path / "m.gguf")
    header = read_header(path)
    pre = header.strings["tokenizer.ggml.pre"]
    raw = path.read_bytes()
    assert (pre.value, pre.length) == ("smollm", 6)
    assert raw[pre.offset : pre.offset + 6] == b"smollm"
    assert raw[pre.offset - 8 : pre.offset] == struct.pack("<Q", 6)
    # the token list and the chat template also contain "smollm": the parser found the real value
    assert raw.index(b"smollm") != pre.offset
    assert header.metadata["llama.block_count"] == 1
    assert header.metadata["tokenizer.ggml.tokens"] == "<array of 4>"
    assert (header.version, header.tensor_count) == (3, 2)


def test_data_end_is_the_end_of_the_last_tensor(tmp_path: Path) -> None:
    header = read_header(write(tmp_path / "m.gguf"))
    assert header.data_offset % 32 == 0
    assert header.data_end == header.file_size == header.data_offset + 32 + 20


def test_custom_alignment_is_honoured(tmp_path: Path) -> None:
    header = read_header(write(tmp_path / "m.gguf", GgufSpec(alignment=64)))
    assert header.data_offset % 64 == 0
    assert header.data_end == header.file_size


@pytest.mark.parametrize("keep", [3, 20, 200, -1])
def test_truncated_files_are_refused_with_the_file_named(tmp_path: Path, keep: int) -> None:
    raw = build()
    path = tmp_path / "cut.gguf"
    path.write_bytes(raw[:keep])
    with pytest.raises(ModelFileError) as info:
        read_header(path)
    assert str(path) in str(info.value)
    assert "truncated" in info.value.problem or "not a GGUF" in info.value.problem


def test_a_file_cut_inside_the_tensor_data_is_truncated(tmp_path: Path) -> None:
    raw = build()
    path = tmp_path / "cut.gguf"
    path.write_bytes(raw[:-5])
    with pytest.raises(ModelFileError, match="truncated: the tensors need"):
        read_header(path)


def test_not_a_gguf(tmp_path: Path) -> None:
    path = tmp_path / "notes.gguf"
    path.write_text("hello, I am a text file pretending to be a model")
    with pytest.raises(ModelFileError, match="not a GGUF"):
        read_header(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="does not exist"):
        read_header(tmp_path / "nope.gguf")
    with pytest.raises(ModelFileError, match="folder"):
        read_header(tmp_path)


def test_unsupported_version(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match="unsupported GGUF version 1"):
        read_header(write(tmp_path / "v1.gguf", GgufSpec(version=1)))


def test_hostile_lengths_are_refused_without_allocating(tmp_path: Path) -> None:
    raw = bytearray(build())
    # the first key's length: claim an absurd size
    raw[24:32] = struct.pack("<Q", 1 << 60)
    path = tmp_path / "evil.gguf"
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="corrupt header"):
        read_header(path)


def test_unknown_value_type_is_corrupt(tmp_path: Path) -> None:
    spec = GgufSpec(extra_kv=[("x.bad", 99, None)])
    with pytest.raises(ValueError):
        build(spec)  # the builder refuses too; craft it by hand instead
    raw = bytearray(build(GgufSpec(extra_kv=[("x.bad", UINT32, 7)])))
    key = raw.index(b"x.bad")
    raw[key + 5 : key + 9] = struct.pack("<I", 99)
    path = tmp_path / "bad.gguf"
    path.write_bytes(bytes(raw))
    with pytest.raises(ModelFileError, match="unknown value type 99"):
        read_header(path)


def test_unknown_tensor_type_skips_the_size_check_and_says_so(tmp_path: Path) -> None:
    spec = GgufSpec(tensors=[Tensor("w", (8,), 200, b"\0" * 8)])
    header = read_header(write(tmp_path / "m.gguf", spec))
    assert header.unknown_tensor_types == (200,)


def test_nested_arrays_are_skipped(tmp_path: Path) -> None:
    spec = GgufSpec(extra_kv=[("x.nested", ARRAY, (STRING, ["a", "bb"]))])
    header = read_header(write(tmp_path / "m.gguf", spec))
    assert header.metadata["x.nested"] == "<array of 2>"
