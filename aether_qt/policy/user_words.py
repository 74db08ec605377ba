"""Plain words for the user instead of internal codes, and a check that finds codes in a text.

The gate, the turn engine and the storage speak in codes: deny reasons
(``audit_unavailable``), notices (``memory_miss``), capability ids
(``files.create``), turn and ticket ids, exception names. None of these is for a
person. :func:`sentence_for` maps a code to one sentence saying what happened
and what the user can do; :func:`explain_error` says what kind of problem an
exception (or its text) is, and where, never its class name or raw message;
:func:`user_notice` is what a surface calls on any line it is about to show.
:func:`leaks` finds what must never reach the window; the GUI tests use it on
every visible text.

Pure logic: no Qt, no I/O (it lives in ``policy`` because the deny codes and the
capability list it knows live here, and every layer above may use it).
"""

from __future__ import annotations

import re
from typing import Final

from aether_qt.policy.capabilities import CAPABILITIES
from aether_qt.policy.decisions import DenyReason

MEMORY_MISS: Final = "memory_miss"
"""The turn's notice when memory recall did not answer in time."""

SENTENCES: Final[dict[str, str]] = {
    DenyReason.AUDIT_UNAVAILABLE: (
        "I didn't do that: Aether's safety record can't be written right now, so every action waits. "
        "The red banner at the top says what to do."
    ),
    DenyReason.LEDGER_CORRUPT: (
        "I didn't do that: Aether's permission records are damaged. The banner at the top says what to do."
    ),
    DenyReason.PAUSED: (
        "I didn't do that because actions are paused. Resume them from the banner or the tray menu."
    ),
    DenyReason.UNKNOWN_CAPABILITY: "I don't know how to do that kind of thing, so I didn't try.",
    DenyReason.OUTSIDE_APPROVED_ROOTS: (
        "That place is outside the folders you approved for Aether, so I didn't touch it. "
        "Pick a place inside an approved folder, or add the folder in the trust centre."
    ),
    DenyReason.CREDENTIAL_STORE: "That is where passwords and keys are kept, so I never touch it.",
    DenyReason.SHELL_IN_CONSUMER_PRESET: (
        "Running commands is off in your safety preset, so I didn't. "
        "You can change the preset in the settings."
    ),
    DenyReason.SILENT_UPLOAD: "That would send your data off this computer without asking you, so I didn't.",
    DenyReason.PRIVACY_POSTURE: (
        "Your privacy setting keeps this on this computer, so I didn't send it out. "
        "You can change it in the settings."
    ),
    DenyReason.PROVENANCE_TAINT: (
        "I didn't do that: the request came from text I had read, not from you. "
        "Ask me in your own words if you want it."
    ),
    DenyReason.COST_CAP: (
        "The spending limit you set is reached, so I didn't use the paid model. "
        "You can raise the limit in the trust centre's Costs tab."
    ),
    DenyReason.KEYS_UNAVAILABLE: (
        "I didn't do that: Aether's signing keys are not available. "
        "The banner at the top says how to set them up."
    ),
    DenyReason.NOT_IN_SCOPE: (
        "Your permissions don't cover that, so I didn't do it. You can allow it in the trust centre."
    ),
    DenyReason.RESOURCE_OUT_OF_SCOPE: (
        "That is outside what you allowed, so I didn't do it. You can allow it in the trust centre."
    ),
    DenyReason.POLICY_DENY: "Your safety settings don't allow that, so I didn't do it.",
    DenyReason.HARD_BLOCK: "That is never allowed, whatever the settings, so I didn't do it.",
    DenyReason.GRANT_EXPIRED: "Your permission for this has expired. Ask again and I'll ask for your OK.",
    DenyReason.GRANT_REVOKED: "You took back the permission for this, so I didn't do it.",
    DenyReason.USER_DENIED: "You said no, so I didn't do it.",
    "needs_upgrade": (
        "Your safety preset doesn't allow that. You can choose another preset in the settings."
    ),
    MEMORY_MISS: "I couldn't look through my memories in time, so this answer doesn't use them.",
}
"""Code -> one sentence: what happened and what the user can do."""

_WHERE: Final = "Aether's data"

