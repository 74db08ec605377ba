"""The policy gate: every side effect is decided here, audited, then permitted.

:meth:`Gate.evaluate` runs the stages of DESIGN.md §5 (see
:mod:`aether_qt.policy.evaluator`), then stage 5 (grant validate-or-issue), and
appends one audit row **before** it returns any decision. When the audit row
cannot be written the answer is ``Deny(AUDIT_UNAVAILABLE)`` and the gate turns
*degraded*: from then on it denies everything and redeems no permit, for the
rest of the process.

The one way back without a restart is a failure for want of disk space: the
gate is built with a ``resume`` hook (the runtime's), and while it is degraded
(or its ledger is not intact) each request, and :meth:`Gate.resume`, asks the
hook first. The hook answers True only when the failure was a full disk, there
is room again, and the log verified again as at a start; then the gate records
an ``audit_resumed`` row and decides as usual. Every other failure keeps the
gate deny-all until restart.

An ``Allow`` carries a :class:`~aether_qt.policy.decisions.Permit` whose
secret token only this gate knows. It binds the capability, the canonical
resource, the request's target (a download's destination, a process's working
folder) and the acting persona. Effectors call :meth:`Gate.redeem` before
acting; every permit is single-use, and redeeming the permit of a ``once``
grant spends the grant (audited as ``grant_spent``). An act that lasts (a
microphone capture) asks :meth:`Gate.grant_live` while it goes on.

The gate decides on real resources, but what it stores is redacted by its
:class:`~aether_qt.policy.redaction.Redactor`: every audit row, and the
resource patterns of grants, which are therefore matched against the redacted
canonical resource (the same value always redacts the same way).

Grant changes are audited first and applied to the ledger second, so the
ledger always equals a replay of the audit log. Revocations are the one
exception to "no audit, no change": they make the system safer, so they are
applied even when the audit write fails (the gate is degraded by then).

The user's controls (revoke, revoke all, preset, configuration, pause) take an
optional ``change_id``: it is written on their audit row, so the row joins the
change that the bus adapter publishes (DESIGN §3: a change id follows a change
from its intent to its audit row).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from aether_qt.policy import evaluator as ev_
from aether_qt.policy.approvals import TicketError, TicketStore, plan_answer
from aether_qt.policy.capabilities import CAPABILITIES, Mode, Preset
from aether_qt.policy.contracts import AuditEntry, AuditRow, AuditSink, AuditWriteError, Clock, PermitError
from aether_qt.policy.decisions import (
    ActionRequest,
    Allow,
    ApprovalChoice,
    Ask,
    Decision,
    Deny,
    DenyReason,
    DraftOnly,
    Duration,
    Grant,
    NeedsUpgrade,
    Permit,
    TicketState,
    escaped_request,
    new_id,
    unencodable_fields,
)
from aether_qt.policy.evaluator import Evaluation, Exit, PolicyConfig, deny
from aether_qt.policy.grants import GrantLedger, LedgerError, ephemeral, grant_facts, make_grant
from aether_qt.policy.permits import PermitRegistry
from aether_qt.policy.redaction import Redactor
from aether_qt.policy.resolved_scope import ResolvedScope, ScopeCache
from aether_qt.policy.scope import ScopeError, canonical_path_text, canonical_resource

__all__ = ["Gate", "PolicyConfig"]

log = logging.getLogger(__name__)

_Check = Callable[[Evaluation], Exit | None]


class Gate:
    """The one policy gate of the process (thread-safe; fast enough to call inline).

    Implements :class:`~aether_qt.policy.contracts.PermitVerifier`.
    """

    def __init__(
        self,
        *,
        audit: AuditSink,
        ledger: GrantLedger,
        tickets: TicketStore,
        config: PolicyConfig,
        clock: Clock,
        redactor: Redactor | None = None,
        resume: Callable[[], bool] | None = None,
    ) -> None:
        """Wire the gate and end the grants a previous process left (``session_start``).

        ``redactor`` keys what is stored (see the module docstring); without one a
        random key is used, so grant patterns holding a redacted part do not outlive
        the process. ``resume`` brings the audit log and the ledger back after a
        failure for want of space (see the module docstring); without one, every
        failure lasts until restart.
        """
        self._audit = audit
        self._redactor = redactor or Redactor.ephemeral()
        self._resume = resume
        self._ledger = ledger
        self._tickets = tickets
        self._config = config
        self._clock = clock
        self._lock = threading.RLock()
        self._degraded = False
        self._paused = config.paused
        self._permits = PermitRegistry()
        self._held_once: set[str] = set()  # once grants spent by an act that may still last
        self._read_tasks: set[str] = set()
        self._scopes = ScopeCache(clock=clock)
        self._cascade("session_start", ephemeral, {}, always=False)

    @property
    def degraded(self) -> bool:
        """True once an audit write failed: every side effect is denied from then on (or until a resume)."""
        return self._degraded

    @property
    def config(self) -> PolicyConfig:
        """The configuration decisions are made with."""
        return self._config

    @property
    def paused(self) -> bool:
        """Whether side effects are paused."""
        return self._paused

    @property
    def redactor(self) -> Redactor:
        """What turns a resource into its stored form (for the bus adapter and the event log)."""
        return self._redactor

    def redact(self, capability: str, resource: str) -> str:
        """The stored and published form of ``resource`` (see :meth:`Redactor.resource`)."""
        return self._redactor.resource(capability, resource)

    # ------------------------------------------------------------ evaluation
    def evaluate(self, request: ActionRequest) -> Decision:
        """Decide on a request; the decision is audited before it is returned."""
        with self._lock:
            self._ledger.refresh()
            if fields := unencodable_fields(
                request
            ):  # audited escaped, refused: the escape names another thing
                ev = Evaluation(escaped_request(request))
                why = f"not valid UTF-8: {', '.join(fields)}"
                return self._finish(ev, ev.stop("2.action", deny(DenyReason.NOT_IN_SCOPE, why)), {})
            ev = Evaluation(request)
            exit_ = self._run(ev, self._checks(ev, through_mode=True))
            if exit_ is not None:
                return self._finish(ev, exit_, {})
            return self._grant_stage(ev)

    def _checks(self, ev: Evaluation, *, through_mode: bool) -> list[_Check]:
        cfg = self._config
        checks: list[_Check] = [
            self._check_health,
            lambda e: ev_.check_hardcoded(e, cfg, frozenset(self._read_tasks), self._resolved_scope),
            lambda e: ev_.check_postures(e, cfg),
            lambda e: ev_.check_feature(e, cfg),
            ev_.check_action,
            self._check_target,
            ev_.check_resource,
        ]
        return [*checks, ev_.check_mode] if through_mode else checks

    def _resolved_scope(self) -> ResolvedScope:
        """The credential stores and approved roots of the current config, resolved (cached)."""
        cfg = self._config
        return self._scopes.get(home=cfg.home, protected=cfg.protected_dirs, roots=cfg.approved_roots)

    @staticmethod
    def _run(ev: Evaluation, checks: list[_Check]) -> Exit | None:
        for check in checks:
            exit_ = check(ev)
            if exit_ is not None:
                return exit_
        return None

    def _stopped(self) -> bool:
        """Whether a failure stops every side effect (audit or ledger)."""
        return self._degraded or not self._audit.healthy or not (self._ledger.intact and self._tickets.intact)

    def _try_resume(self) -> None:
        """Ask the resume hook; when it brought everything back, record that and stop denying."""
        if self._resume is None or not self._stopped() or not self._resume():
            return
        self._degraded = False
        detail = {"v": 1, "event": "audit_resumed", "cause": "storage"}
        self._append(
            AuditEntry("system", "", "", "audit_resumed", reason="storage", detail=detail), anchor=True
        )

    def record_route(self, *, turn_id: str, resource: str, route: str, reason: str) -> str:
        """Write where a turn is answered and why (``decision: route``); its audit id ("" if unwritten).

        Not a decision (no permit, no grant): the router decided it before any model
        call, and the user can read it back next to the gate's ``router.remote`` rows.
        """
        detail = {"v": 1, "event": "route", "route": route}
        entry = AuditEntry(
            "system", "router.route", resource, "route", reason=reason[:300], turn_id=turn_id, detail=detail
        )
        with self._lock:
            row = self._append(entry)
        return row.audit_id if row is not None else ""

    def record_setting(self, key: str, value: str, previous: str, *, change_id: str = "") -> str:
        """Write the user's change of a setting that shapes policy; its audit id ("" if unwritten).

        The privacy posture, memory retention and where the keys live change what
        may leave the machine or be kept, so each change is the user's audited act
        (``decision: setting_change``), like a preset change. Only plain choice words
        pass here (``local-only``, ``days:30``, ``key_file``), never a secret.
        """
        detail = {"v": 1, "event": "setting_change", "key": key, "to": value[:100], "from": previous[:100]}
        entry = AuditEntry("user", "", key, "setting_change", change_id=change_id, detail=detail)
        with self._lock:
            row = self._append(entry)
        return row.audit_id if row is not None else ""

    def resume(self) -> bool:
        """Try to end a stop caused by a full disk now (the banner's "Check again").

        Returns:
            True when nothing stops side effects any more (also when nothing did).
        """
        with self._lock:
            self._try_resume()
            return not self._stopped()

    def _check_health(self, ev: Evaluation) -> Exit | None:
        self._try_resume()
        if self._degraded or not self._audit.healthy:
            self._degraded = True
            return ev.stop("pre.audit", deny(DenyReason.AUDIT_UNAVAILABLE))
        ev.note("pre.audit")
        if not (self._ledger.intact and self._tickets.intact):
            return ev.stop("pre.ledger", deny(DenyReason.LEDGER_CORRUPT))
        ev.note("pre.ledger")
        if self._paused:
            return ev.stop("pre.paused", deny(DenyReason.PAUSED))
        ev.note("pre.paused")
        return None

    @staticmethod
    def _check_target(ev: Evaluation) -> Exit | None:
        """Stage 2 (target): a request's target, if any, is an absolute path; it is canonicalised."""
        if not ev.request.target:
            return None
        try:
            target = canonical_path_text(ev.request.target)
        except ScopeError:
            return ev.stop("2.target", deny(DenyReason.NOT_IN_SCOPE, "malformed target"))
        ev.note("2.target", detail=target)
        return None

    def _grant_stage(self, ev: Evaluation) -> Decision:
        request, mode = ev.request, ev.mode
        now = self._clock.monotonic_ns()
        found = None
        if not ev.fresh_consent:  # a tainted side effect is asked afresh, whatever was granted
            found = self._ledger.find_valid(
                request.capability,
                self.redact(request.capability, ev.canonical),
                request.actor_persona,
                request.task_id,
                now,
                include_preset=mode in (Mode.AUTO, Mode.TASK),
            )
        if found is not None:
            ev.note("5.grant", "allow", f"existing {found.grant_id}")
            return self._allow(ev, found, issued=False, detail={})
        if mode is Mode.AUTO or (mode is Mode.TASK and request.task_id is not None):
            duration = Duration.SESSION if mode is Mode.AUTO else Duration.TASK
            grant = self._new_grant(request, "*", duration, "preset")
            ev.note("5.grant", "allow", f"issued {duration.value}")
            return self._allow(ev, grant, issued=True, detail={})
        ev.note("5.grant", "ask", "no valid grant")
        return self._ask(ev)

    def _new_grant(
        self,
        request: ActionRequest,
        pattern: str,
        duration: Duration,
        issued_by: str,
        ttl_s: float | None = None,
    ) -> Grant:
        return make_grant(
            capability=request.capability,
            resource_pattern=self.redact(request.capability, pattern),
            persona=request.actor_persona,
            duration=duration,
            issued_by=issued_by,
            clock=self._clock,
            ttl_s=ttl_s,
            task_id=request.task_id if duration is Duration.TASK else None,
        )

    # ------------------------------------------------------------ exits
    def _entry(self, ev: Evaluation, decision: str, reason: str, detail: dict[str, Any]) -> AuditEntry:
        target = _checked_target(ev.request.target)
        facts = {"target": target, **detail} if target else detail
        return ev.entry(decision, reason, facts, preset=self._config.preset.value)

    def _append(self, entry: AuditEntry, *, anchor: bool = False) -> AuditRow | None:
        try:
            return self._audit.append(self._redactor.entry(entry), anchor=anchor)
        except AuditWriteError:
            self._degraded = True
            log.error("audit write failed: the policy gate now denies every side effect")
            return None

    def _unaudited(self, ev: Evaluation) -> Deny:
        """The audit failed: deny, and try (once) to record that deny too."""
        ev.note("audit", "deny", DenyReason.AUDIT_UNAVAILABLE.value)
        row = self._append(self._entry(ev, "deny", DenyReason.AUDIT_UNAVAILABLE.value, {}))
        audit_id = row.audit_id if row is not None else ""
        return Deny(DenyReason.AUDIT_UNAVAILABLE, audit_id, "audit log unavailable", tuple(ev.trace))

    def _finish(self, ev: Evaluation, exit_: Exit, detail: dict[str, Any]) -> Decision:
        reason = exit_.reason.value if exit_.reason is not None else ""
        extra = {"message": exit_.message, "source": exit_.source, "suggested_preset": exit_.suggested_preset}
        row = self._append(self._entry(ev, exit_.kind, reason, {**extra, **detail}))
        trace = tuple(ev.trace)
        if row is None:
            return self._unaudited(ev)
        if exit_.kind == "draft":
            return DraftOnly(row.audit_id, exit_.source, trace)
        if exit_.kind == "needs_upgrade":
            return NeedsUpgrade(ev.request.capability, exit_.suggested_preset, row.audit_id, trace)
        assert exit_.reason is not None
        return Deny(exit_.reason, row.audit_id, exit_.message, trace)

    def _allow(self, ev: Evaluation, grant: Grant, *, issued: bool, detail: dict[str, Any]) -> Decision:
        permit_id = new_id("pmt")
        facts: dict[str, Any] = {"grant_id": grant.grant_id, "permit_id": permit_id}
        if issued:
            facts["grant_issued"] = grant_facts(grant)
        row = self._append(self._entry(ev, "allow", "", {**facts, **detail}), anchor=True)
        if row is None:
            return self._unaudited(ev)
        if issued:
            grant = replace(grant, audit_ref=row.audit_id)
            try:
                self._ledger.issue(grant)
            except LedgerError:
                log.error("grant %s was audited but could not be stored", grant.grant_id)
                return self._finish(ev, ev.stop("5.grant", deny(DenyReason.LEDGER_CORRUPT)), {})
        cap = CAPABILITIES[ev.request.capability]
        permit = self._permits.mint(
            permit_id=permit_id,
            capability=cap.id,
            resource=ev.canonical,
            target=_checked_target(ev.request.target),
            persona=ev.request.actor_persona,
            grant=grant,
            audit_id=row.audit_id,
        )
        if cap.reads_user_data and ev.request.task_id is not None:
            self._read_tasks.add(ev.request.task_id)
        return Allow(grant, permit, row.audit_id, tuple(ev.trace))

    def _ask(self, ev: Evaluation) -> Decision:
        ticket_id = new_id("tkt")
        risk = CAPABILITIES[ev.request.capability].risk.name.lower()
        row = self._append(self._entry(ev, "ask", "", {"ticket_id": ticket_id, "risk": risk}))
        if row is None:
            return self._unaudited(ev)
        try:
            ticket = self._tickets.open(ev.request, ticket_id=ticket_id, risk=risk, audit_ref=row.audit_id)
        except LedgerError:
            log.error("approval ticket %s was audited but could not be stored", ticket_id)
            return self._finish(ev, ev.stop("5.grant", deny(DenyReason.LEDGER_CORRUPT)), {})
        return Ask(ticket, row.audit_id, tuple(ev.trace))

    # ------------------------------------------------------------ approvals
    def answer(
        self, ticket_id: str, choice: ApprovalChoice, scope: str | None = None, *, ttl_s: float | None = None
    ) -> Decision:
        """Answer a pending ticket and return the resulting decision.

        The request is checked again (pre-gates and stages 1-3) first; if it
        no longer passes, that decision is returned and the ticket stays
        pending. Otherwise the answer is audited, the ticket closed and, for
        the allow choices, a grant issued and a permit minted.

        Args:
            ticket_id: the ticket of an earlier ``Ask``.
            choice: the user's answer.
            scope: pattern for ``always_scope`` / ``allow_session`` (must cover the resource).
            ttl_s: optional lifetime of an ``always_scope`` grant.

        Raises:
            TicketError: unknown ticket, already answered, or a scope that does not fit.
        """
        with self._lock:
            self._ledger.refresh()
            ticket = self._tickets.get(ticket_id)
            if ticket.state is TicketState.ANSWERED:
                raise TicketError(f"approval ticket {ticket_id!r} was already answered")
            ev = Evaluation(ticket.request)
            exit_ = self._run(ev, self._checks(ev, through_mode=False))
            if exit_ is not None:
                return self._finish(ev, exit_, {"event": "ticket_recheck", "ticket_id": ticket_id})
            assert ev.capability is not None
            plan = plan_answer(choice, scope, ev.canonical, ev.capability.resource_kind)
            facts = {
                "event": "ticket_answered",
                "ticket_id": ticket_id,
                "choice": choice.value,
                "scope": scope,
            }
            ev.note("approval", plan.outcome, choice.value)
            if plan.outcome == "allow":
                assert plan.duration is not None and plan.pattern is not None
                ttl = ttl_s if plan.duration is Duration.PERSISTENT else None
                grant = self._new_grant(
                    ticket.request, plan.pattern, plan.duration, f"approval:{ticket_id}", ttl
                )
                decision = self._allow(ev, grant, issued=True, detail=facts)
            elif plan.outcome == "draft":
                decision = self._finish(ev, Exit("draft", source="user"), facts)
            else:
                decision = self._finish(ev, deny(DenyReason.USER_DENIED), facts)
            if not self._close_ticket(decision, ticket_id, choice, scope) and isinstance(decision, Allow):
                # the card would stay open over an act already done: the answer takes no effect
                self._permits.take(decision.permit)
                unstored = {"event": "ticket_answer_not_stored", "ticket_id": ticket_id}
                return self._finish(ev, ev.stop("approval", deny(DenyReason.LEDGER_CORRUPT)), unstored)
            return decision

    def _close_ticket(
        self, decision: Decision, ticket_id: str, choice: ApprovalChoice, scope: str | None
    ) -> bool:
        """Store the answer; False when it could not be (the ticket stays pending)."""
        if isinstance(decision, Deny) and decision.reason in (
            DenyReason.AUDIT_UNAVAILABLE,
            DenyReason.LEDGER_CORRUPT,
        ):
            return False  # the answer did not take effect; the ticket stays pending
        try:
            self._tickets.mark_answered(ticket_id, choice=choice, scope=scope, audit_ref=decision.audit_id)
        except LedgerError:
            log.error("answer to approval ticket %s was audited but could not be stored", ticket_id)
            return False
        return True

    # ------------------------------------------------------------ permits
    def redeem(
        self,
        permit: Permit,
        capability: str,
        resource: str,
        *,
        target: str | None = None,
        persona: str | None = None,
    ) -> None:
        """Accept a permit for one act (see :class:`~aether_qt.policy.contracts.PermitVerifier`).

        Raises:
            PermitError: the gate is degraded or paused; the permit is unknown,
                forged, already used, for another capability, resource, target or
                persona; its grant has ended; or spending a ``once`` grant could
                not be audited.
        """
        with self._lock:
            self._ledger.refresh()
            known = self._permits.take(permit)
            self._check_permit(known, capability, resource)
            if target is not None and not _same_target(target, known.target):
                raise PermitError("permit is for another destination or working folder")
            if persona is not None and persona != known.persona:
                raise PermitError("permit is for another persona")
            if known.once:
                self._spend(known)
                self._held_once.add(known.grant_id)

    def grant_live(self, grant_id: str) -> bool:
        """Whether an act that lasts may go on under ``grant_id`` (see the PermitVerifier protocol).

        False once the gate is degraded or paused, or the grant was revoked, expired
        or ended by a cascade. A ``once`` grant spent by the act itself stays live
        until a revocation or cascade, so "allow once" covers one whole capture.
        """
        with self._lock:
            if self._degraded or not self._audit.healthy or self._paused:
                return False
            now = self._clock.monotonic_ns()
            return self._ledger.is_valid(grant_id, now) or grant_id in self._held_once

    def _check_permit(self, permit: Permit, capability: str, resource: str) -> None:
        if self._degraded or not self._audit.healthy or self._paused:
            raise PermitError("the gate is not accepting side effects (audit unavailable or paused)")
        if capability != permit.capability:
            raise PermitError("permit is for another capability")
        try:
            same = canonical_resource(resource, CAPABILITIES[capability].resource_kind) == permit.resource
        except ScopeError:
            same = False
        if not same or not ev_.recheck_path(capability, resource, self._resolved_scope()):
            raise PermitError("permit is for another resource")
        if not self._ledger.is_valid(permit.grant_id, self._clock.monotonic_ns()):
            raise PermitError("the permit's grant has ended")

    def _spend(self, permit: Permit) -> None:
        at = self._clock.wall_ms()
        detail = {"v": 1, "event": "grant_spent", "grant_id": permit.grant_id, "spent_at_ms": at}
        row = self._append(
            AuditEntry("gate", permit.capability, permit.resource, "grant_spent", detail=detail)
        )
        if row is None:
            raise PermitError("spending the permit could not be audited")
        try:
            self._ledger.spend(permit.grant_id, at_ms=at)
        except LedgerError as exc:
            raise PermitError("spending the permit could not be stored") from exc

    # ------------------------------------------------------------ cascades and controls
    def _cascade(
        self,
        cause: str,
        predicate: Callable[[Grant], bool],
        extra: dict[str, Any],
        *,
        always: bool = True,
        change_id: str = "",
    ) -> list[str]:
        at = self._clock.wall_ms()
        self._held_once.clear()  # a cascade also ends what a spent "allow once" still holds open
        ids = self._ledger.matching(predicate)
        if ids or always:
            detail = {
                "v": 1,
                "event": "cascade",
                "cause": cause,
                "grant_ids": ids,
                "revoked_at_ms": at,
                **extra,
            }
            entry = AuditEntry("user", "", "", "cascade", reason=cause, change_id=change_id, detail=detail)
            self._append(entry)
        try:
            return self._ledger.revoke_many(ids, at_ms=at, cause=cause)
        except LedgerError:
            log.error("cascade %s could not be stored; the ledger is marked not intact", cause)
            return []

    def revoke(self, grant_id: str, *, change_id: str = "") -> bool:
        """Revoke one grant (audited). Idempotent: False if it was unknown or already ended."""
        with self._lock:
            self._ledger.refresh()
            self._held_once.discard(grant_id)
            if self._ledger.get(grant_id) is None:
                return False
            at = self._clock.wall_ms()
            detail = {"v": 1, "event": "grant_revoked", "cause": "revoked", "grant_ids": [grant_id]}
            self._append(
                AuditEntry(
                    "user",
                    "",
                    "",
                    "grant_revoked",
                    change_id=change_id,
                    detail={**detail, "revoked_at_ms": at},
                )
            )
            try:
                return self._ledger.revoke(grant_id, at_ms=at)
            except LedgerError:
                log.error("revocation of %s could not be stored; the ledger is marked not intact", grant_id)
                return False

    def revoke_all(self, *, change_id: str = "") -> list[str]:
        """Emergency: revoke every grant and void every outstanding permit (audited)."""
        with self._lock:
            self._ledger.refresh()
            self._permits.clear()
            return self._cascade("emergency", lambda _g: True, {}, change_id=change_id)

    def swap_persona(self, old: str, new: str) -> list[str]:
        """The active persona changed: end the old persona's once/task/session grants."""
        with self._lock:
            self._ledger.refresh()
            return self._cascade(
                "persona_swap", lambda g: g.persona == old and ephemeral(g), {"from": old, "to": new}
            )

    def set_preset(self, preset: Preset, *, change_id: str = "") -> list[str]:
        """Change the preset: end preset-issued and session grants (audited)."""
        with self._lock:
            self._ledger.refresh()
            old = self._config.preset
            self._config = replace(self._config, preset=preset)
            return self._cascade(
                "preset_change",
                lambda g: g.issued_by == "preset" or g.duration is Duration.SESSION,
                {"from": old.value, "to": preset.value},
                change_id=change_id,
            )

    def update_config(self, config: PolicyConfig, *, change_id: str = "") -> list[str]:
        """Replace the configuration; grants the preset issued on its own are ended (audited)."""
        with self._lock:
            self._ledger.refresh()
            old = self._config.preset
            self._config = replace(config, paused=self._paused)
            return self._cascade(
                "config_change",
                lambda g: g.issued_by == "preset",
                {"from": old.value, "to": config.preset.value},
                change_id=change_id,
            )

    def pause(self, paused: bool, *, change_id: str = "") -> None:
        """Pause or resume all side effects (audited)."""
        with self._lock:
            self._ledger.refresh()
            self._paused = paused
            detail = {"v": 1, "event": "pause", "paused": paused}
            self._append(AuditEntry("user", "", "", "pause", change_id=change_id, detail=detail))


def _checked_target(target: str) -> str:
    """The canonical form of a target ("" for none, or for one with no canonical form)."""
    if not target:
        return ""
    try:
        return canonical_path_text(target)
    except ScopeError:
        return ""


def _same_target(given: str, bound: str) -> bool:
    """Whether an effector's target is the one a permit binds ("" on both sides: no target)."""
    if not given:
        return not bound
    try:
        return canonical_path_text(given) == bound
    except ScopeError:
        return False
