"""Interfaces between the parts of the policy layer.

The gate writes :class:`AuditEntry` values to an :class:`AuditSink` (the audit
chain) and effectors ask a :class:`PermitVerifier` (the gate) whether a permit
is genuine. Time comes from a :class:`Clock` so every TTL and deadline can be
tested on a fake clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from aether_qt.core.errors import ExplainedError
from aether_qt.policy.decisions import Permit


class PolicyError(ExplainedError):
    """Base of every error raised by the policy layer. Never carries a secret."""


class AuditWriteError(PolicyError):
    """The audit row could not be committed; the gate must deny and go deny-all."""


class PermitError(PolicyError):
    """A permit is forged, mismatched, spent or from another process."""


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What the gate (or the app) asks the audit chain to record.

    ``detail`` carries structured facts needed to rebuild state by replay
    (a grant's id, pattern, duration and TTL; a revocation; a preset change).
    It must never contain a secret.
    """

    actor: str
    capability: str
    resource: str
    decision: str  # allow | ask | draft | deny | needs_upgrade | grant_issued | grant_revoked | ...
    reason: str = ""
    change_id: str = ""
    turn_id: str = ""
    stage_trace: tuple[dict[str, str], ...] = ()
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One committed, sealed row of the audit chain."""

    seq: int
    audit_id: str
    ts_wall_ms: int
    ts_mono_ns: int
    actor: str
    capability: str
    resource: str
    decision: str
    reason: str
    change_id: str
    turn_id: str
    stage_trace: tuple[dict[str, str], ...]
    detail: dict[str, Any]
    key_id: str
    prev_hash: str
    event_hash: str
    record_hmac: str
    signature: str


@runtime_checkable
class AuditSink(Protocol):
    """Append-only, durable record of decisions."""

    @property
    def healthy(self) -> bool:
        """False once a write failed or the chain is known broken."""
        ...

    def append(self, entry: AuditEntry, *, anchor: bool = False) -> AuditRow:
        """Seal and commit one row; return it only after it is durable.

        ``anchor``: the row is an Allow the caller is about to act on, so the
        external anchor moves to it (no silent tail loss).

        Raises:
            AuditWriteError: the row was not committed.
        """
        ...


class PermitVerifier(Protocol):
    """What effectors need from the gate."""

    def redeem(
        self,
        permit: Permit,
        capability: str,
        resource: str,
        *,
        target: str | None = None,
        persona: str | None = None,
    ) -> None:
        """Accept ``permit`` for this act or raise :class:`PermitError`; spend ``once`` permits.

        ``target`` (a path, "" for none) and ``persona`` are checked against the
        permit when given; None leaves them unchecked.
        """
        ...

    def grant_live(self, grant_id: str) -> bool:
        """Whether an act that lasts (a capture) may go on under this grant: not revoked, not expired."""
        ...


class Clock(Protocol):
    """Monotonic and wall time, injectable."""

    def monotonic_ns(self) -> int:
        """Nanoseconds on a clock that never goes back."""
        ...

    def wall_ms(self) -> int:
        """Milliseconds since the Unix epoch."""
        ...


class SystemClock:
    """The real clock."""

    def monotonic_ns(self) -> int:
        """See :meth:`Clock.monotonic_ns`."""
        return time.monotonic_ns()

    def wall_ms(self) -> int:
        """See :meth:`Clock.wall_ms`."""
        return time.time_ns() // 1_000_000


class FakeClock:
    """A clock for tests that moves only when told to."""

    def __init__(self, *, mono_ns: int = 1_000_000_000, wall_ms: int = 1_700_000_000_000) -> None:
        self._mono_ns = mono_ns
        self._wall_ms = wall_ms

    def monotonic_ns(self) -> int:
        """See :meth:`Clock.monotonic_ns`."""
        return self._mono_ns

    def wall_ms(self) -> int:
        """See :meth:`Clock.wall_ms`."""
        return self._wall_ms

    def advance(self, seconds: float) -> None:
        """Move both clocks forward by ``seconds``."""
        self._mono_ns += int(seconds * 1_000_000_000)
        self._wall_ms += int(seconds * 1000)
