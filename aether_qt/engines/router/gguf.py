"""A small, defensive GGUF header reader (no third-party code, no model loading).

Why it exists: llama.cpp (inside gpt4all) can crash the whole process on a
truncated or corrupt file, so every GGUF is checked here *before* it is handed
to gpt4all. The reader parses the real structure (header, key/value section,
tensor infos) instead of searching for bytes, records where each string value
sits in the file (so the bundled model's ``tokenizer.ggml.pre`` can be
rewritten in place), and checks that the file is long enough for every tensor
its header declares.

Layout (GGUF v2/v3, little-endian): ``b"GGUF"``, u32 version, u64 tensor
count, u64 key/value count; then key/value pairs (key: u64 length + UTF-8
bytes; u32 value type; value); then tensor infos (name, u32 n_dims, u64 dims,
u32 ggml type, u64 offset relative to the data section); then padding to
``general.alignment`` (default 32) and the tensor data.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
# Sanity limits: a hostile header must not make the reader allocate or loop without bound.
_MAX_STRING = 1 << 24
_MAX_COUNT = 1 << 24
_MAX_DIMS = 8

# GGUF metadata value types.
_T_STRING, _T_ARRAY = 8, 9
_SCALAR_FORMATS: dict[int, str] = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}

# ggml tensor types: (elements per block, bytes per block). Unknown types skip the size check.
GGML_BLOCKS: dict[int, tuple[int, int]] = {
    0: (1, 4),  # F32
    1: (1, 2),  # F16
    2: (32, 18),  # Q4_0
    3: (32, 20),  # Q4_1
    6: (32, 22),  # Q5_0
    7: (32, 24),  # Q5_1
    8: (32, 34),  # Q8_0
    9: (32, 36),  # Q8_1
    10: (256, 84),  # Q2_K
    11: (256, 110),  # Q3_K
    12: (256, 144),  # Q4_K
    13: (256, 176),  # Q5_K
    14: (256, 210),  # Q6_K
    15: (256, 292),  # Q8_K
    16: (256, 66),  # IQ2_XXS
    17: (256, 74),  # IQ2_XS
    18: (256, 98),  # IQ3_XXS
    19: (256, 50),  # IQ1_S
    20: (32, 18),  # IQ4_NL
    21: (256, 110),  # IQ3_S
    22: (256, 82),  # IQ2_S
    23: (256, 136),  # IQ4_XS
    24: (1, 1),  # I8
    25: (1, 2),  # I16
    26: (1, 4),  # I32
    27: (1, 8),  # I64
    28: (1, 8),  # F64
    29: (256, 56),  # IQ1_M
    30: (1, 2),  # BF16
}


class ModelFileError(Exception):
    """A model file is missing, not a GGUF, or damaged; the message names the file and the problem.

    Attributes:
        path: the file concerned.
        problem: what is wrong with it, in words a user can act on.
    """

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True, slots=True)
class StringValue:
    """A string metadata value and where its bytes sit in the file."""

    value: str
    offset: int  # file offset of the first byte of the string (after its u64 length)
    length: int  # length in bytes


@dataclass(frozen=True, slots=True)
class GgufHeader:
    """What the reader learned about one GGUF file.

    Attributes:
        version: GGUF version (2 or 3).
        tensor_count: tensors declared by the header.
        metadata: scalar and string values by key (arrays are summarised by their length).
        strings: every string value with its location, by key.
        data_offset: where the tensor data section starts.
        data_end: the end of the last tensor (``data_offset`` + its offset + size); 0 if unknown.
        file_size: the file's size in bytes.
        unknown_tensor_types: ggml types whose sizes the reader does not know (size check skipped).
    """

    version: int
    tensor_count: int
    metadata: dict[str, object]
    strings: dict[str, StringValue]
    data_offset: int
    data_end: int
    file_size: int
    unknown_tensor_types: tuple[int, ...] = field(default_factory=tuple)


class _Cursor:
    """Bounds-checked little-endian reads over a memory map."""

    def __init__(self, buf: mmap.mmap | bytes, path: Path) -> None:
        self.buf = buf
        self.pos = 0
        self.path = path
        self.size = len(buf)

    def take(self, n: int) -> int:
        """Advance by ``n`` bytes and return the old position; raise if the file ends first."""
        start = self.pos
        if n < 0 or start + n > self.size:
            raise ModelFileError(
                self.path,
                f"truncated: the header needs bytes up to {start + n} but the file has {self.size}",
            )
        self.pos = start + n
        return start

    def unpack(self, fmt: str) -> object:
        start = self.take(struct.calcsize(fmt))
        value: object = struct.unpack_from(fmt, self.buf, start)[0]
        return value

    def u32(self) -> int:
        start = self.take(4)
        value: int = struct.unpack_from("<I", self.buf, start)[0]
        return value

    def u64(self) -> int:
        start = self.take(8)
        value: int = struct.unpack_from("<Q", self.buf, start)[0]
        return value

    def string(self) -> StringValue:
        length = _checked_len(self)
        start = self.take(length)
        raw = bytes(self.buf[start : start + length])
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="replace")
        return StringValue(text, start, length)


def _count(cur: _Cursor, what: str) -> int:
    n = cur.u64()
    if n > _MAX_COUNT:
        raise ModelFileError(cur.path, f"corrupt header: {n} {what} is implausible")
    return n


def _skip_array(cur: _Cursor) -> int:
    item_type = cur.u32()
    n = _count(cur, "array items")
    if item_type in _SCALAR_FORMATS:
        cur.take(n * struct.calcsize(_SCALAR_FORMATS[item_type]))
    elif item_type == _T_STRING:
        for _ in range(n):
            cur.take(_checked_len(cur))
    elif item_type == _T_ARRAY:
        for _ in range(n):
            _skip_array(cur)
    else:
        raise ModelFileError(cur.path, f"corrupt header: unknown array item type {item_type}")
    return n


def _checked_len(cur: _Cursor) -> int:
    length = cur.u64()
    if length > _MAX_STRING:
        raise ModelFileError(cur.path, f"corrupt header: a string claims {length} bytes")
    return length


def _read_value(cur: _Cursor, key: str, header: dict[str, object], strings: dict[str, StringValue]) -> None:
    value_type = cur.u32()
    if value_type in _SCALAR_FORMATS:
        header[key] = cur.unpack(_SCALAR_FORMATS[value_type])
    elif value_type == _T_STRING:
        sv = cur.string()
        strings[key] = sv
        header[key] = sv.value
    elif value_type == _T_ARRAY:
        header[key] = f"<array of {_skip_array(cur)}>"
    else:
        raise ModelFileError(cur.path, f"corrupt header: key {key!r} has unknown value type {value_type}")


def _tensor_end(cur: _Cursor, unknown: set[int]) -> int:
    cur.string()  # name
    n_dims = cur.u32()
    if n_dims > _MAX_DIMS:
        raise ModelFileError(cur.path, f"corrupt header: a tensor has {n_dims} dimensions")
    elements = 1
    for _ in range(n_dims):
        elements *= cur.u64()
    ggml_type = cur.u32()
    offset = cur.u64()
    block = GGML_BLOCKS.get(ggml_type)
    if block is None:
        unknown.add(ggml_type)
        return offset
    per_block, block_bytes = block
    return offset + elements // per_block * block_bytes


def parse_header(buf: mmap.mmap | bytes, path: Path) -> GgufHeader:
    """Parse a GGUF held in ``buf`` (a memory map or bytes); raise :class:`ModelFileError` if bad."""
    cur = _Cursor(buf, path)
    if len(buf) < 4 or bytes(buf[:4]) != GGUF_MAGIC:
        raise ModelFileError(path, "not a GGUF model file (the first bytes are not 'GGUF')")
    cur.take(4)
    version = cur.u32()
    if version not in SUPPORTED_VERSIONS:
        raise ModelFileError(path, f"unsupported GGUF version {version} (supported: 2 and 3)")
    tensor_count = _count(cur, "tensors")
    kv_count = _count(cur, "metadata keys")
    metadata: dict[str, object] = {}
    strings: dict[str, StringValue] = {}
    for _ in range(kv_count):
        key = cur.string().value
        _read_value(cur, key, metadata, strings)
    unknown: set[int] = set()
    last_end = 0
    for _ in range(tensor_count):
        last_end = max(last_end, _tensor_end(cur, unknown))
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0:
        raise ModelFileError(path, f"corrupt header: general.alignment is {alignment!r}")
    data_offset = -(-cur.pos // alignment) * alignment
    data_end = data_offset + last_end if tensor_count else data_offset
    return GgufHeader(
        version=version,
        tensor_count=tensor_count,
        metadata=metadata,
        strings=strings,
        data_offset=data_offset,
        data_end=data_end,
        file_size=len(buf),
        unknown_tensor_types=tuple(sorted(unknown)),
    )


def read_header(path: str | os.PathLike[str]) -> GgufHeader:
    """Validate the GGUF at ``path`` and return its header.

    Raises:
        ModelFileError: missing, unreadable, not a GGUF, corrupt, or truncated (shorter than
            the end of the last tensor its header declares).
    """
    file = Path(path)
    try:
        with file.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size < 4:
                raise ModelFileError(file, f"not a GGUF model file (only {size} bytes)")
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                header = parse_header(buf, file)
    except FileNotFoundError:
        raise ModelFileError(file, "the file does not exist") from None
    except IsADirectoryError:
        raise ModelFileError(file, "this is a folder, not a model file") from None
    except PermissionError:
        raise ModelFileError(file, "the file cannot be read (permission denied)") from None
    if header.data_end > header.file_size:
        raise ModelFileError(
            file,
            f"truncated: the tensors need {header.data_end} bytes but the file has {header.file_size}",
        )
    return header
