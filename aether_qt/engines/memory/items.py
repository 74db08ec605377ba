"""The vocabulary of L2 memory (DESIGN.md §6): items, provenance, confidence, the embedder protocol.

Plain frozen dataclasses and small pure functions; no SQLite, no numpy, so the
rest of the app can import these types cheaply.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from aether_qt.core.errors import ExplainedError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    FloatMatrix = npt.NDArray[np.float32]


class Kind(StrEnum):
    """What a memory is about."""

    EPISODE = "episode"
    FACT = "fact"
    PREFERENCE = "preference"
    NOTE = "note"


class PrivacyClass(StrEnum):
    """How carefully a memory must be handled (DESIGN.md §5 privacy posture)."""

    PUBLIC = "public"
    PRIVATE = "private"
    SENSITIVE = "sensitive"


_PRIVACY_ORDER = {PrivacyClass.PUBLIC: 0, PrivacyClass.PRIVATE: 1, PrivacyClass.SENSITIVE: 2}

USER_SAID = "user_said"
USER_CONFIRMED = "user_confirmed"
ASSISTANT_SAID = "assistant_said"
IMPORTED = "imported"
_SOURCES = (USER_SAID, USER_CONFIRMED, ASSISTANT_SAID, IMPORTED)


class TextEmbedder(Protocol):
    """What memory needs of an embedder (``engines/memory/embedder.py`` provides the real one)."""

    @property
    def dim(self) -> int:
        """Length of each vector."""
        ...

    @property
    def model_id(self) -> str:
        """Identifies the model; vectors of different models are never mixed."""
        ...

    def embed(self, texts: Sequence[str], *, batch_size: int = 32) -> FloatMatrix:
        """Return an ``(len(texts), dim)`` float32 matrix of L2-normalised rows."""
        ...


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a memory came from.

    Attributes:
        source: ``user_said``, ``user_confirmed``, ``assistant_said``, ``file:<path>`` or ``imported``.
        turn_id: the conversation turn that produced it ('' when none).
        audit_id: the audit row of the gated write ('' when none).
        captured_at_ms: wall time the memory was captured.
        trust: trust tag (``trusted``, ``untrusted``, ``user_confirmed``...).
    """

    source: str
    turn_id: str = ""
    audit_id: str = ""
    captured_at_ms: int = 0
    trust: str = "untrusted"


@dataclass(frozen=True, slots=True)
class MemoryDraft:
    """A memory to be written.

    Attributes:
        text: what to remember (shown to the user and the model).
        kind: episode, fact, preference or note.
        privacy: privacy class.
        provenance: where it came from; ``captured_at_ms`` 0 means "now".
        retention: ``session``, ``days:N`` or ``forever``.
        salience: 0..1, how much it matters (ranking weight).
        tags: extra searchable words (speaker, date, captions), indexed but not shown.
    """

    text: str
    kind: Kind = Kind.NOTE
    privacy: PrivacyClass = PrivacyClass.PRIVATE
    provenance: Provenance = Provenance(source=USER_SAID)
    retention: str = "forever"
    salience: float = 0.5
    tags: str = ""


@dataclass(frozen=True, slots=True)
class MemoryItem:
    """One stored memory as the rest of the app sees it (never tombstoned or expired)."""

    id: str
    seq: int
    kind: Kind
    text: str
    privacy: PrivacyClass
    provenance: Provenance
    confidence: float
    salience: float
    created_at_ms: int
    last_used_at_ms: int
    retention: str
    expires_at_ms: int | None
    seen_count: int
    contradicts: str | None
    tags: str = ""
    used_in_reply_at_ms: int | None = None
    """When the memory last went into a reply's prompt (wall ms); None: never used yet."""


class MemoryStoreError(ExplainedError):
    """Base class of memory errors the user can be told about."""


class MemoryUnavailableError(MemoryStoreError):
    """Memory cannot be used (the store is not started); the message is for the user."""


class UnknownMemoryError(MemoryStoreError, KeyError):
    """No live memory has this id (never stored, forgotten or expired)."""


class MemoryImportError(MemoryStoreError):
    """An import file holds a malformed entry; nothing was written.

    Attributes:
        index: position of the bad entry in the file.
        item_id: its ``id`` field when it had one.
        reason: what is wrong.
    """

    def __init__(self, index: int, item_id: str, reason: str) -> None:
        self.index = index
        self.item_id = item_id
        self.reason = reason
        label = "the file" if index < 0 else f"entry {index}" + (f" (id {item_id})" if item_id else "")
        super().__init__(f"memory import rejected: {label}: {reason}")


def stricter_privacy(a: PrivacyClass, b: PrivacyClass) -> PrivacyClass:
    """The more protective of two privacy classes (a reinforced memory never becomes less private)."""
    return a if _PRIVACY_ORDER[a] >= _PRIVACY_ORDER[b] else b


def is_valid_source(source: str) -> bool:
    """Whether ``source`` is one of DESIGN.md §6's provenance sources."""
    return source in _SOURCES or (source.startswith("file:") and len(source) > len("file:"))


def confidence_for(source: str, seen_count: int) -> float:
    """DESIGN.md §6 confidence rule.

    0.95 user-confirmed; 0.8 seen three or more times; 0.3 inferred (said by the
    assistant, not the user) until seen three times; otherwise 0.45 (seen once).
    """
    if source == USER_CONFIRMED:
        return 0.95
    if seen_count >= 3:
        return 0.8
    if source == ASSISTANT_SAID:
        return 0.3
    return 0.45


_CLAIM_PATTERNS = (
    # "my sister's name is Mira", "our wifi password is ...", "my favourite colour is blue"
    re.compile(r"^(?:my|our)\s+(?P<key>[\w' -]{1,60}?)\s+(?:is|are|was|=)\s+(?P<value>.+)$"),
    # "I live in Berlin", "I work at Acme", "I am 34 years old"
    re.compile(r"^i\s+(?P<key>live in|work at|work for|am allergic to|was born in)\s+(?P<value>.+)$"),
    re.compile(r"^(?:i am|i'm)\s+(?P<value>\d+)\s+(?P<key>years old)$"),
)
_SPACES = re.compile(r"\s+")


def claim_of(text: str) -> tuple[str, str] | None:
    """A normalised ``(subject key, value)`` for simple first-person claims, else ``None``.

    A cheap rule for contradiction detection: "my X is Y" and "my X is Z" share
    the key ``X`` with different values. Possessive ``'s`` and case are folded.
    """
    cleaned = _SPACES.sub(" ", text.strip().lower().replace("\u2019", "'")).rstrip(".!? ")
    for pattern in _CLAIM_PATTERNS:
        match = pattern.match(cleaned)
        if match is not None:
            key = match["key"].replace("'s ", " ").replace("'s", "").strip()
            value = match["value"].strip(" \"'")
            if key and value:
                return key, value
    return None


@dataclass(frozen=True, slots=True)
class MemoryOutcome:
    """What a gated memory operation did.

    Attributes:
        ok: the change was made.
        summary: one sentence for the transcript or the command line.
        decision: ``allow``, ``ask``, ``draft``, ``deny`` or ``needs_upgrade``.
        audit_id: the audit row of the gate's decision.
        items: the items written, changed or forgotten.
        ticket_id: the approval ticket when the decision was ``ask`` from a conversation.
    """

    ok: bool
    summary: str
    decision: str
    audit_id: str
    items: tuple[MemoryItem, ...] = ()
    ticket_id: str = ""
