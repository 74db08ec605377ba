"""Tests of the gate: every stage's exits, audit-before-return, permits, cascades."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from gate_support import FakeSink, FlakySink, Rig, make_rig

from aether_qt.policy.capabilities import Mode, Preset
from aether_qt.policy.contracts import PermitError
from aether_qt.policy.decisions import (
    ActionRequest,
    Allow,
    ApprovalChoice,
    Ask,
    Deny,
    DenyReason,
    DraftOnly,
    Duration,
    NeedsUpgrade,
    Permit,
)
from aether_qt.policy.evaluator import PolicyConfig, resolve_mode
from aether_qt.policy.grants import replay

R = DenyReason


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return make_rig(tmp_path)


def f(rig: Rig, name: str = "a.txt") -> str:
    return str(rig.roots[0] / name)


def stages(decision: Ask | Allow) -> list[tuple[str, str, str]]:
    return [(s.stage, s.outcome, s.detail) for s in decision.trace]


def deny_reason(decision: object) -> DenyReason:
    assert isinstance(decision, Deny), decision
    return decision.reason


def test_every_decision_is_audited_with_its_trace(rig: Rig) -> None:
    decision = rig.gate.evaluate(ActionRequest("files.read", f(rig), turn_id="turn1"))
    assert isinstance(decision, Allow)
    row = rig.sink.rows[-1]
    assert row.audit_id == decision.audit_id == decision.permit.audit_id
    assert row.decision == "allow" and row.turn_id == "turn1"
    assert [s["stage"] for s in row.stage_trace][-1] == "5.grant"
    assert row.detail["grant_issued"]["duration"] == "session"
    assert row.detail["permit_id"] == decision.permit.permit_id
    assert decision.grant.audit_ref == row.audit_id


def test_unknown_capability_denied(rig: Rig) -> None:
    assert deny_reason(rig.gate.evaluate(ActionRequest("files.nuke", f(rig)))) is R.UNKNOWN_CAPABILITY
    assert rig.sink.rows[-1].reason == "unknown_capability"


@pytest.mark.parametrize(
    ("resource", "reason"),
    [
        ("relative.txt", R.OUTSIDE_APPROVED_ROOTS),
        ("/etc/passwd", R.OUTSIDE_APPROVED_ROOTS),
        ("/etc/shadow", R.CREDENTIAL_STORE),
    ],
)
def test_path_blocks(rig: Rig, resource: str, reason: DenyReason) -> None:
    assert deny_reason(rig.gate.evaluate(ActionRequest("files.read", resource))) is reason


def test_credential_store_inside_a_root_is_blocked(tmp_path: Path) -> None:
    home = tmp_path / "home"
    rig = make_rig(tmp_path, approved_roots=(home,))
    decision = rig.gate.evaluate(ActionRequest("files.read", str(home / ".ssh" / "id_rsa")))
    assert deny_reason(decision) is R.CREDENTIAL_STORE


def test_shell_blocked_in_consumer_presets(rig: Rig) -> None:
    assert deny_reason(rig.gate.evaluate(ActionRequest("shell.exec", "ls"))) is R.SHELL_IN_CONSUMER_PRESET
    rig.gate.set_preset(Preset.OPERATOR)
    assert isinstance(rig.gate.evaluate(ActionRequest("shell.exec", "ls")), Ask)


def test_silent_upload_blocked(rig: Rig) -> None:
    assert isinstance(rig.gate.evaluate(ActionRequest("files.read", f(rig), task_id="t")), Allow)
    upload = rig.gate.evaluate(ActionRequest("net.fetch", "https://x.com/", task_id="t"))
    assert deny_reason(upload) is R.SILENT_UPLOAD
    other = rig.gate.evaluate(ActionRequest("net.fetch", "https://x.com/", task_id="t2"))
    assert isinstance(other, Ask)


def test_privacy_posture_needs_waiver(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, preset=Preset.OPERATOR)
    assert (
        deny_reason(rig.gate.evaluate(ActionRequest("router.remote_private", "openai"))) is R.PRIVACY_POSTURE
    )
    remote_read = ActionRequest("files.read", f(rig), intended_route="openai")
    assert deny_reason(rig.gate.evaluate(remote_read)) is R.PRIVACY_POSTURE
    waived = rig.reopen(preset=Preset.OPERATOR, private_waivers=frozenset({"openai"}))
    assert isinstance(waived.gate.evaluate(ActionRequest("router.remote_private", "openai")), Ask)
    assert isinstance(waived.gate.evaluate(remote_read), Allow)


def test_provenance_taint(rig: Rig) -> None:
    medium = rig.gate.evaluate(ActionRequest("files.create", f(rig), provenance_tags=("web:https://x.com",)))
    assert isinstance(medium, Ask) and medium.ticket.request.provenance_tags == ("web:https://x.com",)
    assert ("pre.provenance", "taint", "web:https://x.com") in stages(medium)
    assert rig.sink.rows[-1].detail["provenance"] == ["web:https://x.com"]
    high = rig.gate.evaluate(ActionRequest("files.delete", f(rig), provenance_tags=("file:/a", "card:x")))
    assert deny_reason(high) is R.PROVENANCE_TAINT and high.message == "file:/a,card:x"
    low = rig.gate.evaluate(ActionRequest("files.read", f(rig), provenance_tags=("card:x",)))
    assert isinstance(low, Allow)
    assert ("pre.provenance", "pass", "card:x") in stages(low)


def test_a_tainted_low_risk_side_effect_is_asked_not_auto_allowed(rig: Rig) -> None:
    clean = rig.gate.evaluate(ActionRequest("browser.open", "https://example.com/"))
    assert isinstance(clean, Allow)
    tainted = ActionRequest("browser.open", "https://example.com/", provenance_tags=("file:/a",))
    asked = rig.gate.evaluate(tainted)
    assert isinstance(asked, Ask), "the session grant of the clean request does not cover a tainted one"
    assert rig.sink.rows[-1].detail["mode"] == "ask"
    assert ("1.feature", "pass", "ask from preset+taint") in stages(asked)
    allowed = rig.gate.answer(asked.ticket.ticket_id, ApprovalChoice.ALLOW_SESSION)
    assert isinstance(allowed, Allow), "the user may still say yes"
    again = rig.gate.evaluate(replace(tainted, request_id="req_again"))
    assert isinstance(again, Ask), "a user grant does not cover the next tainted request either"


def test_a_tainted_request_never_sends_data_away(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, preset=Preset.POWER_USER)
    fetch = rig.gate.evaluate(ActionRequest("net.fetch", "https://x.com/", provenance_tags=("memory:m1",)))
    assert deny_reason(fetch) is R.PROVENANCE_TAINT
    remote = rig.gate.evaluate(ActionRequest("router.remote", "remote", provenance_tags=("card:bob",)))
    assert deny_reason(remote) is R.PROVENANCE_TAINT
    task = rig.gate.evaluate(ActionRequest("files.create", f(rig), task_id="t", provenance_tags=("file:/a",)))
    assert isinstance(task, Ask), "task mode does not auto-issue for a tainted request"


def test_keys_unavailable(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, keys_available=False)
    assert deny_reason(rig.gate.evaluate(ActionRequest("files.read", f(rig)))) is R.KEYS_UNAVAILABLE
    opted = rig.reopen(keys_available=False, allow_without_keys=True)
    assert isinstance(opted.gate.evaluate(ActionRequest("files.read", f(rig))), Allow)


def test_cost_cap_hook(tmp_path: Path) -> None:
    def check(request: ActionRequest) -> str | None:
        return "daily cap reached" if request.capability == "router.remote" else None

    rig = make_rig(tmp_path, cost_check=check)
    decision = rig.gate.evaluate(ActionRequest("router.remote", "openai"))
    assert deny_reason(decision) is R.COST_CAP and decision.message == "daily cap reached"
    assert isinstance(rig.gate.evaluate(ActionRequest("files.read", f(rig))), Allow)


def test_needs_upgrade_and_policy_deny(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, preset=Preset.OBSERVER)
    decision = rig.gate.evaluate(ActionRequest("net.fetch", "https://a.com/"))
    assert isinstance(decision, NeedsUpgrade) and decision.suggested_preset == "Assistant"
    assert rig.sink.rows[-1].decision == "needs_upgrade"
    narrowed = rig.reopen(preset=Preset.OBSERVER, persona_defaults={"default": {"net.fetch": Mode.DENY}})
    assert deny_reason(narrowed.gate.evaluate(ActionRequest("net.fetch", "https://a.com/"))) is R.POLICY_DENY
    top = rig.reopen(preset=Preset.POWER_USER, user_overrides={"net.fetch": Mode.DENY})
    assert deny_reason(top.gate.evaluate(ActionRequest("net.fetch", "https://a.com/"))) is R.POLICY_DENY


def test_block_mode_is_a_hard_block(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, user_overrides={"files.read": Mode.BLOCK})
    assert deny_reason(rig.gate.evaluate(ActionRequest("files.read", f(rig)))) is R.HARD_BLOCK


@pytest.mark.parametrize("resource", ["", "a\x00b", "x" * 5000])
def test_malformed_requests_are_not_in_scope(rig: Rig, resource: str) -> None:
    assert deny_reason(rig.gate.evaluate(ActionRequest("notify.send", resource))) is R.NOT_IN_SCOPE


def test_empty_route_is_not_in_scope(rig: Rig) -> None:
    decision = rig.gate.evaluate(ActionRequest("notify.send", "hi", intended_route=""))
    assert deny_reason(decision) is R.NOT_IN_SCOPE


def test_url_out_of_scope(rig: Rig) -> None:
    decision = rig.gate.evaluate(ActionRequest("browser.open", "https://good.com@evil.com/"))
    assert deny_reason(decision) is R.RESOURCE_OUT_OF_SCOPE
    assert isinstance(rig.gate.evaluate(ActionRequest("browser.open", "https://good.com/")), Allow)


def test_draft_mode(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, preset=Preset.OBSERVER)
    decision = rig.gate.evaluate(ActionRequest("memory.write.durable", "likes tea"))
    assert isinstance(decision, DraftOnly) and decision.source == "preset"


def test_mode_precedence() -> None:
    cfg = PolicyConfig(
        persona_defaults={"kid": {"files.read": Mode.ASK, "notify.send": Mode.AUTO}},
        user_overrides={"clipboard.read": Mode.AUTO, "shell.exec": Mode.AUTO},
    )
    assert resolve_mode(cfg, "files.read", "kid", Preset.ASSISTANT) == (Mode.ASK, "persona_default")
    assert resolve_mode(cfg, "files.create", "kid", Preset.ASSISTANT) == (Mode.ASK, "preset")
    assert resolve_mode(cfg, "notify.send", "kid", Preset.ASSISTANT) == (Mode.AUTO, "preset")
    assert resolve_mode(cfg, "clipboard.read", "kid", Preset.ASSISTANT) == (Mode.AUTO, "user_override")
    assert resolve_mode(cfg, "shell.exec", "kid", Preset.POWER_USER) == (Mode.ASK, "user_override+high_risk")


def test_task_mode_issues_task_grants(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, preset=Preset.POWER_USER)
    decision = rig.gate.evaluate(ActionRequest("files.create", f(rig), task_id="t1"))
    assert isinstance(decision, Allow) and decision.grant.duration is Duration.TASK
    assert isinstance(rig.gate.evaluate(ActionRequest("files.create", f(rig, "b"), task_id="t1")), Allow)
    assert isinstance(rig.gate.evaluate(ActionRequest("files.create", f(rig))), Ask)


def test_preset_grants_do_not_survive_a_stricter_override(rig: Rig) -> None:
    assert isinstance(rig.gate.evaluate(ActionRequest("files.read", f(rig))), Allow)
    rig.gate.update_config(replace(rig.gate.config, user_overrides={"files.read": Mode.ASK}))
    assert isinstance(rig.gate.evaluate(ActionRequest("files.read", f(rig))), Ask)
    assert rig.sink.rows[-2].detail["cause"] == "config_change"


# ---------------------------------------------------------------- audit failure
def test_audit_failure_denies_and_degrades(rig: Rig) -> None:
    allow = rig.gate.evaluate(ActionRequest("files.read", f(rig)))
    assert isinstance(allow, Allow)
    rig.sink.fail = True
    decision = rig.gate.evaluate(ActionRequest("files.read", f(rig)))
    assert deny_reason(decision) is R.AUDIT_UNAVAILABLE and decision.audit_id == ""
    assert rig.gate.degraded
    rig.sink.fail = False  # even once the sink recovers, the gate stays deny-all
    assert deny_reason(rig.gate.evaluate(ActionRequest("notify.send", "hi"))) is R.AUDIT_UNAVAILABLE
    assert rig.sink.rows[-1].reason == "audit_unavailable"
    with pytest.raises(PermitError, match="not accepting"):
        rig.gate.redeem(allow.permit, "files.read", f(rig))


@pytest.mark.parametrize(
    "request_",
    [
        ActionRequest("notify.send", "hi"),
        ActionRequest("files.delete", "/nowhere"),
        ActionRequest("files.delete", "ROOT/a"),
        ActionRequest("files.read", "ROOT/a"),
    ],
)
def test_transient_audit_failure_denies_any_exit(tmp_path: Path, request_: ActionRequest) -> None:
    sink = FlakySink()
    rig = make_rig(tmp_path, sink=sink)
    sink.fail_next = 1
    request_ = replace(request_, resource=request_.resource.replace("ROOT", str(rig.roots[0])))
    decision = rig.gate.evaluate(request_)
    assert deny_reason(decision) is R.AUDIT_UNAVAILABLE and rig.gate.degraded
    assert decision.audit_id != ""  # the deny itself was recorded
    assert rig.tickets.pending() == [] and rig.ledger.active() == []


def test_grant_store_failure_after_audit_denies(rig: Rig) -> None:
    rig.db.execute_sql("DROP TABLE grants")
    decision = rig.gate.evaluate(ActionRequest("files.read", f(rig)))
    assert deny_reason(decision) is R.LEDGER_CORRUPT
    assert deny_reason(rig.gate.evaluate(ActionRequest("notify.send", "x"))) is R.LEDGER_CORRUPT
    assert rig.gate.revoke_all() == []


def test_ticket_store_failure_after_audit_denies(rig: Rig) -> None:
    rig.db.execute_sql("DROP TABLE approval_tickets")
    assert deny_reason(rig.gate.evaluate(ActionRequest("files.delete", f(rig)))) is R.LEDGER_CORRUPT


# ---------------------------------------------------------------- permits
def test_redeem_checks(rig: Rig) -> None:
    allow = rig.gate.evaluate(ActionRequest("files.read", f(rig)))
    assert isinstance(allow, Allow)
    forged = replace(allow.permit, token="0" * 64)
    with pytest.raises(PermitError, match="forged"):
        rig.gate.redeem(forged, "files.read", f(rig))
    with pytest.raises(PermitError, match="forged"):  # a failed redemption voids the permit
        rig.gate.redeem(allow.permit, "files.read", f(rig))
    again = rig.gate.evaluate(ActionRequest("files.read", f(rig)))
    assert isinstance(again, Allow)
    rig.gate.redeem(again.permit, "files.read", f"{rig.roots[0]}/x/../a.txt")
    with pytest.raises(PermitError, match="already used"):
        rig.gate.redeem(again.permit, "files.read", f(rig))


@pytest.mark.parametrize(
    ("capability", "resource", "message"),
    [
        ("files.list", "same", "another capability"),
        ("files.read", "other", "another resource"),
        ("files.read", "relative", "another resource"),
    ],
)
def test_redeem_mismatch(rig: Rig, capability: str, resource: str, message: str) -> None:
    allow = rig.gate.evaluate(ActionRequest("files.read", f(rig)))
    assert isinstance(allow, Allow)
    target = {"same": f(rig), "other": f(rig, "b.txt"), "relative": "a.txt"}[resource]
    with pytest.raises(PermitError, match=message):
        rig.gate.redeem(allow.permit, capability, target)


def test_redeem_rechecks_hard_links(rig: Rig, tmp_path: Path) -> None:
    target = rig.roots[0] / "a.txt"
    target.write_text("x")
    allow = rig.gate.evaluate(ActionRequest("files.read", str(target)))
    assert isinstance(allow, Allow)
    os.link(target, tmp_path / "elsewhere.txt")
    with pytest.raises(PermitError, match="another resource"):
        rig.gate.redeem(allow.permit, "files.read", str(target))


def test_redeem_text_and_revoked_grants(rig: Rig) -> None:
    allow = rig.gate.evaluate(ActionRequest("notify.send", "hello"))
    assert isinstance(allow, Allow)
    assert rig.gate.revoke(allow.grant.grant_id)
    with pytest.raises(PermitError, match="ended"):
        rig.gate.redeem(allow.permit, "notify.send", "hello")


def test_redeem_when_paused(rig: Rig) -> None:
    allow = rig.gate.evaluate(ActionRequest("notify.send", "hello"))
    assert isinstance(allow, Allow)
    rig.gate.pause(True)
    assert rig.gate.paused
    with pytest.raises(PermitError, match="not accepting"):
        rig.gate.redeem(allow.permit, "notify.send", "hello")
    assert deny_reason(rig.gate.evaluate(ActionRequest("notify.send", "x"))) is R.PAUSED


def _once_permit(rig: Rig) -> Permit:
    ask = rig.gate.evaluate(ActionRequest("files.delete", f(rig)))
    assert isinstance(ask, Ask)
    allow = rig.gate.answer(ask.ticket.ticket_id, ApprovalChoice.ALLOW_ONCE)
    assert isinstance(allow, Allow)
    return allow.permit


def test_once_permit_spends_its_grant(rig: Rig) -> None:
    permit = _once_permit(rig)
    rig.gate.redeem(permit, "files.delete", f(rig))
    assert rig.sink.rows[-1].decision == "grant_spent"
    assert rig.ledger.get(permit.grant_id) is None
    assert replay(rig.sink.rows).digest == rig.ledger.digest()


def test_once_permit_spend_audit_failure(tmp_path: Path) -> None:
    sink = FlakySink()
    rig = make_rig(tmp_path, sink=sink)
    permit = _once_permit(rig)
    sink.fail_next = 1
    with pytest.raises(PermitError, match="audited"):
        rig.gate.redeem(permit, "files.delete", f(rig))
    assert rig.gate.degraded


def test_once_permit_spend_store_failure(rig: Rig) -> None:
    permit = _once_permit(rig)
    rig.db.execute_sql("DROP TABLE grants")
    with pytest.raises(PermitError, match="stored"):
        rig.gate.redeem(permit, "files.delete", f(rig))


# ---------------------------------------------------------------- cascades
def test_revoke_is_idempotent_and_audited(rig: Rig) -> None:
    allow = rig.gate.evaluate(ActionRequest("notify.send", "x"))
    assert isinstance(allow, Allow)
    assert rig.gate.revoke(allow.grant.grant_id)
    rows = len(rig.sink.rows)
    assert not rig.gate.revoke(allow.grant.grant_id)
    assert len(rig.sink.rows) == rows


def test_revoke_store_failure(rig: Rig) -> None:
    allow = rig.gate.evaluate(ActionRequest("notify.send", "x"))
    assert isinstance(allow, Allow)
    rig.db.execute_sql("DROP TABLE grants")
    assert not rig.gate.revoke(allow.grant.grant_id)
    assert not rig.ledger.intact


def test_persona_swap_and_preset_change_cascade(rig: Rig) -> None:
    a = rig.gate.evaluate(ActionRequest("notify.send", "x", actor_persona="a"))
    b = rig.gate.evaluate(ActionRequest("notify.send", "x", actor_persona="b"))
    assert isinstance(a, Allow) and isinstance(b, Allow)
    assert rig.gate.swap_persona("a", "b") == [a.grant.grant_id]
    assert rig.sink.rows[-1].detail["cause"] == "persona_swap"
    assert rig.gate.set_preset(Preset.OPERATOR) == [b.grant.grant_id]
    assert rig.gate.config.preset is Preset.OPERATOR
    assert replay(rig.sink.rows).digest == rig.ledger.digest()


def test_revoke_all_voids_permits_and_grants(rig: Rig) -> None:
    ask = rig.gate.evaluate(ActionRequest("files.delete", f(rig)))
    assert isinstance(ask, Ask)
    always = rig.gate.answer(ask.ticket.ticket_id, ApprovalChoice.ALWAYS_SCOPE)
    assert isinstance(always, Allow)
    revoked = rig.gate.revoke_all()
    assert revoked == [always.grant.grant_id]
    with pytest.raises(PermitError):
        rig.gate.redeem(always.permit, "files.delete", f(rig))
    assert isinstance(rig.gate.evaluate(ActionRequest("files.delete", f(rig))), Ask)


def test_controls_write_their_change_id_on_the_audit_row(rig: Rig) -> None:
    allow = rig.gate.evaluate(ActionRequest("notify.send", "x"))
    assert isinstance(allow, Allow)
    assert rig.gate.revoke(allow.grant.grant_id, change_id="chg_revoke")
    assert (rig.sink.rows[-1].decision, rig.sink.rows[-1].change_id) == ("grant_revoked", "chg_revoke")
    rig.gate.revoke_all(change_id="chg_all")
    assert (rig.sink.rows[-1].reason, rig.sink.rows[-1].change_id) == ("emergency", "chg_all")
    rig.gate.set_preset(Preset.OPERATOR, change_id="chg_preset")
    assert (rig.sink.rows[-1].reason, rig.sink.rows[-1].change_id) == ("preset_change", "chg_preset")
    rig.gate.update_config(rig.gate.config, change_id="chg_config")
    assert (rig.sink.rows[-1].reason, rig.sink.rows[-1].change_id) == ("config_change", "chg_config")
    rig.gate.pause(True, change_id="chg_pause")
    assert (rig.sink.rows[-1].decision, rig.sink.rows[-1].change_id) == ("pause", "chg_pause")
    rig.gate.pause(False)  # without one, the row has none (as before)
    assert rig.sink.rows[-1].change_id == ""


def test_session_grants_end_at_next_start(rig: Rig) -> None:
    session = rig.gate.evaluate(ActionRequest("notify.send", "x"))
    ask = rig.gate.evaluate(ActionRequest("files.delete", f(rig)))
    assert isinstance(session, Allow) and isinstance(ask, Ask)
    persistent = rig.gate.answer(ask.ticket.ticket_id, ApprovalChoice.ALWAYS_SCOPE)
    assert isinstance(persistent, Allow)
    again = rig.reopen()
    assert [g.grant_id for g in again.ledger.active()] == [persistent.grant.grant_id]
    assert again.sink.rows[-1].detail["cause"] == "session_start"
    assert replay(again.sink.rows).digest == again.ledger.digest()
    rows = len(again.sink.rows)
    again.reopen()  # nothing left to end: no row
    assert len(again.sink.rows) == rows


def test_unhealthy_sink_is_degraded(tmp_path: Path) -> None:
    sink = FakeSink()
    sink.fail = True
    rig = make_rig(tmp_path, sink=sink)
    assert deny_reason(rig.gate.evaluate(ActionRequest("notify.send", "x"))) is R.AUDIT_UNAVAILABLE
    assert rig.gate.degraded


def test_cascade_store_failure_marks_ledger(rig: Rig) -> None:
    allow = rig.gate.evaluate(ActionRequest("notify.send", "x"))
    assert isinstance(allow, Allow)
    rig.db.execute_sql("DROP TABLE grants")
    assert rig.gate.revoke_all() == []
    assert not rig.ledger.intact
    assert deny_reason(rig.gate.evaluate(ActionRequest("notify.send", "x"))) is R.LEDGER_CORRUPT


def test_preset_helpers_the_gate_relies_on() -> None:
    from aether_qt.policy.capabilities import preset_matrix

    assert Preset.parse(" power_user ") is Preset.POWER_USER
    with pytest.raises(ValueError, match="choose one of"):
        Preset.parse("root")
    assert resolve_mode(PolicyConfig(), "no.such", "p", Preset.POWER_USER) == (Mode.DENY, "preset")
    for preset in Preset:
        matrix = preset_matrix(preset)
        assert all(matrix[c] is not Mode.AUTO for c in ("shell.exec", "files.delete", "audit.export"))


def test_preset_mode_clamps_a_high_capability_the_matrix_would_auto_approve(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aether_qt.policy import capabilities

    row = capabilities._MATRIX["files.delete"]
    monkeypatch.setitem(capabilities._MATRIX, "files.delete", (Mode.AUTO,) * len(row))
    assert capabilities.preset_mode(Preset.POWER_USER, "files.delete") is Mode.ASK
    assert capabilities.preset_mode(Preset.POWER_USER, "files.read") is Mode.AUTO


@pytest.mark.parametrize("field", ["resource", "target", "provenance_tags", "actor_persona"])
def test_a_name_that_is_not_utf8_is_refused_and_audited_escaped(rig: Rig, field: str) -> None:
    """A file name with undecodable bytes (``os.fsdecode`` gives lone surrogates) must not crash the gate."""
    odd = f(rig, "a\udcffb.txt")
    value: object = (f"file:{odd}",) if field == "provenance_tags" else odd
    request = replace(ActionRequest("files.read", f(rig)), **{field: value})
    decision = rig.gate.evaluate(request)
    assert deny_reason(decision) is R.NOT_IN_SCOPE
    row = rig.sink.rows[-1]
    assert row.audit_id == decision.audit_id
    assert "\\udcff" in repr(row) and "\udcff" not in str(row.resource) + str(row.detail)
    assert not rig.gate.degraded
    assert isinstance(rig.gate.evaluate(ActionRequest("files.read", f(rig))), Allow)  # still deciding
