"""A BERT encoder forward pass in plain numpy, sized for all-MiniLM-L6-v2.

This is the torch-free half of the embedder (DESIGN.md §1, "Embeddings"): it
takes the tensors of a Hugging Face ``BertModel`` checkpoint (read from
safetensors by :mod:`aether_qt.engines.memory.embedder`) and computes the last
hidden states for a padded batch of token ids. It mirrors the reference
implementation step for step: word + position + token-type embeddings,
LayerNorm, then per layer masked multi-head self-attention, output dense,
residual + LayerNorm, intermediate dense with *exact* GELU, output dense,
residual + LayerNorm. All matrix products run in float32, like the reference.

Exact GELU needs ``erf``, which numpy lacks (and scipy is not a dependency).
:class:`Erf` evaluates it from a table of :func:`math.erf` values and
derivatives with piecewise cubic Hermite interpolation: absolute error below
1e-9 (checked against :func:`math.erf` in the tests), at the cost of a few
vectorised passes instead of a Python call per element.

numpy is imported lazily so that importing this module stays cheap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatArray = npt.NDArray[np.float32]
    IntArray = npt.NDArray[np.int64]

__all__ = ["BertConfig", "BertEncoder", "Erf", "WeightsError"]

_ERF_RANGE = 6.0  # |x| >= 6: erf(x) = ±1 to within 2e-17
_ERF_STEP = 1.0 / 64.0  # cubic Hermite error ~ h**4 / 384 * max|erf''''| < 1e-9
_GELU_CHUNK = 1 << 15  # elements per GELU chunk: float64 temporaries of 256 KiB


class WeightsError(ValueError):
    """The checkpoint does not hold the tensors (or shapes) a BERT encoder needs."""


@dataclass(frozen=True, slots=True)
class BertConfig:
    """The architecture numbers of a BERT checkpoint (from its ``config.json``)."""

    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    max_positions: int
    layer_norm_eps: float

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BertConfig:
        """Read a Hugging Face ``config.json`` dict; only absolute-position GELU BERTs are accepted.

        Raises:
            WeightsError: a key is missing or the architecture is not supported.
        """
        if data.get("model_type", "bert") != "bert" or data.get("hidden_act", "gelu") != "gelu":
            raise WeightsError("only BERT models with exact GELU are supported")
        if data.get("position_embedding_type", "absolute") != "absolute":
            raise WeightsError("only absolute position embeddings are supported")
        try:
            config = cls(
                hidden_size=int(data["hidden_size"]),
                num_layers=int(data["num_hidden_layers"]),
                num_heads=int(data["num_attention_heads"]),
                intermediate_size=int(data["intermediate_size"]),
                max_positions=int(data["max_position_embeddings"]),
                layer_norm_eps=float(data.get("layer_norm_eps", 1e-12)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise WeightsError(f"config.json lacks a valid {exc}") from exc
        if config.hidden_size % config.num_heads:
            raise WeightsError("hidden_size is not a multiple of num_attention_heads")
        return config


class Erf:
    """Vectorised ``erf`` by cubic Hermite interpolation of a :func:`math.erf` table.

    The table (769 knots, 1/64 apart on [-6, 6]) holds per interval the cubic's four
    coefficients as separate arrays: 1-D ``take`` from small tables and in-place Horner
    steps keep this at a few milliseconds per million elements.
    """

    def __init__(self) -> None:
        import numpy as np

        n = round(2 * _ERF_RANGE / _ERF_STEP)
        knots = np.linspace(-_ERF_RANGE, _ERF_RANGE, n + 1)
        values = np.array([math.erf(k) for k in knots])
        slopes = 2.0 / math.sqrt(math.pi) * np.exp(-knots * knots) * _ERF_STEP
        # Per interval, p(t) = c0 + t*(c1 + t*(c2 + t*c3)) for t in [0, 1].
        y0, y1, m0, m1 = values[:-1], values[1:], slopes[:-1], slopes[1:]
        coeffs = (y0, m0, 3 * (y1 - y0) - 2 * m0 - m1, 2 * (y0 - y1) + m0 + m1)
        self._coeffs: tuple[npt.NDArray[np.float64], ...] = tuple(np.ascontiguousarray(c) for c in coeffs)
        self._intervals = n

    def __call__(self, x: npt.NDArray[Any], scale: float = 1.0) -> npt.NDArray[np.float64]:
        """``erf(scale * x)`` for every element of ``x``, in float64 (a new array)."""
        import numpy as np

        u = np.multiply(x, scale / _ERF_STEP, dtype=np.float64)
        bound = _ERF_RANGE / _ERF_STEP
        np.clip(u, -bound, bound, out=u)
        u += bound
        index = np.minimum(u.astype(np.intp), self._intervals - 1)
        u -= index
        c0, c1, c2, c3 = self._coeffs
        result: npt.NDArray[np.float64] = c3.take(index)
        for c in (c2, c1, c0):
            result *= u
            result += c.take(index)
        return result

    def gelu(self, x: FloatArray) -> FloatArray:
        """Exact GELU, ``x * Φ(x) = 0.5 * x * (1 + erf(x / √2))``, returned in float32.

        Rows are processed in chunks of about 32k elements so the float64 temporaries stay
        in the CPU cache (a whole batch at once is several times slower).
        """
        import numpy as np

        out = np.empty(x.shape, dtype=np.float32)
        rows = max(1, _GELU_CHUNK // max(1, x[0].size)) if len(x) else 1
        for start in range(0, len(x), rows):
            part = x[start : start + rows]
            phi = self(part, 1.0 / math.sqrt(2.0))
            phi += 1.0
            phi *= part
            phi *= 0.5
            out[start : start + rows] = phi
        return out


@dataclass(frozen=True, slots=True)
class _Layer:
    qkv_w: FloatArray  # (hidden, 3 * hidden): query | key | value, transposed for x @ w
    qkv_b: FloatArray
    out_w: FloatArray
    out_b: FloatArray
    ln1_w: FloatArray
    ln1_b: FloatArray
    up_w: FloatArray
    up_b: FloatArray
    down_w: FloatArray
    down_b: FloatArray
    ln2_w: FloatArray
    ln2_b: FloatArray


class BertEncoder:
    """The encoder of a BERT checkpoint; :meth:`forward` gives the last hidden states."""

    def __init__(self, config: BertConfig, tensors: Mapping[str, npt.NDArray[Any]]) -> None:
        """Take the tensors (Hugging Face ``BertModel`` names, optional ``bert.`` prefix).

        Raises:
            WeightsError: a tensor is missing or has the wrong shape.
        """
        self.config = config
        self._erf = Erf()
        self._tensors = tensors
        hidden, inter = config.hidden_size, config.intermediate_size
        self._word = self._get("embeddings.word_embeddings.weight", (None, hidden))
        self._position = self._get("embeddings.position_embeddings.weight", (config.max_positions, hidden))
        self._token_type = self._get("embeddings.token_type_embeddings.weight", (None, hidden))
        self._emb_ln = (
            self._get("embeddings.LayerNorm.weight", (hidden,)),
            self._get("embeddings.LayerNorm.bias", (hidden,)),
        )
        self._layers = [self._layer(f"encoder.layer.{i}.", hidden, inter) for i in range(config.num_layers)]
        del self._tensors

    def _get(self, name: str, shape: tuple[int | None, ...]) -> FloatArray:
        import numpy as np

        tensor = self._tensors.get(name, self._tensors.get(f"bert.{name}"))
        if tensor is None:
            raise WeightsError(f"the weights lack the tensor {name!r}")
        if len(tensor.shape) != len(shape) or any(
            want is not None and got != want for got, want in zip(tensor.shape, shape, strict=True)
        ):
            raise WeightsError(f"the tensor {name!r} has shape {tensor.shape}, expected {shape}")
        return np.ascontiguousarray(tensor, dtype=np.float32)

    def _layer(self, prefix: str, hidden: int, inter: int) -> _Layer:
        import numpy as np

        def dense(name: str, n_in: int, n_out: int) -> tuple[FloatArray, FloatArray]:
            weight = self._get(f"{prefix}{name}.weight", (n_out, n_in))
            return np.ascontiguousarray(weight.T), self._get(f"{prefix}{name}.bias", (n_out,))

        q, k, v = (dense(f"attention.self.{n}", hidden, hidden) for n in ("query", "key", "value"))
        out_w, out_b = dense("attention.output.dense", hidden, hidden)
        up_w, up_b = dense("intermediate.dense", hidden, inter)
        down_w, down_b = dense("output.dense", inter, hidden)
        return _Layer(
            qkv_w=np.ascontiguousarray(np.concatenate([q[0], k[0], v[0]], axis=1)),
            qkv_b=np.concatenate([q[1], k[1], v[1]]),
            out_w=out_w,
            out_b=out_b,
            ln1_w=self._get(f"{prefix}attention.output.LayerNorm.weight", (hidden,)),
            ln1_b=self._get(f"{prefix}attention.output.LayerNorm.bias", (hidden,)),
            up_w=up_w,
            up_b=up_b,
            down_w=down_w,
            down_b=down_b,
            ln2_w=self._get(f"{prefix}output.LayerNorm.weight", (hidden,)),
            ln2_b=self._get(f"{prefix}output.LayerNorm.bias", (hidden,)),
        )

    def forward(self, ids: IntArray, mask: IntArray) -> FloatArray:
        """Last hidden states, shape ``(batch, length, hidden)``, for right-padded ``ids``.

        Args:
            ids: token ids, shape ``(batch, length)``; ``length <= max_positions``.
            mask: 1 for real tokens, 0 for padding, same shape. Token types are all 0
                (single sentences).
        """
        import numpy as np

        batch, length = ids.shape
        hidden = self.config.hidden_size
        x = self._word[ids] + self._position[:length] + self._token_type[0]
        x = self._layer_norm(x.reshape(batch * length, hidden), *self._emb_ln)
        # Padded keys get a large negative score, as in the reference's extended attention mask.
        bias = ((1.0 - mask.astype(np.float32)) * np.finfo(np.float32).min)[:, None, None, :]
        for layer in self._layers:
            x = self._block(layer, x, bias, batch, length)
        return x.reshape(batch, length, hidden)

    def _block(self, layer: _Layer, x: FloatArray, bias: FloatArray, batch: int, length: int) -> FloatArray:
        import numpy as np

        heads = self.config.num_heads
        hidden = self.config.hidden_size
        size = hidden // heads
        qkv = (x @ layer.qkv_w + layer.qkv_b).reshape(batch, length, 3, heads, size)
        # Contiguous (batch, heads, ., .) stacks: numpy's stacked matmul is many times slower on
        # the strided views.
        q = np.ascontiguousarray(qkv[:, :, 0].transpose(0, 2, 1, 3))
        q *= np.float32(1.0 / math.sqrt(size))
        k_t = np.ascontiguousarray(qkv[:, :, 1].transpose(0, 2, 3, 1))
        v = np.ascontiguousarray(qkv[:, :, 2].transpose(0, 2, 1, 3))
        scores = q @ k_t
        scores += bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch * length, hidden)
        x = self._layer_norm(context @ layer.out_w + layer.out_b + x, layer.ln1_w, layer.ln1_b)
        up = x @ layer.up_w + layer.up_b
        return self._layer_norm(
            self._erf.gelu(up) @ layer.down_w + layer.down_b + x, layer.ln2_w, layer.ln2_b
        )

    def _layer_norm(self, x: FloatArray, weight: FloatArray, bias: FloatArray) -> FloatArray:
        import numpy as np

        mean = x.mean(axis=-1, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(axis=-1, keepdims=True)
        out: FloatArray = centred / np.sqrt(var + np.float32(self.config.layer_norm_eps)) * weight + bias
        return out
