"""The gate's staged evaluation (DESIGN.md §5), free of storage and audit concerns.

Each check appends a :class:`~aether_qt.policy.decisions.StageResult` to the
evaluation's trace and returns an :class:`Exit` when the request stops there.
The :class:`~aether_qt.policy.gate.Gate` runs them in order, looks up or issues
grants for stage 5 and audits whatever exit is taken.

Mode precedence (stage 4): user override > persona default (which may only
narrow the preset) > preset > system default (deny); High and Critical
capabilities are then raised to at least ``ask``. Hardcoded blocks are
pre-gates and come before all of it.

Provenance taint (DESIGN.md §5, "Taint in production"): a request whose
``provenance_tags`` name untrusted content in the model's context is never
auto-allowed. Reads (:data:`TAINT_FREE_READS`) go on as usual; High and
Critical capabilities, and anything that sends data off the machine, are
denied; every other side effect needs a fresh answer from the user: its mode
is raised to at least ``ask`` and no existing grant covers it
(:attr:`Evaluation.fresh_consent`). The tags are in the stage trace
(``pre.provenance``) and in the audit row's ``provenance`` fact.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aether_qt.policy.capabilities import (
    CAPABILITIES,
    DEFAULT_PRESET,
    Capability,
    Mode,
    Preset,
    ResourceKind,
    Risk,
    preset_mode,
    stricter,
)
from aether_qt.policy.contracts import AuditEntry
from aether_qt.policy.decisions import ActionRequest, DenyReason, StageResult
from aether_qt.policy.resolved_scope import ResolvedScope, spelled_path
from aether_qt.policy.scope import (
    ScopeError,
    canonical_path_text,
    canonical_resource,
    has_extra_links,
    url_origin,
)

CostCheck = Callable[[ActionRequest], str | None]
"""Returns a reason when the request would break a cost cap, else None."""

_MAX_RESOURCE = 4096
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f]")  # C0 controls except tab and newline
_PRESET_ORDER = (Preset.OBSERVER, Preset.ASSISTANT, Preset.OPERATOR, Preset.POWER_USER)
TAINT_FREE_READS = frozenset({"files.read", "files.list", "memory.read"})
"""Reads that a tainted context may still make: they change nothing and send nothing away."""


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """Everything the gate's decisions depend on besides grants and tickets.

    Attributes:
        preset: the active permission preset.
        approved_roots: folders path capabilities may touch.
        user_overrides: capability -> mode chosen by the user.
        persona_defaults: persona -> capability -> mode; may only narrow.
        keys_available: the audit/signing keys could be loaded.
        allow_without_keys: the user opted in to acting without keys.
        paused: all side effects are paused.
        private_waivers: providers that may receive private context.
        cost_check: hook that refuses requests over a cost cap.
        home: the user's home (credential stores); defaults to ``Path.home()``.
        protected_dirs: the app's own config and key folders (never touched by effects).
    """

    preset: Preset = DEFAULT_PRESET
    approved_roots: tuple[Path, ...] = ()
    user_overrides: Mapping[str, Mode] = field(default_factory=dict)
    persona_defaults: Mapping[str, Mapping[str, Mode]] = field(default_factory=dict)
    keys_available: bool = True
    allow_without_keys: bool = False
    paused: bool = False
    private_waivers: frozenset[str] = frozenset()
    cost_check: CostCheck | None = None
    home: Path | None = None
    protected_dirs: tuple[Path, ...] = ()


@dataclass(frozen=True, slots=True)
class Exit:
    """Where an evaluation stopped, before it is audited and turned into a Decision."""

    kind: str  # deny | draft | needs_upgrade
    reason: DenyReason | None = None
    message: str = ""
    source: str = ""
    suggested_preset: str = ""


def deny(reason: DenyReason, message: str = "") -> Exit:
    """A deny exit."""
    return Exit("deny", reason=reason, message=message)


@dataclass(slots=True)
class Evaluation:
    """The mutable state of one evaluation: the request, what was learnt, the trace."""

    request: ActionRequest
    capability: Capability | None = None
    canonical: str = ""
    mode: Mode | None = None
    mode_source: str = ""
    fresh_consent: bool = False  # tainted side effect: ask the user, whatever the grants say
    trace: list[StageResult] = field(default_factory=list)

    def note(self, stage: str, outcome: str = "pass", detail: str = "") -> None:
        """Append one line to the trace."""
        self.trace.append(StageResult(stage, outcome, detail))

    def entry(self, decision: str, reason: str, detail: dict[str, Any], *, preset: str) -> AuditEntry:
        """The audit entry of this evaluation's exit; ``detail`` adds to the standard facts."""
        request = self.request
        facts: dict[str, Any] = {
            "v": 1,
            "event": "evaluate",
            "request_id": request.request_id,
            "task_id": request.task_id,
            "route": request.intended_route,
            "provenance": list(request.provenance_tags),
            "canonical_resource": self.canonical,
            "preset": preset,
            "mode": self.mode.value if self.mode is not None else None,
        }
        facts.update(detail)
        return AuditEntry(
            actor=request.actor_persona,
            capability=request.capability,
            resource=request.resource,
            decision=decision,
            reason=reason,
            change_id=request.change_id,
            turn_id=request.turn_id or "",
            stage_trace=tuple(
                {"stage": s.stage, "outcome": s.outcome, "detail": s.detail} for s in self.trace
            ),
            detail=facts,
        )

    def stop(self, stage: str, exit_: Exit) -> Exit:
        """Record the exit in the trace and return it."""
        reason = exit_.reason.value if exit_.reason else exit_.source or exit_.suggested_preset
        self.note(stage, exit_.kind, reason)
        return exit_


