"""Retention of memories: parse ``session | days:N | forever``, compute expiry, sweep.

The persona's ``memory.retention_days`` maps to a retention string with
:func:`retention_from_days`. Expiry counts from when the memory was first
stored (reinforcement does not extend it): a promise to keep things N days is
kept even for things said often. Reads filter expired rows themselves; the
sweep only tidies up (tombstones what expired, so it leaves FTS and faiss).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import peewee

from aether_qt.storage.sql import execute

SESSION = "session"
FOREVER = "forever"
SETTING_RETENTION = "memory.retention"  # the user's choice (wizard, settings); absent = forever
RETENTION_CHOICES = (FOREVER, "days:365", "days:90", "days:30", SESSION)  # what the UI offers
_DAYS = re.compile(r"^days:(?P<n>[1-9]\d{0,4})$")
DAY_MS = 86_400_000


@dataclass(frozen=True, slots=True)
class Retention:
    """A parsed retention rule.

    Attributes:
        kind: ``session``, ``days`` or ``forever``.
        days: the number of days for ``days``; 0 otherwise.
    """

    kind: str
    days: int = 0

    def __str__(self) -> str:
        return f"days:{self.days}" if self.kind == "days" else self.kind


def parse_retention(text: str) -> Retention:
    """Parse ``session``, ``days:N`` (1..99999) or ``forever``.

    Raises:
        ValueError: anything else.
    """
    if text in (SESSION, FOREVER):
        return Retention(text)
    match = _DAYS.match(text)
    if match is None:
        raise ValueError(f"retention must be 'session', 'days:N' or 'forever', not {text!r}")
    return Retention("days", int(match["n"]))


def expires_at(retention: Retention, created_at_ms: int) -> int | None:
    """Wall time at which an item expires; ``None`` for ``forever`` and ``session`` (its session ends it)."""
    if retention.kind == "days":
        return created_at_ms + retention.days * DAY_MS
    return None


def retention_from_days(days: int | None) -> str:
    """Map a persona's ``memory.retention_days`` to a retention string.

    ``None`` keeps memories forever, ``0`` only for the session, ``N`` for N days.

    Raises:
        ValueError: a negative number of days.
    """
    if days is None:
        return FOREVER
    if days < 0:
        raise ValueError(f"retention_days must be >= 0, not {days}")
    return SESSION if days == 0 else str(Retention("days", days))


# The SQL condition every read uses to hide expired rows, with ``?`` for now (ms) and the session id.
LIVE_CONDITION = (
    "m.tombstoned_at_ms IS NULL AND (m.expires_at_ms IS NULL OR m.expires_at_ms > ?) "
    "AND (m.retention != 'session' OR m.session_id = ?)"
)

# Forgotten but restorable: tombstoned, not yet purged, and still within its retention and session
# (``?`` for now and the session id), so an undone forget never brings back an expired memory.
RESTORABLE_CONDITION = (
    "m.tombstoned_at_ms IS NOT NULL AND m.purged = 0 AND (m.expires_at_ms IS NULL OR m.expires_at_ms > ?) "
    "AND (m.retention != 'session' OR m.session_id = ?)"
)


def sweep(db: peewee.SqliteDatabase, *, now_ms: int, session_id: str) -> list[int]:
    """Tombstone every live item whose retention has run out; return their seqs.

    Covers ``days:N`` items past ``expires_at_ms`` and ``session`` items of other
    (earlier) sessions. Tombstoning removes them from FTS at once (trigger); the
    purge of their text and vector follows the normal grace period.
    """
    rows = execute(
        db,
        "UPDATE memory_items SET tombstoned_at_ms = ? WHERE tombstoned_at_ms IS NULL AND ("
        "(expires_at_ms IS NOT NULL AND expires_at_ms <= ?) OR (retention = 'session' AND session_id != ?)) "
        "RETURNING seq",
        (now_ms, now_ms, session_id),
    ).fetchall()
    return [int(row[0]) for row in rows]


def end_session(db: peewee.SqliteDatabase, *, now_ms: int, session_id: str) -> list[int]:
    """Tombstone the ``session`` items of ``session_id`` (the session is over); return their seqs."""
    rows = execute(
        db,
        "UPDATE memory_items SET tombstoned_at_ms = ? "
        "WHERE tombstoned_at_ms IS NULL AND retention = 'session' AND session_id = ? RETURNING seq",
        (now_ms, session_id),
    ).fetchall()
    return [int(row[0]) for row in rows]


def describe_retention(text: str) -> str:
    """The words the wizard and the settings dialog show for a retention value.

    Raises:
        ValueError: not a retention string.
    """
    retention = parse_retention(text)
    if retention.kind == SESSION:
        return "Only for this session (nothing is kept after Aether closes)"
    if retention.kind == FOREVER:
        return "Until I ask Aether to forget it"
    return f"For {retention.days} days"


def stricter(a: str, b: str) -> str:
    """The shorter-lived of two retention strings (the user's setting and the persona's).

    A persona can only make Aether keep less than the user chose, never more.

    Raises:
        ValueError: either is not a retention string.
    """

    def rank(text: str) -> tuple[int, int]:
        parsed = parse_retention(text)
        if parsed.kind == SESSION:
            return (0, 0)
        if parsed.kind == "days":
            return (1, parsed.days)
        return (2, 0)

    return a if rank(a) <= rank(b) else b
