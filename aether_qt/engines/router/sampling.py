"""Sampling defaults by model size: small local models get a low temperature and short replies.

A persona asks for a temperature and a reply length suited to a capable model
(Aether's: 0.7 and 300 tokens). The bundled SmolLM2-135M at 0.7 drifts within a
sentence or two into invented names and stories ("My name is Elian Blackwood…",
measured with the old persona); at 0.2 and under ~100 tokens it stays closer to
the question and to its identity. So the local tier caps both by the size of the
model file, the one size measure every GGUF has (parameters × bits per weight):

=========  ==============  ===========  ==========
class      file size       temperature  max tokens
=========  ==============  ===========  ==========
tiny       < 500 MB        <= 0.2       <= 96
small      < 2.5 GB        <= 0.5       <= 200
large      larger          persona's    persona's
=========  ==============  ===========  ==========

(~500 MB is a 0.5-1B model at 4 bits; ~2.5 GB a 3-4B model at 4 bits.) Caps
only lower what the persona asks for, never raise it. Pure.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final

from aether_qt.core.generation import GenerationRequest

_MB: Final = 1_000_000


@dataclass(frozen=True, slots=True)
class SizeClass:
    """Caps for models up to ``max_bytes`` (exclusive); ``None`` caps nothing."""

    name: str
    max_bytes: int | None
    temperature: float | None
    max_tokens: int | None


CLASSES: Final = (
    SizeClass("tiny", 500 * _MB, 0.2, 96),
    SizeClass("small", 2_500 * _MB, 0.5, 200),
    SizeClass("large", None, None, None),
)


def size_class(size_bytes: int) -> SizeClass:
    """The class of a model file of ``size_bytes`` (0 or unknown: ``tiny``, the safe side)."""
    for cls in CLASSES:
        if cls.max_bytes is None or size_bytes < cls.max_bytes:
            return cls
    return CLASSES[-1]


def for_model(request: GenerationRequest, size_bytes: int) -> GenerationRequest:
    """``request`` with its temperature and length capped for a model of ``size_bytes``."""
    cls = size_class(size_bytes)
    temperature, max_tokens = request.temperature, request.max_tokens
    if cls.temperature is not None:
        temperature = min(temperature, cls.temperature)
    if cls.max_tokens is not None:
        max_tokens = min(max_tokens, cls.max_tokens)
    if (temperature, max_tokens) == (request.temperature, request.max_tokens):
        return request
    return dataclasses.replace(request, temperature=temperature, max_tokens=max_tokens)