def resolve_mode(config: PolicyConfig, capability: str, persona: str, preset: Preset) -> tuple[Mode, str]:
    """The effective approval mode of a capability and where it came from (stage 4)."""
    mode, source = preset_mode(preset, capability), "preset"
    persona_mode = config.persona_defaults.get(persona, {}).get(capability)
    if persona_mode is not None and stricter(mode, persona_mode) is not mode:
        mode, source = persona_mode, "persona_default"
    override = config.user_overrides.get(capability)
    if override is not None:
        mode, source = override, "user_override"
    risky = capability in CAPABILITIES and CAPABILITIES[capability].risk >= Risk.HIGH
    if risky and mode.strictness < Mode.ASK.strictness:
        mode, source = Mode.ASK, source + "+high_risk"
    return mode, source


def check_hardcoded(
    ev: Evaluation, config: PolicyConfig, read_tasks: frozenset[str], scope: Callable[[], ResolvedScope]
) -> Exit | None:
    """Pre-gate: unknown capability, paths, shell in consumer presets, silent upload.

    ``scope`` returns the resolved stores and roots of ``config``; it is only
    called for path capabilities.
    """
    request = ev.request
    cap = CAPABILITIES.get(request.capability)
    if cap is None:
        return ev.stop("pre.hardcoded", deny(DenyReason.UNKNOWN_CAPABILITY, request.capability))
    ev.capability = cap
    if cap.resource_kind is ResourceKind.PATH:
        blocked = _check_path(ev, scope())
        if blocked is not None:
            return ev.stop("pre.hardcoded", blocked)
    if cap.id == "shell.exec" and config.preset.consumer:
        return ev.stop("pre.hardcoded", deny(DenyReason.SHELL_IN_CONSUMER_PRESET, config.preset.value))
    if cap.sends_remote and request.task_id is not None and request.task_id in read_tasks:
        return ev.stop("pre.hardcoded", deny(DenyReason.SILENT_UPLOAD, request.task_id))
    ev.note("pre.hardcoded")
    return None


def _check_path(ev: Evaluation, scope: ResolvedScope) -> Exit | None:
    raw = ev.request.resource
    try:
        path = canonical_path_text(raw)
    except ScopeError as exc:
        return deny(DenyReason.OUTSIDE_APPROVED_ROOTS, str(exc))
    if scope.is_credential_store(path, spelled_path(raw)):
        return deny(DenyReason.CREDENTIAL_STORE, "credential store")
    if not scope.in_roots(path) or has_extra_links(path):
        return deny(DenyReason.OUTSIDE_APPROVED_ROOTS, "outside approved roots or hard-linked")
    ev.canonical = scope.key(path)
    return None


def check_postures(ev: Evaluation, config: PolicyConfig) -> Exit | None:
    """Pre-gates after the hardcoded blocks: privacy, provenance taint, keys, cost cap."""
    request, cap = ev.request, ev.capability
    assert cap is not None  # set by check_hardcoded
    provider = _private_provider(request, cap)
    if provider is not None and provider not in config.private_waivers:
        return ev.stop("pre.privacy", deny(DenyReason.PRIVACY_POSTURE, provider))
    ev.note("pre.privacy")
    tainted = check_provenance(ev, cap)
    if tainted is not None:
        return tainted
    if not config.keys_available and not config.allow_without_keys:
        return ev.stop("pre.keys", deny(DenyReason.KEYS_UNAVAILABLE))
    ev.note("pre.keys")
    refusal = config.cost_check(request) if config.cost_check is not None else None
    if refusal is not None:
        return ev.stop("pre.cost", deny(DenyReason.COST_CAP, refusal))
    ev.note("pre.cost")
    return None


