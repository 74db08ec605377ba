"""Sampling caps by model size: small models get a low temperature and short replies, never more."""

from __future__ import annotations

import pytest

from aether_qt.core.generation import GenerationRequest
from aether_qt.engines.router.sampling import for_model, size_class

PERSONA = GenerationRequest("t", "You are Aether.", "hello", temperature=0.7, max_tokens=300)
BUNDLED_BYTES = 98_362_432  # SmolLM2-135M q4_1


@pytest.mark.parametrize(
    ("size", "name", "temperature", "max_tokens"),
    [
        (BUNDLED_BYTES, "tiny", 0.2, 96),
        (0, "tiny", 0.2, 96),  # unknown size: the safe side
        (1_900_000_000, "small", 0.5, 200),
        (4_700_000_000, "large", 0.7, 300),  # a 7-8B model keeps the persona's settings
    ],
)
def test_caps_by_size(size: int, name: str, temperature: float, max_tokens: int) -> None:
    assert size_class(size).name == name
    capped = for_model(PERSONA, size)
    assert (capped.temperature, capped.max_tokens) == (temperature, max_tokens)
    assert capped.user_text == PERSONA.user_text and capped.system_prompt == PERSONA.system_prompt


def test_caps_never_raise_what_was_asked() -> None:
    cool = GenerationRequest("t", "", "read this", temperature=0.1, max_tokens=40)
    assert for_model(cool, BUNDLED_BYTES) is cool
