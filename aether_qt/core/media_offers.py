"""What the wizard's voice and model pages show and hand back: plain values.

They live in ``core`` because both ends use them: the pages (through the
ports of :mod:`aether_qt.widgets.onboarding.media_ports`) and the service that
fills them (:mod:`aether_qt.services.onboarding_media`), which may not import
the widgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """How a download ended: ``path`` when it is there and verified, else ``problem`` or ``cancelled``."""

    path: Path | None = None
    problem: str = ""
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class SpeechModelState:
    """The English speech model: installed already, or what a download would fetch.

    Attributes:
        installed: the model folder when an English model is already there.
        size_mb: roughly how big the download is.
        language: the language it recognises, in words.
        host: where the download comes from (the user consents to that site).
        note: a sentence about what else is there (the packaged Korean model, say).
    """

    installed: Path | None
    size_mb: int
    language: str
    host: str = ""
    note: str = ""


@dataclass(frozen=True, slots=True)
class CatalogueOffer:
    """One catalogue model as the page shows it."""

    name: str
    title: str
    size_bytes: int
    memory: str  # "fits", "tight", "too big"
    speed: str  # "fast", "usable", "slow"
    licence: str
    recommended: bool = False
    downloaded: Path | None = None  # already in the models folder (its hash is checked on use)


@dataclass(frozen=True, slots=True)
class RemoteDraft:
    """A remote endpoint as typed on the model page; the key stays in memory until Finish.

    ``key`` is never shown by ``repr`` (so never in a log line or a test's output).
    """

    name: str
    url: str
    model: str
    price_in: float | None = None
    price_out: float | None = None
    key: str = field(default="", repr=False)