def check_provenance(ev: Evaluation, cap: Capability) -> Exit | None:
    """Pre-gate: a side effect proposed while untrusted content is in the model's context.

    Clean requests and :data:`TAINT_FREE_READS` pass. High and Critical
    capabilities and those that send data remotely are denied. Any other
    side effect goes on with :attr:`Evaluation.fresh_consent` set, which makes
    it an ``Ask`` (stage 1 raises its mode, stage 5 ignores existing grants).
    """
    tags = ",".join(ev.request.provenance_tags)
    if not tags or cap.id in TAINT_FREE_READS:
        ev.note("pre.provenance", detail=tags)
        return None
    if cap.risk >= Risk.HIGH or cap.sends_remote:
        return ev.stop("pre.provenance", deny(DenyReason.PROVENANCE_TAINT, tags))
    ev.fresh_consent = True
    ev.note("pre.provenance", "taint", tags)
    return None


def _private_provider(request: ActionRequest, cap: Capability) -> str | None:
    """The remote provider private context would reach, if any."""
    if cap.id == "router.remote_private":
        return request.resource
    if cap.reads_user_data and request.intended_route != "local":
        return request.intended_route
    return None


def check_feature(ev: Evaluation, config: PolicyConfig) -> Exit | None:
    """Stage 1: the capability is enabled for preset x persona (else upgrade or deny)."""
    request = ev.request
    mode, source = resolve_mode(config, request.capability, request.actor_persona, config.preset)
    if ev.fresh_consent and mode.strictness < Mode.ASK.strictness:
        mode, source = Mode.ASK, source + "+taint"
    ev.mode, ev.mode_source = mode, source
    if mode is Mode.BLOCK:
        return ev.stop("1.feature", deny(DenyReason.HARD_BLOCK, source))
    if mode is Mode.DENY:
        return ev.stop("1.feature", _upgrade_or_deny(config, request, source))
    ev.note("1.feature", detail=f"{mode.value} from {source}")
    return None


def _upgrade_or_deny(config: PolicyConfig, request: ActionRequest, source: str) -> Exit:
    later = _PRESET_ORDER[_PRESET_ORDER.index(config.preset) + 1 :]
    for preset in later:
        mode, _ = resolve_mode(config, request.capability, request.actor_persona, preset)
        if mode not in (Mode.DENY, Mode.BLOCK):
            return Exit("needs_upgrade", suggested_preset=preset.value)
    return deny(DenyReason.POLICY_DENY, source)


def check_action(ev: Evaluation) -> Exit | None:
    """Stage 2: the request is well formed for its capability."""
    resource = ev.request.resource
    bad_chars = _CONTROL_CHARS.search(resource) is not None
    if not resource or len(resource) > _MAX_RESOURCE or bad_chars or not ev.request.intended_route:
        return ev.stop("2.action", deny(DenyReason.NOT_IN_SCOPE, "malformed request"))
    ev.note("2.action")
    return None


def check_resource(ev: Evaluation) -> Exit | None:
    """Stage 3: the resource is in scope (paths were checked as pre-gates; URLs by origin)."""
    cap = ev.capability
    assert cap is not None
    if cap.resource_kind is ResourceKind.URL:
        origin = url_origin(ev.request.resource)
        if origin is None:
            return ev.stop("3.resource", deny(DenyReason.RESOURCE_OUT_OF_SCOPE, "not a plain http(s) URL"))
        ev.canonical = canonical_resource(ev.request.resource, ResourceKind.URL)
    elif cap.resource_kind is ResourceKind.TEXT:
        ev.canonical = ev.request.resource
    ev.note("3.resource", detail=ev.canonical)
    return None


def check_mode(ev: Evaluation) -> Exit | None:
    """Stage 4: a ``draft`` mode stops here; ask/task/auto go on to the grant stage."""
    assert ev.mode is not None
    if ev.mode is Mode.DRAFT:
        return ev.stop("4.mode", Exit("draft", source=ev.mode_source))
    ev.note("4.mode", detail=ev.mode.value)
    return None


def recheck_path(capability: str, resource: str, scope: ResolvedScope) -> bool:
    """At redeem time: the permit's path is still in scope (no new hard link or swap)."""
    if CAPABILITIES[capability].resource_kind is not ResourceKind.PATH:
        return True
    ev = Evaluation(ActionRequest(capability=capability, resource=resource))
    return _check_path(ev, scope) is None
