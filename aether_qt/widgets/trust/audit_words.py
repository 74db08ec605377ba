"""Each kind of audit row in words: what happened, the result, who asked (pure: no Qt).

The gate's own rows (``allow``, ``deny``, ``ask``, ``draft``, ``needs_upgrade``) carry a
capability and read as "Remember something" / "Allowed". Every other row the log
holds (a session start, a persona loaded, permissions ended by a cascade, a route, a
setting changed, a new epoch...) has no capability: :func:`row_words` gives it words
from its ``decision`` and ``detail`` instead, so no row of the table is blank. A row
of a kind this module does not know still reads "Aether noted an event".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Final

from aether_qt.policy.capabilities import CAPABILITIES, ResourceKind
from aether_qt.policy.contracts import AuditRow
from aether_qt.widgets.trust.plain_words import capability_words, refusal_words, who_words

Describe = Callable[[AuditRow, dict[str, Any]], str]
"""Words for one kind of row, from the row and its detail."""

GATE_DECISIONS: Final = frozenset({"allow", "deny", "ask", "draft", "needs_upgrade"})
"""The rows that are a gate decision on a request (the rest are events)."""

RESULTS: Final[Mapping[str, str]] = {
    "allow": "Allowed",
    "deny": "Refused",
    "ask": "Asked you",
    "draft": "Draft only",
    "needs_upgrade": "Not in this preset",
}
ANSWERED: Final[Mapping[str, str]] = {
    "allow": "You allowed",
    "deny": "You said no",
    "draft": "You chose a draft",
}
TONES: Final[Mapping[str, str]] = {
    "allow": "good",
    "deny": "bad",
    "ask": "warn",
    "draft": "info",
    "needs_upgrade": "bad",
}
CASCADES: Final[Mapping[str, str]] = {
    "session_start": "Ended the last session's temporary permissions",
    "persona_swap": "Ended the previous persona's temporary permissions",
    "preset_change": "Ended the permissions of the previous preset",
    "config_change": "Applied new settings to the permissions",
    "emergency": "Revoked every permission (emergency stop)",
}
USER_CHANGES: Final = frozenset({"setting_change", "pause", "grant_revoked", "data_restore", "audit_epoch"})
"""Events that are the user's own act (the rest Aether did on its own: a start, a persona loaded...)."""
USER_CASCADES: Final = frozenset({"preset_change", "emergency"})
SETTINGS: Final[Mapping[str, str]] = {
    "router.privacy": "what may leave this computer",
    "memory.retention": "how long Aether remembers",
    "keys.storage": "where the signing keys are kept",
}


@dataclass(frozen=True, slots=True)
class RowWords:
    """One audit row in words.

    Attributes:
        action: what happened ("Create a file: todo.txt", "Aether started").
        result: the decision in a word or two ("Allowed", "Refused", "Noted").
        tone: ``good``, ``bad``, ``warn``, ``info`` or ``plain`` (the colour of ``result``).
        who: who acted or asked ("You", "Aether").
    """

    action: str
    result: str
    tone: str
    who: str


def resource_words(capability: str, resource: str, *, full: bool = False) -> str:
    """The part of a resource a person recognises: a file's name (its path when ``full``), a site.

    Memory topics and other text resources are not shown (they may be redacted hashes).
    """
    cap = CAPABILITIES.get(capability)
    if cap is None or not resource:
        return ""
    if cap.resource_kind is ResourceKind.PATH:
        return resource if full else (PurePath(resource).name or resource)
    if cap.resource_kind is ResourceKind.URL:
        return resource if full else (resource.split("://", 1)[-1].split("/", 1)[0] or resource)
    return ""


def row_words(row: AuditRow) -> RowWords:
    """What ``row`` says, in words, whatever its kind."""
    who = who_words(row.actor)
    if row.decision in GATE_DECISIONS:
        return _decision_words(row, who)
    detail: dict[str, Any] = row.detail if isinstance(row.detail, dict) else {}
    event = _EVENTS.get(row.decision)
    action = event(row, detail) if event is not None else "Aether noted an event"
    yours = row.decision in USER_CHANGES or (row.decision == "cascade" and row.reason in USER_CASCADES)
    return RowWords(action, "Your change" if yours else "Noted", "plain", who)