# (kind, pattern over the exception's class name and message, sentence with {where})
_KINDS: Final[tuple[tuple[str, re.Pattern[str], str], ...]] = (
    (
        "disk",
        re.compile(r"no space left|disk (is )?full|ENOSPC|quota exceeded", re.I),
        "There is no free space left for {where}. Free some space on the disk, then try again.",
    ),
    (
        "busy",
        re.compile(r"database is locked|database table is locked|EBUSY|resource busy", re.I),
        "{where} is in use by another program. Wait a moment, then try again.",
    ),
    (
        "corrupt",
        re.compile(
            r"malformed|not a database|corrupt|IntegrityError|constraint failed|DatabaseError"
            r"|file is encrypted",
            re.I,
        ),
        "{where} is damaged or out of step, so nothing more is written there until it is checked. "
        "Use Verify in the trust centre.",
    ),
    (
        "permission",
        re.compile(
            r"permission denied|PermissionError|EACCES|EPERM|read-only file system|not permitted", re.I
        ),
        "Aether is not allowed to write to {where}. "
        "Check that the folder is yours and writable, then try again.",
    ),
    (
        "missing",
        re.compile(r"no such file|FileNotFoundError|ENOENT|NotADirectoryError|IsADirectoryError", re.I),
        "{where} or a folder it needs does not exist. Check the place, then try again.",
    ),
)
_OTHER: Final = (
    "Something went wrong with {where}. Try again; if it keeps happening, the log has the details."
)
_RAW: Final = re.compile(
    r"\[Errno \d+\]|No such file or directory|Permission denied|No space left on device|database is locked"
    r"|disk image is malformed|Read-only file system|constraint failed|not a database"
)
"""Words of a raw OS or database error that made it into a text."""

_TURN_OR_TICKET: Final = re.compile(r"\b(?:turn|tkt|req|chg|grt|pmt|lse|task)_[0-9a-zA-Z]{4,}\b")
_EXCEPTION: Final = re.compile(r"\b[A-Z][A-Za-z0-9]*(?:Error|Exception)\b|\bTraceback\b")
_CAPABILITY: Final = re.compile(
    r"(?<![\w.])(?:"
    + "|".join(re.escape(c) for c in sorted(CAPABILITIES, key=len, reverse=True))
    + r")(?![\w])"
)
# codes that are plain English words ("paused") are not leaks in a sentence
_CODES: Final = tuple(c for c in (*(r.value for r in DenyReason), MEMORY_MISS, "needs_upgrade") if "_" in c)
_CODE: Final = re.compile(r"(?<![\w.])(?:" + "|".join(re.escape(c) for c in _CODES) + r")(?![\w])")


def sentence_for(code: str) -> str | None:
    """The sentence for a deny code or turn notice code; None when ``code`` is not one."""
    return SENTENCES.get(code.strip())


def error_kind(error: BaseException | str) -> str:
    """The kind of ``error`` (an exception or its text).

    One of ``disk``, ``busy``, ``corrupt``, ``permission``, ``missing`` or ``other``.
    """
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else error
    if isinstance(error, OSError) and error.errno is not None:
        text += f" errno{error.errno}"
        if isinstance(error, FileNotFoundError | NotADirectoryError):
            return "missing"
        if isinstance(error, PermissionError):
            return "permission"
    for kind, pattern, _ in _KINDS:
        if pattern.search(text):
            return kind
    return "other"


def explain_error(error: BaseException | str, *, where: str = _WHERE) -> str:
    """One sentence for the user about ``error``: its kind and ``where``, never its class name or message.

    Args:
        error: the exception, or a text made from one (``"IntegrityError: UNIQUE constraint failed"``).
        where: what it happened to, as a noun phrase ("the safety record", "your notes folder").
    """
    kind = error_kind(error)
    template = next((sentence for name, _, sentence in _KINDS if name == kind), _OTHER)
    text = template.format(where=where)
    return text[0].upper() + text[1:]


def user_notice(text: str, *, fallback: str = "", where: str = _WHERE) -> str:
    """What a surface shows for ``text``: a code becomes its sentence, an error text its kind's sentence.

    Text that is already plain words is returned as it is. Text that still names
    codes, ids or exceptions (:func:`leaks`), or the words of a raw OS or database
    error, is replaced by the sentence for its kind of error about ``where`` (or by
    ``fallback`` when the kind is unknown).
    """
    stripped = text.strip()
    if not stripped:
        return ""
    known = sentence_for(stripped)
    if known is not None:
        return known
    if not leaks(stripped) and not _RAW.search(stripped):
        return stripped
    if fallback and error_kind(stripped) == "other":
        return fallback
    return explain_error(stripped, where=where)


def leaks(text: str) -> list[str]:
    """Internal codes found in ``text``: capability ids, deny codes, turn/ticket ids, exception names.

    Returns the matches in order (empty when the text is fit for a person).
    """
    found: list[tuple[int, str]] = []
    for pattern in (_CAPABILITY, _CODE, _TURN_OR_TICKET, _EXCEPTION):
        found.extend((m.start(), m.group(0)) for m in pattern.finditer(text))
    return [match for _, match in sorted(found)]


__all__ = ["MEMORY_MISS", "SENTENCES", "error_kind", "explain_error", "leaks", "sentence_for", "user_notice"]
