"""A verification report in plain words: what it means and what to do next (pure: no Qt).

:class:`~aether_qt.policy.audit_verify.VerifyReport` speaks to experts (``undecidable``,
``unanchored``, ``seq 12``); :func:`explain` turns each outcome into a headline, one
sentence on what it means and one on what to do, for the Audit tab and the trust
centre's summary. The raw status and reason stay available behind "Expert details".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from aether_qt.policy.audit_verify import VerifyReport

ACKNOWLEDGE: Final = "aether audit acknowledge"


@dataclass(frozen=True, slots=True)
class VerifyWords:
    """A verification outcome for a person.

    Attributes:
        headline: a few words ("The log is intact and signed").
        meaning: what the outcome means, one sentence.
        next_step: what to do, one sentence ("" when nothing is needed).
        tone: ``good``, ``bad`` or ``warn``.
        short: the clause of the summary line ("the log is intact and signed").
    """

    headline: str
    meaning: str
    next_step: str
    tone: str
    short: str


_ACK_STEP = (
    f"Quit Aether, then run `{ACKNOWLEDGE}` in a terminal: it records what happened and seals the "
    "log again from then on."
)
_RESTORE = (
    f"If you have a backup from before, restore it (Backup tab); otherwise run `{ACKNOWLEDGE}` in a "
    "terminal to record what was lost and start a new, signed log period."
)
_CUT = (
    "Entries at the end of the log are missing: the log was cut short or replaced by an older copy, "
    "so some of what Aether did is no longer recorded."
)
_TAMPERED: Final[Mapping[str, str]] = {
    "truncated": _CUT,
    "rollback": _CUT,
    "missing": "The log file is gone although Aether had recorded entries in it.",
    "replaced": "The log was replaced by a different one.",
    "anchor_invalid": "The log's seal, kept outside the log, was changed or comes from another computer.",
}
_CHANGED = "An entry of the log was changed or removed after it was written."
_UNDECIDABLE: Final[Mapping[str, tuple[str, str]]] = {
    "unanchored": (
        "The entries check out, but the log has no seal kept outside it yet, so Aether cannot tell "
        "whether entries at the end were cut off.",
        _ACK_STEP,
    ),
    "unvouched_tail": (
        "The newest entries were written after the last seal, by a session that did not close normally.",
        _ACK_STEP,
    ),
    "unclosed_session": (
        "Aether did not close normally last time, so a few of its last entries may be missing.",
        _ACK_STEP,
    ),
    "key_mismatch": (
        "The signing key on this computer is not the one that signed this log.",
        "If you restored keys or data from another computer, restore the matching pair; otherwise run "
        f"`{ACKNOWLEDGE}` in a terminal.",
    ),
}
_NO_KEYS = (
    "The log's signing keys are not available, so its seals cannot be checked.",
    "Unlock your keyring (or let Aether keep its keys in a file) and verify again.",
)


def explain(report: VerifyReport) -> VerifyWords:
    """``report`` for a person: headline, meaning, next step."""
    if report.status == "intact" and report.anchored:
        newest = "Every entry checks out and the newest ones are sealed."
        return VerifyWords(
            "The log is intact and signed",
            f"{newest} Nobody changed, removed or added entries behind Aether's back.",
            "",
            "good",
            "the log is intact and signed",
        )
    if report.status == "tampered":
        meaning = _TAMPERED.get(report.reason or "", _CHANGED)
        return VerifyWords(
            "The log was changed",
            meaning,
            _RESTORE,
            "bad",
            "the log was changed: open Audit to see what to do",
        )
    meaning, step = _UNDECIDABLE.get(report.reason or "", _NO_KEYS)
    return VerifyWords(
        "The log cannot be fully checked", meaning, step, "warn", "the log cannot be fully checked yet"
    )


def failed_words() -> VerifyWords:
    """Verification could not run at all (the details are in the log file)."""
    return VerifyWords(
        "The log could not be checked",
        "Aether could not read its decision log to check it.",
        "Try again; if it keeps failing, run `aether doctor` in a terminal.",
        "warn",
        "the log could not be checked",
    )
