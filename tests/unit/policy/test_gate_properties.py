"""Property tests of the gate's acceptance criteria (hypothesis)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from gate_support import make_rig
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aether_qt.policy.capabilities import CAPABILITIES, Mode, Preset, Risk
from aether_qt.policy.contracts import PermitError
from aether_qt.policy.decisions import ActionRequest, Allow, ApprovalChoice, Ask, Deny, DenyReason
from aether_qt.policy.grants import replay

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
RISKY = sorted(c for c, cap in CAPABILITIES.items() if cap.risk >= Risk.HIGH)
MODES = st.sampled_from(list(Mode))
PRESETS = st.sampled_from(list(Preset))


def resource_for(capability: str, root: Path) -> str:
    kind = CAPABILITIES[capability].resource_kind.value
    return {"path": str(root / "docs" / "f.txt"), "url": "https://example.com/x", "text": "openai"}[kind]


@SETTINGS
@given(st.text(min_size=0, max_size=30).filter(lambda s: s not in CAPABILITIES), PRESETS)
def test_deny_by_default_for_unknown_capabilities(capability: str, preset: Preset) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rig = make_rig(Path(tmp), preset=preset)
        decision = rig.gate.evaluate(ActionRequest(capability, "x"))
        assert isinstance(decision, Deny) and decision.reason is DenyReason.UNKNOWN_CAPABILITY


@SETTINGS
@given(
    st.sampled_from(RISKY),
    PRESETS,
    st.one_of(st.none(), MODES),
    st.one_of(st.none(), MODES),
    st.one_of(st.none(), st.text(max_size=5)),
)
def test_high_and_critical_are_never_auto_allowed(
    capability: str, preset: Preset, override: Mode | None, persona_mode: Mode | None, task: str | None
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        overrides = {capability: override} if override else {}
        defaults = {"default": {capability: persona_mode}} if persona_mode else {}
        rig = make_rig(
            Path(tmp),
            preset=preset,
            user_overrides=overrides,
            persona_defaults=defaults,
            private_waivers=frozenset({"openai"}),
        )
        request = ActionRequest(capability, resource_for(capability, rig.roots[0]), task_id=task)
        for _ in range(2):  # also not on a second try (no grant was issued by itself)
            assert not isinstance(rig.gate.evaluate(request), Allow)
        assert rig.ledger.active() == []


@SETTINGS
@given(st.sampled_from(["revoke", "ttl", "revoke_all", "preset"]), st.floats(min_value=1, max_value=1e6))
def test_expired_and_revoked_grants_deny(how: str, ttl: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rig = make_rig(Path(tmp))
        request = ActionRequest("files.delete", str(rig.roots[0] / "docs" / "f.txt"))
        ask = rig.gate.evaluate(request)
        assert isinstance(ask, Ask)
        choice = ApprovalChoice.ALLOW_SESSION if how == "preset" else ApprovalChoice.ALWAYS_SCOPE
        allow = rig.gate.answer(ask.ticket.ticket_id, choice, ttl_s=ttl)
        assert isinstance(allow, Allow)
        assert isinstance(rig.gate.evaluate(request), Allow)
        if how == "revoke":
            rig.gate.revoke(allow.grant.grant_id)
        elif how == "ttl":
            rig.clock.advance(ttl)
        elif how == "revoke_all":
            rig.gate.revoke_all()
        else:
            rig.gate.set_preset(Preset.OPERATOR)
        assert not isinstance(rig.gate.evaluate(request), Allow)


ESCAPES = ["dotdot", "symlink", "hardlink", "tilde", "absolute", "case", "dotdot_symlink"]


def escape_path(kind: str, root: Path, outside: Path) -> str:
    secret = outside / "secret.txt"
    if kind == "dotdot":
        return f"{root}/docs/../../outside/secret.txt"
    if kind == "symlink":
        link = root / "docs" / "link.txt"
        link.symlink_to(secret)
        return str(link)
    if kind == "hardlink":
        os.link(secret, root / "docs" / "hard.txt")
        return str(root / "docs" / "hard.txt")
    if kind == "tilde":
        return "~/secret.txt"
    if kind == "absolute":
        return str(secret)
    if kind == "case":
        return str(root).replace("root", "ROOT") + "/docs/f.txt"
    (root / "docs" / "up").symlink_to(outside)
    return f"{root}/docs/up/../up/secret.txt"


@SETTINGS
@given(st.sampled_from(ESCAPES), st.sampled_from(["files.read", "files.list", "files.create", "files.edit"]))
def test_path_escapes_deny(kind: str, capability: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        rig = make_rig(base, preset=Preset.POWER_USER)
        (rig.roots[0] / "docs").mkdir()
        outside = base / "outside"
        outside.mkdir()
        (outside / "secret.txt").write_text("s")
        path = escape_path(kind, rig.roots[0], outside)
        decision = rig.gate.evaluate(ActionRequest(capability, path, task_id="t"))
        assert isinstance(decision, Deny)
        assert decision.reason in (DenyReason.OUTSIDE_APPROVED_ROOTS, DenyReason.CREDENTIAL_STORE)


SIDE_EFFECTS = st.builds(
    ActionRequest,
    capability=st.sampled_from(sorted(CAPABILITIES)),
    resource=st.sampled_from(["ROOT/a.txt", "https://a.com/", "openai", "hi"]),
    task_id=st.one_of(st.none(), st.just("t")),
)


@SETTINGS
@given(st.lists(SIDE_EFFECTS, min_size=1, max_size=8), st.integers(min_value=0, max_value=7), PRESETS)
def test_audit_failure_denies_every_later_side_effect(
    requests: list[ActionRequest], fail_at: int, preset: Preset
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rig = make_rig(Path(tmp), preset=preset, private_waivers=frozenset({"openai"}))
        root = str(rig.roots[0])
        for index, request in enumerate(requests):
            if index == fail_at:
                rig.sink.fail = True
            real = ActionRequest(
                request.capability, request.resource.replace("ROOT", root), task_id=request.task_id
            )
            decision = rig.gate.evaluate(real)
            if index >= fail_at:
                assert isinstance(decision, Deny) and decision.reason is DenyReason.AUDIT_UNAVAILABLE


OPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["eval", "ask_answer", "revoke", "preset", "swap", "revoke_all", "redeem", "advance"]
        ),
        st.integers(min_value=0, max_value=50),
    ),
    max_size=15,
)


@SETTINGS
@given(OPS)
def test_ledger_equals_replay_of_the_audit_log(ops: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rig = make_rig(Path(tmp))
        permits = []
        caps = ["files.read", "notify.send", "files.delete", "net.fetch", "clipboard.read"]
        choices = list(ApprovalChoice)
        for op, n in ops:
            cap = caps[n % len(caps)]
            persona = "ab"[n % 2]
            request = ActionRequest(
                cap, resource_for(cap, rig.roots[0]), actor_persona=persona, task_id=f"t{n % 3}"
            )
            if op == "eval":
                decision = rig.gate.evaluate(request)
                if isinstance(decision, Allow):
                    permits.append((decision.permit, cap, request.resource))
            elif op == "ask_answer":
                decision = rig.gate.evaluate(request)
                if isinstance(decision, Ask):
                    answer = rig.gate.answer(
                        decision.ticket.ticket_id, choices[n % len(choices)], ttl_s=n or None
                    )
                    if isinstance(answer, Allow):
                        permits.append((answer.permit, cap, request.resource))
            elif op == "revoke" and rig.ledger.active():
                rig.gate.revoke(rig.ledger.active()[n % len(rig.ledger.active())].grant_id)
            elif op == "preset":
                rig.gate.set_preset(list(Preset)[n % 4])
            elif op == "swap":
                rig.gate.swap_persona(persona, "ba"[n % 2])
            elif op == "revoke_all":
                rig.gate.revoke_all()
            elif op == "redeem" and permits:
                permit, c, r = permits.pop(n % len(permits))
                with contextlib.suppress(PermitError):  # revoked meanwhile: the ledger must still match
                    rig.gate.redeem(permit, c, r)
            elif op == "advance":
                rig.clock.advance(n)
        assert replay(rig.sink.rows).records == rig.ledger.snapshot()
        assert rig.ledger.verify_against(rig.sink.rows)
        rebuilt = rig.reopen()
        assert replay(rig.sink.rows).records == rebuilt.ledger.snapshot()
