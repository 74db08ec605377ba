"""Build tiny but structurally real GGUF files for tests (header, key/values, tensor infos, data)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

STRING, ARRAY, UINT32, FLOAT32, BOOL = 8, 9, 4, 6, 7


def gguf_string(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


@dataclass
class Tensor:
    name: str
    dims: tuple[int, ...]
    ggml_type: int = 0  # F32
    data: bytes = b""


@dataclass
class GgufSpec:
    """What to put into the file; defaults make a valid little llama-like model."""

    version: int = 3
    pre: str | None = "smollm"
    extra_kv: list[tuple[str, int, object]] = field(default_factory=list)
    tensors: list[Tensor] = field(
        default_factory=lambda: [
            Tensor("token_embd.weight", (4, 2), 0, bytes(range(32))),
            Tensor("output.weight", (32,), 3, b"\x01" * 20),  # one Q4_1 block
        ]
    )
    alignment: int = 32


def _value(vtype: int, value: object) -> bytes:
    if vtype == STRING:
        assert isinstance(value, str)
        return gguf_string(value)
    if vtype == UINT32:
        return struct.pack("<I", value)
    if vtype == FLOAT32:
        return struct.pack("<f", value)
    if vtype == BOOL:
        return struct.pack("<?", value)
    if vtype == ARRAY:
        item_type, items = value  # type: ignore[misc]
        return struct.pack("<IQ", item_type, len(items)) + b"".join(_value(item_type, i) for i in items)
    raise ValueError(vtype)


def build(spec: GgufSpec | None = None) -> bytes:
    spec = spec or GgufSpec()
    kv: list[tuple[str, int, object]] = [
        ("general.architecture", STRING, "llama"),
        ("general.name", STRING, "tiny test model"),
        ("llama.block_count", UINT32, 1),
        ("tokenizer.ggml.model", STRING, "gpt2"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, ["<|im_start|>", "smollm", "a", "b"])),
        ("tokenizer.ggml.scores", ARRAY, (FLOAT32, [0.0, 0.5, 1.0, 1.5])),
    ]
    if spec.pre is not None:
        kv.append(("tokenizer.ggml.pre", STRING, spec.pre))
    kv.append(("tokenizer.chat_template", STRING, "decoy: tokenizer.ggml.pre smollm"))
    kv.extend(spec.extra_kv)
    if spec.alignment != 32:
        kv.append(("general.alignment", UINT32, spec.alignment))
    out = bytearray(b"GGUF" + struct.pack("<IQQ", spec.version, len(spec.tensors), len(kv)))
    for key, vtype, value in kv:
        out += gguf_string(key) + struct.pack("<I", vtype) + _value(vtype, value)
    offset = 0
    offsets = []
    for t in spec.tensors:
        offsets.append(offset)
        offset += -(-len(t.data) // spec.alignment) * spec.alignment
    for t, off in zip(spec.tensors, offsets, strict=True):
        out += gguf_string(t.name) + struct.pack("<I", len(t.dims))
        out += b"".join(struct.pack("<Q", d) for d in t.dims)
        out += struct.pack("<IQ", t.ggml_type, off)
    out += b"\0" * (-len(out) % spec.alignment)
    for i, t in enumerate(spec.tensors):
        out += t.data
        if i < len(spec.tensors) - 1:
            out += b"\0" * (-len(t.data) % spec.alignment)
    return bytes(out)


def write(path: Path, spec: GgufSpec | None = None) -> Path:
    path.write_bytes(build(spec))
    return path
