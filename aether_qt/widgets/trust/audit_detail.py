"""One audit row in full, for the Audit tab's detail pane (pure: builds rich text, no Qt).

What happened and the result, why, when, who asked, the permission used, whether the
row is covered by the newest verification, and the gate's steps in words. With
"Expert details" the raw fields (capability id, deny code, turn id, the row's JSON
detail and hashes) follow.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from aether_qt.policy.audit_verify import VerifyReport
from aether_qt.policy.contracts import AuditRow
from aether_qt.policy.decisions import Grant
from aether_qt.policy.grant_state import grant_from_facts
from aether_qt.widgets.trust.audit_words import RowWords, why_words
from aether_qt.widgets.trust.grant_list import given_words
from aether_qt.widgets.trust.verify_words import explain

STAGES: Final[Mapping[str, str]] = {
    "pre.paused": "Is Aether paused",
    "pre.audit": "Can the decision be recorded",
    "pre.ledger": "Can the permissions be read",
    "pre.keys": "Are the signing keys there",
    "pre.hardcoded": "Is it something never allowed",
    "pre.privacy": "Does your privacy setting allow it",
    "pre.provenance": "Did the request come from trusted text",
    "pre.cost": "Is it within your spending limit",
    "1.feature": "Does your preset allow it at all",
    "2.action": "Is the request complete",
    "2.target": "Which file exactly",
    "3.resource": "Is the place allowed",
    "4.mode": "How your preset handles it",
    "5.grant": "Is there a permission for it",
    "approval": "Your answer",
    "audit": "Recording the decision",
}
OUTCOMES: Final[Mapping[str, str]] = {
    "pass": "yes",
    "allow": "allowed",
    "ask": "needs your OK",
    "deny": "refused",
    "draft": "draft only",
    "needs_upgrade": "not in this preset",
}


@dataclass(frozen=True, slots=True)
class DetailFacts:
    """What the pane shows besides the row itself.

    Attributes:
        words: the row in words.
        permission: the permission the decision used, in words ("" when none).
        report: the newest verification (None before the first).
        expert: show the raw fields too.
    """

    words: RowWords
    permission: str
    report: VerifyReport | None
    expert: bool


def full_time(wall_ms: int) -> str:
    """A local date and time as "Monday 7 December 2026 at 14:02:10"."""
    moment = time.localtime(wall_ms / 1000)
    day = time.strftime("%A", moment)
    return f"{day} {moment.tm_mday} {time.strftime('%B %Y', moment)} at {time.strftime('%H:%M:%S', moment)}"


def permission_words(row: AuditRow, grant: Grant | None, *, preset: str) -> str:
    """The permission an allowed row used, in words ("" for other rows).

    ``grant`` is the grant the row names, when it is still active; a grant issued by this
    very row is read from the row itself.
    """
    if row.decision != "allow":
        return ""
    facts = row.detail.get("grant_issued") if isinstance(row.detail, dict) else None
    if isinstance(facts, dict):
        try:
            grant = grant_from_facts(facts, audit_ref=row.audit_id)
        except (KeyError, TypeError, ValueError):
            grant = None
    if grant is None:
        return "A permission that has ended since."
    return given_words(grant, preset=str(row.detail.get("preset") or preset))[1]


def signature_words(seq: int, report: VerifyReport | None) -> str:
    """Whether the newest verification covers row ``seq``, in words."""
    if report is None:
        return "Sealed in the log; not checked yet (Verify checks it)."
    if seq > report.rows_checked:
        return "Sealed in the log; written after the last check (it is checked again soon)."
    return f"{explain(report).headline} (checked with the rest of the log)."


def steps_words(row: AuditRow) -> list[str]:
    """The gate's steps for this row in words; the detail (a path, a mode) is left out."""
    lines = []
    for step in row.stage_trace:
        stage = str(step.get("stage", ""))
        outcome = str(step.get("outcome", ""))
        question = STAGES.get(stage, "Another check")
        lines.append(f"{question}: {OUTCOMES.get(outcome, 'checked')}")
    return lines


def _line(label: str, value: str) -> str:
    return f"<p><b>{html.escape(label)}:</b> {html.escape(value)}</p>"


def detail_html(row: AuditRow, facts: DetailFacts) -> str:
    """The pane's rich text for ``row``."""
    words = facts.words
    parts = [f"<h3>{html.escape(words.action)}</h3>", _line("Result", words.result)]
    why = why_words(row)
    if why:
        parts.append(f"<p>{html.escape(why)}</p>")
    parts += [_line("When", full_time(row.ts_wall_ms)), _line("Who asked", words.who)]
    if facts.permission:
        parts.append(_line("Permission used", facts.permission))
    parts.append(_line("Signature", signature_words(row.seq, facts.report)))
    steps = steps_words(row)
    if steps:
        items = "".join(f"<li>{html.escape(s)}</li>" for s in steps)
        parts.append(f"<p><b>Steps:</b></p><ol>{items}</ol>")
    if facts.expert:
        parts.append(_expert(row))
    return "".join(parts)


def _expert(row: AuditRow) -> str:
    raw = {
        "seq": str(row.seq),
        "audit id": row.audit_id,
        "actor": row.actor,
        "capability": row.capability,
        "resource": row.resource,
        "decision": row.decision,
        "reason": row.reason,
        "turn": row.turn_id,
        "change": row.change_id,
        "event hash": row.event_hash,
    }
    lines = "".join(_line(k, v) for k, v in raw.items() if v)
    trace = "; ".join(
        f"{s.get('stage', '')}={s.get('outcome', '')} {s.get('detail', '')}".strip() for s in row.stage_trace
    )
    detail = json.dumps(row.detail, sort_keys=True, ensure_ascii=False)
    return (
        "<hr><p><b>Expert details</b></p>"
        + lines
        + _line("stage trace", trace)
        + f"<pre>{html.escape(detail)}</pre>"
    )