def _decision_words(row: AuditRow, who: str) -> RowWords:
    action = capability_words(row.capability).action
    where = resource_words(row.capability, row.resource)
    if where:
        action = f"{action}: {where}"
    answered = isinstance(row.detail, dict) and row.detail.get("event") == "ticket_answered"
    if answered and row.decision in ANSWERED:
        result = ANSWERED[row.decision]
    elif row.decision == "deny" and row.reason == "user_denied":
        result = ANSWERED["deny"]
    else:
        result = RESULTS[row.decision]
    return RowWords(action, result, TONES[row.decision], who)


def why_words(row: AuditRow) -> str:
    """Why the gate decided so, as a sentence ("" when there is nothing to add)."""
    if row.decision == "deny":
        because = refusal_words(row.reason)
        return f"Refused because {because}." if because else "Refused."
    if row.decision == "ask":
        return "Aether asked for your OK before doing this."
    if row.decision == "draft":
        return "Aether only prepared a draft; nothing was changed."
    if row.decision == "needs_upgrade":
        return "Your permission preset does not allow this; a less cautious one would."
    return ""


def _session_start(_row: AuditRow, detail: dict[str, Any]) -> str:
    preset = detail.get("preset")
    words = f"Aether started with the {preset} preset" if preset else "Aether started"
    previous = detail.get("previous_session")
    if isinstance(previous, dict) and previous.get("closed") is False:
        words += " (the last session did not close cleanly)"
    return words


def _persona(row: AuditRow, _detail: dict[str, Any]) -> str:
    name = PurePath(row.resource).stem if row.resource else ""
    if not name or row.resource.startswith("built-in:"):
        return "Loaded the built-in safe persona"
    return f"Loaded the persona {name.replace('_', ' ').replace('-', ' ').title()}"


def _cascade(row: AuditRow, detail: dict[str, Any]) -> str:
    cause = str(detail.get("cause") or row.reason)
    words = CASCADES.get(cause, "Ended some permissions")
    ended = detail.get("grant_ids")
    count = len(ended) if isinstance(ended, list) else 0
    if cause == "emergency":
        return words
    return f"{words} ({count})" if count else f"{words} (none were active)"


def _route(_row: AuditRow, detail: dict[str, Any]) -> str:
    tier, _, provider = str(detail.get("route", "")).partition("/")
    if tier == "remote":
        return f"Answered with the online model {provider}" if provider else "Answered with an online model"
    if tier == "local":
        return "Answered on this computer"
    return "Chose how to answer"


def _setting(row: AuditRow, detail: dict[str, Any]) -> str:
    key = str(detail.get("key") or row.resource)
    return f"Changed a setting: {SETTINGS.get(key, 'a privacy setting')}"


def _pause(_row: AuditRow, detail: dict[str, Any]) -> str:
    return "Paused everything Aether does" if detail.get("paused") else "Resumed after a pause"


def _spent(row: AuditRow, _detail: dict[str, Any]) -> str:
    return f"Used a one-time permission: {capability_words(row.capability).action.lower()}"


def _fixed(words: str) -> Describe:
    return lambda _row, _detail: words


_EVENTS: Final[Mapping[str, Describe]] = {
    "session_start": _session_start,
    "persona_swap": _persona,
    "cascade": _cascade,
    "route": _route,
    "setting_change": _setting,
    "pause": _pause,
    "grant_spent": _spent,
    "grant_revoked": _fixed("You revoked a permission"),
    "audit_epoch": _fixed("Started a new log period after a problem was acknowledged"),
    "audit_resumed": _fixed("The log resumed after disk space was freed"),
    "data_restore": _fixed("Restored your data from a backup"),
}
