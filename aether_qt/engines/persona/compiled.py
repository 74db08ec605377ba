"""The compiled persona: one frozen part per layer, a UI summary and a content hash (DESIGN.md §10).

A persona *proposes*; the gate decides. :class:`PolicyPart` holds only
narrowing overrides: every widening attempt found by the compiler is clamped
and listed in :attr:`PolicyPart.clamps` (shown by ``aether persona check`` and
written to the audit log when the persona is activated).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aether_qt.policy.capabilities import Mode, Preset


@dataclass(frozen=True, slots=True)
class InteractionPart:
    """L1: phrase pools (ack, clarify, repair, progress) and style (each 0.0-1.0)."""

    phrases: Mapping[str, tuple[str, ...]]
    warmth: float
    formality: float
    verbosity: float
    humor: float


@dataclass(frozen=True, slots=True)
class MemoryPart:
    """L2: how long memories live (None = forever) and what the persona is told to remember."""

    retention_days: int | None
    remember: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VisualPart:
    """L3: the avatar's look. Colours are ``#rrggbb``; rates and motion are 0.0-1.0 or per minute."""

    palette: Mapping[str, str]  # primary, secondary, accent, background
    shape: str  # "round", "soft-square", "droplet"
    blink_rate: float  # blinks per minute, 10-20
    idle_motion: float  # 0.0 still .. 1.0 lively
    gaze_style: str  # "steady", "curious", "shy"


@dataclass(frozen=True, slots=True)
class VoicePart:
    """Speech out: an espeak-ng voice hint, rate (words/min), pitch (0-99) and volume (0.0-1.0)."""

    voice_hint: str
    rate: int
    pitch: int
    volume: float


@dataclass(frozen=True, slots=True)
class RouterPart:
    """L4: the system prompt and generation settings."""

    system_prompt: str
    preferred_tier: str  # "local", "remote", "reflex"
    temperature: float
    max_tokens: int
    privacy_posture: str  # "local_only", "ask", "allow_remote"


@dataclass(frozen=True, slots=True)
class Clamp:
    """One widening the compiler refused: what the file asked and what it got."""

    capability: str
    requested: Mode
    granted: Mode
    reason: str


@dataclass(frozen=True, slots=True)
class PolicyPart:
    """L5: the preset the persona proposes and its overrides, narrowing only."""

    preset: Preset
    overrides: Mapping[str, Mode]
    clamps: tuple[Clamp, ...] = ()


@dataclass(frozen=True, slots=True)
class PersonaSummary:
    """What the persona picker and banners show."""

    persona_id: str
    name: str
    tagline: str
    version: str
    author: str
    license: str
    source: str
    trusted: bool  # False for imported character cards


@dataclass(frozen=True, slots=True)
class CompiledPersona:
    """A persona ready for every layer; equal inputs give equal objects and equal hashes."""

    persona_id: str
    schema_version: int
    interaction: InteractionPart
    memory: MemoryPart
    visual: VisualPart
    voice: VoicePart
    router: RouterPart
    policy: PolicyPart
    summary: PersonaSummary
    content_hash: str  # sha256 of the canonical compiled form
    source_path: str = field(default="", compare=False)
