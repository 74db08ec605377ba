"""The trust centre's words: every capability, row kind, verification outcome and grant in plain words."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from aether_qt.policy.audit_verify import REASONS, VerifyReport
from aether_qt.policy.capabilities import CAPABILITIES
from aether_qt.policy.contracts import AuditRow
from aether_qt.policy.decisions import DenyReason, Duration, Grant
from aether_qt.widgets.trust.audit_summary import DayTally, summary_line
from aether_qt.widgets.trust.audit_words import row_words, why_words
from aether_qt.widgets.trust.grant_list import grant_entries, scope_words
from aether_qt.widgets.trust.plain_words import CAPABILITY_WORDS, REFUSAL_WORDS, capability_words
from aether_qt.widgets.trust.verify_words import explain

CODE = re.compile(r"\b[a-z]+[._][a-z_.]+\b")  # memory.write.durable, outside_approved_roots, ...


def row(
    decision: str,
    *,
    capability: str = "",
    resource: str = "",
    reason: str = "",
    actor: str = "aether",
    detail: dict[str, object] | None = None,
    seq: int = 1,
) -> AuditRow:
    return AuditRow(
        seq,
        f"aud_{seq}",
        1_765_000_000_000,
        0,
        actor,
        capability,
        resource,
        decision,
        reason,
        "",
        "",
        (),
        detail or {},
        "k",
        "",
        "",
        "",
        "",
    )


def no_code(text: str) -> bool:
    return not CODE.search(text.replace("todo.txt", "").replace("example.org", ""))


def test_every_capability_has_words_without_its_id() -> None:
    assert set(CAPABILITIES) <= set(CAPABILITY_WORDS)
    for cap_id in CAPABILITIES:
        words = capability_words(cap_id)
        assert words.action and words.lets and cap_id not in f"{words.action} {words.lets}"
        assert no_code(words.action) and no_code(words.lets)


def test_every_refusal_reason_has_words() -> None:
    assert {r.value for r in DenyReason} <= set(REFUSAL_WORDS)


@pytest.mark.parametrize(
    ("decision", "extra", "expected"),
    [
        (
            "session_start",
            {"detail": {"event": "session_start", "preset": "Assistant"}, "actor": "system"},
            "Aether started with the Assistant preset",
        ),
        (
            "persona_swap",
            {"resource": "/x/personas/aether.yaml", "actor": "user"},
            "Loaded the persona Aether",
        ),
        (
            "persona_swap",
            {"resource": "built-in:minimum-trust", "actor": "user"},
            "Loaded the built-in safe persona",
        ),
        (
            "cascade",
            {"reason": "persona_swap", "detail": {"cause": "persona_swap", "grant_ids": ["g1", "g2"]}},
            "Ended the previous persona's temporary permissions (2)",
        ),
        (
            "cascade",
            {"reason": "config_change", "detail": {"cause": "config_change", "grant_ids": []}},
            "Applied new settings to the permissions (none were active)",
        ),
        (
            "route",
            {"capability": "router.route", "detail": {"route": "remote/openai"}},
            "Answered with the online model openai",
        ),
        (
            "setting_change",
            {"resource": "router.privacy", "detail": {"key": "router.privacy"}},
            "Changed a setting: what may leave this computer",
        ),
        ("pause", {"detail": {"paused": True}}, "Paused everything Aether does"),
        ("grant_revoked", {}, "You revoked a permission"),
        ("grant_spent", {"capability": "files.create"}, "Used a one-time permission: create a file"),
        ("audit_epoch", {}, "Started a new log period after a problem was acknowledged"),
        ("audit_resumed", {}, "The log resumed after disk space was freed"),
        ("data_restore", {"capability": "data.restore"}, "Restored your data from a backup"),
        ("something_new", {}, "Aether noted an event"),
    ],
)
def test_every_row_kind_reads_as_words(decision: str, extra: dict[str, object], expected: str) -> None:
    words = row_words(row(decision, **extra))  # type: ignore[arg-type]
    assert words.action == expected
    yours = decision in ("setting_change", "pause", "grant_revoked", "audit_epoch", "data_restore")
    assert words.result == ("Your change" if yours else "Noted")
    assert no_code(words.action)


def test_gate_decisions_read_as_action_and_result() -> None:
    allow = row_words(row("allow", capability="files.create", resource="/home/ann/Documents/todo.txt"))
    assert (allow.action, allow.result, allow.tone) == ("Create a file: todo.txt", "Allowed", "good")
    denied = row("deny", capability="files.create", resource="/etc/passwd", reason="outside_approved_roots")
    assert row_words(denied).result == "Refused"
    assert why_words(denied) == "Refused because it was outside the folders you approved."
    answered = row("allow", capability="files.create", detail={"event": "ticket_answered"})
    assert row_words(answered).result == "You allowed"
    assert row_words(row("deny", capability="files.edit", reason="user_denied")).result == "You said no"
    assert row_words(row("ask", capability="net.fetch", resource="https://example.org/a")).action == (
        "Fetch a web page: example.org"
    )
    remembered = row_words(row("allow", capability="memory.write.durable", resource="memory:9f2c"))
    assert remembered.action == "Remember something"  # a memory topic (maybe a hash) is not shown


def report(status: str, reason: str | None, anchored: bool = False) -> VerifyReport:
    return VerifyReport(status, anchored, None, reason, 24, "expert message")


@pytest.mark.parametrize("reason", [r for r in REASONS] + [None])
@pytest.mark.parametrize("status", ["tampered", "undecidable"])
def test_every_verification_outcome_explains_itself_with_a_next_step(status: str, reason: str | None) -> None:
    words = explain(report(status, reason))
    assert words.headline and words.meaning and words.next_step
    assert no_code(f"{words.headline} {words.meaning} {words.next_step}")
    assert "undecidable" not in words.meaning.lower() and "unanchored" not in words.meaning.lower()


def test_intact_needs_no_step_and_tampering_points_to_acknowledge_or_a_backup() -> None:
    intact = explain(report("intact", None, anchored=True))
    assert (intact.headline, intact.next_step, intact.tone) == ("The log is intact and signed", "", "good")
    cut = explain(report("tampered", "truncated"))
    assert "aether audit acknowledge" in cut.next_step and "backup" in cut.next_step
    assert "cut short" in cut.meaning
    unanchored = explain(report("undecidable", "unanchored"))
    assert "seal" in unanchored.meaning and "aether audit acknowledge" in unanchored.next_step


def test_the_summary_counts_todays_decisions_and_says_how_the_log_is() -> None:
    rows = [row("allow")] * 24 + [row("ask")] * 3 + [row("session_start"), row("deny")]
    tally = DayTally().plus(rows)
    assert tally == DayTally(done=24, asked=3, refused=1)
    line = summary_line(tally, "the log is intact and signed")
    assert (
        line == "Today Aether did 24 things; 3 needed your OK; 1 was refused; the log is intact and signed."
    )
    assert summary_line(DayTally(), "the log is intact and signed") == (
        "Today Aether has not done anything yet; the log is intact and signed."
    )
    assert summary_line(DayTally(1, 0, 0), "x") == "Today Aether did 1 thing; none needed your OK; x."
    assert (
        summary_line(DayTally(0, 1, 0), "x")
        == "Today Aether has done nothing yet; 1 request needed your OK; x."
    )


def grant(
    capability: str,
    persona: str,
    issued_by: str = "preset",
    pattern: str = "*",
    duration: Duration = Duration.SESSION,
    gid: str = "g",
) -> Grant:
    return Grant(gid, capability, pattern, persona, duration, issued_by, "aud", 1_765_116_120_000)


def test_the_same_preset_permission_held_by_two_personas_is_listed_once() -> None:
    grants = [
        grant("memory.write.durable", "aether", gid="g1"),
        grant("memory.write.durable", "user", gid="g2"),
        grant("memory.read", "aether", gid="g3"),
    ]
    entries = grant_entries(grants, preset="Assistant")
    assert [e.grant_ids for e in entries] == [("g1", "g2"), ("g3",)]
    first = entries[0]
    assert first.permission == "Remember what you tell it"
    assert first.why == "Part of the Assistant preset: lets Aether remember what you tell it."
    assert (first.scope, first.how_long, first.given_by) == (
        "Anything",
        "Until Aether closes",
        "Assistant preset",
    )
    assert "memory.write.durable" in first.expert and no_code(first.why + first.permission + first.scope)


def test_a_users_grant_says_when_and_how_it_was_given() -> None:
    given = grant(
        "files.create",
        "aether",
        issued_by="approval:tkt_1",
        pattern="/home/ann/Documents/**",
        duration=Duration.PERSISTENT,
    )
    (entry,) = grant_entries([given], preset="Assistant", when=lambda _ms: "7 Dec at 14:02")
    assert entry.why == (
        "You allowed this on 7 Dec at 14:02 from an approval card: it lets Aether create new files in the "
        "folders you approved."
    )
    assert (entry.given_by, entry.how_long) == ("You, 7 Dec at 14:02", "Until you revoke it")
    assert entry.scope == "Everything in /home/ann/Documents"
    assert scope_words("memory.write.durable", "9f2c") == "Only what you approved"
    again = replace(given, grant_id="g2", issued_by="approval:tkt_2")
    assert len(grant_entries([given, again], preset="Assistant")) == 2  # two answers are two acts
