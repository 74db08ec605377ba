"""Value types of the gate: requests, decisions, grants, permits, tickets.

Everything here is a frozen dataclass or an enum so that it can cross threads
on the bus unchanged and be written to the audit log as canonical JSON.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final

RESERVED_ACTORS: Final = frozenset({"", "user", "system", "assistant", "default", "gate"})
"""Actor ids that are not personas: the user's own acts, the app, the gate, a request that names
no persona. No persona may take one (a persona called ``user`` would share the user's grants)."""


def new_id(prefix: str) -> str:
    """A random, prefixed identifier (``req_3f2a...``)."""
    return f"{prefix}_{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """A proposed side effect, built by the reflex classifier or a UI action.

    Attributes:
        capability: dot id from :data:`~aether_qt.policy.capabilities.CAPABILITIES`.
        resource: a path, URL or literal (command, provider id, memory topic).
        actor_persona: id of the persona that proposed the action.
        provenance_tags: taint markers naming the untrusted content in the
            model's context when the action was proposed (``file:<path>``,
            ``web:<origin>``, ``card:<persona>``, ``memory:<id>``,
            ``remote:<provider>``); empty = clean. See
            :func:`~aether_qt.policy.evaluator.check_provenance`.
        intended_route: ``local`` or a remote provider id, for the privacy posture.
        task_id: groups the actions of one task (``task`` grants, silent upload).
        target: an absolute path the act lands in besides its resource: a download's
            destination, a process's working folder ("" = none). The gate records it
            and binds it into the permit; the effector refuses any other.
    """

    capability: str
    resource: str
    actor_persona: str = "default"
    change_id: str = field(default_factory=lambda: new_id("chg"))
    turn_id: str | None = None
    request_id: str = field(default_factory=lambda: new_id("req"))
    provenance_tags: tuple[str, ...] = ()
    intended_route: str = "local"
    task_id: str | None = None
    target: str = ""


def _escaped(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unencodable_fields(request: ActionRequest) -> tuple[str, ...]:
    """Fields of ``request`` holding text that is not valid UTF-8 (lone surrogates: ``os.fsdecode``
    of a file name with undecodable bytes); such a request cannot be written to the audit as it is."""
    found = [name for name in _TEXT_FIELDS if not _encodable(str(getattr(request, name) or ""))]
    if not all(_encodable(tag) for tag in request.provenance_tags):
        found.append("provenance_tags")
    return tuple(found)


def escaped_request(request: ActionRequest) -> ActionRequest:
    """``request`` with every undecodable character written as ``\\udcXX`` (for its audit row only:
    the escaped name is another name, so the request it came from must be refused)."""
    changes: dict[str, Any] = {
        name: _escaped(value) for name in _TEXT_FIELDS if isinstance(value := getattr(request, name), str)
    }
    changes["provenance_tags"] = tuple(_escaped(tag) for tag in request.provenance_tags)
    return replace(request, **changes)


class DenyReason(StrEnum):
    """Why the gate refused; each maps to one pre-gate or stage."""

    AUDIT_UNAVAILABLE = "audit_unavailable"
    LEDGER_CORRUPT = "ledger_corrupt"
    PAUSED = "paused"
    UNKNOWN_CAPABILITY = "unknown_capability"
    OUTSIDE_APPROVED_ROOTS = "outside_approved_roots"
    CREDENTIAL_STORE = "credential_store"
    SHELL_IN_CONSUMER_PRESET = "shell_in_consumer_preset"
    SILENT_UPLOAD = "silent_upload"
    PRIVACY_POSTURE = "privacy_posture"
    PROVENANCE_TAINT = "provenance_taint"
    COST_CAP = "cost_cap"
    KEYS_UNAVAILABLE = "keys_unavailable"
    NOT_IN_SCOPE = "not_in_scope"
    RESOURCE_OUT_OF_SCOPE = "resource_out_of_scope"
    POLICY_DENY = "policy_deny"
    HARD_BLOCK = "hard_block"
    GRANT_EXPIRED = "grant_expired"
    GRANT_REVOKED = "grant_revoked"
    USER_DENIED = "user_denied"


_TEXT_FIELDS = (
    "capability",
    "resource",
    "actor_persona",
    "change_id",
    "turn_id",
    "request_id",
    "intended_route",
    "task_id",
    "target",
)


class Duration(StrEnum):
    """How long a grant lasts."""

    ONCE = "once"
    TASK = "task"
    SESSION = "session"
    PERSISTENT = "persistent"


@dataclass(frozen=True, slots=True)
class StageResult:
    """One line of a decision's stage trace: which stage ran and what it found."""

    stage: str
    outcome: str  # "pass", "taint" (pre.provenance: asked afresh) or the exit taken ("deny", "ask", ...)
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Grant:
    """Permission to perform ``capability`` on resources matching ``resource_pattern``.

    ``expires_wall_ms`` makes persistent TTLs survive a restart; inside one
    process expiry is checked on the monotonic clock (``expires_mono_ns``).
    """

    grant_id: str
    capability: str
    resource_pattern: str
    persona: str
    duration: Duration
    issued_by: str  # "preset", "user", "approval:<ticket_id>"
    audit_ref: str
    issued_wall_ms: int
    ttl_s: float | None = None
    expires_mono_ns: int | None = None
    expires_wall_ms: int | None = None
    task_id: str | None = None
    revoked_at_ms: int | None = None


@dataclass(frozen=True, slots=True)
class Permit:
    """Proof an effector may act: minted by this process's gate for one Allow.

    Effectors accept a permit only if the gate that minted it vouches for it
    (``Gate.redeem``): the token is checked against the gate's registry, the
    capability and resource must match (and the target and persona, when the
    effector names them), and a ``once`` permit is spent on use.

    Attributes:
        resource: the canonical resource the gate decided on (never redacted: it stays in memory).
        target: the canonical target of the request ("" = none), see :class:`ActionRequest`.
        persona: the actor of the request (a persona id or ``user``).
    """

    permit_id: str
    capability: str
    resource: str
    target: str
    persona: str
    grant_id: str
    audit_id: str
    once: bool
    token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Allow:
    """The action may run now, through an effector, with ``permit``."""

    grant: Grant
    permit: Permit
    audit_id: str
    trace: tuple[StageResult, ...] = ()
    kind: str = "allow"


@dataclass(frozen=True, slots=True)
class Ask:
    """The user must answer ``ticket`` first."""

    ticket: ApprovalTicket
    audit_id: str
    trace: tuple[StageResult, ...] = ()
    kind: str = "ask"


@dataclass(frozen=True, slots=True)
class DraftOnly:
    """Only a draft may be produced (e.g. tainted context or a draft-mode preset)."""

    audit_id: str
    source: str
    trace: tuple[StageResult, ...] = ()
    kind: str = "draft"


@dataclass(frozen=True, slots=True)
class Deny:
    """The action is refused for ``reason``."""

    reason: DenyReason
    audit_id: str
    message: str = ""
    trace: tuple[StageResult, ...] = ()
    kind: str = "deny"


@dataclass(frozen=True, slots=True)
class NeedsUpgrade:
    """The preset does not enable the capability; ``suggested_preset`` would."""

    capability: str
    suggested_preset: str
    audit_id: str
    trace: tuple[StageResult, ...] = ()
    kind: str = "needs_upgrade"


Decision = Allow | Ask | DraftOnly | Deny | NeedsUpgrade


class ApprovalChoice(StrEnum):
    """The answers an approval card offers."""

    ALLOW_ONCE = "allow_once"
    ALLOW_SESSION = "allow_session"
    ALWAYS_SCOPE = "always_scope"
    DRAFT_ONLY = "draft_only"
    DENY = "deny"


class TicketState(StrEnum):
    """Life of an approval ticket; pending tickets are never auto-denied."""

    PENDING = "pending"
    ANSWERED = "answered"


@dataclass(frozen=True, slots=True)
class ApprovalTicket:
    """A question to the user about one request."""

    ticket_id: str
    request: ActionRequest
    risk: str
    created_wall_ms: int
    state: TicketState = TicketState.PENDING
    choice: ApprovalChoice | None = None
    scope: str | None = None


def decision_as_dict(decision: Decision, request: ActionRequest | None = None) -> dict[str, Any]:
    """A decision as plain data: kind, audit id, stage trace, taint and the fields of its variant.

    ``taint`` lists the provenance tags of the request decided: ``request``'s
    when given, else the ticket's for an ``Ask``, else none known.
    """
    if request is None and isinstance(decision, Ask):
        request = decision.ticket.request
    data: dict[str, Any] = {
        "decision": decision.kind,
        "audit_id": decision.audit_id,
        "trace": [{"stage": s.stage, "outcome": s.outcome, "detail": s.detail} for s in decision.trace],
        "taint": list(request.provenance_tags) if request is not None else [],
    }
    if isinstance(decision, Allow):
        data.update(grant_id=decision.grant.grant_id, duration=decision.grant.duration.value)
    elif isinstance(decision, Ask):
        data.update(ticket_id=decision.ticket.ticket_id, risk=decision.ticket.risk)
    elif isinstance(decision, Deny):
        data.update(reason=decision.reason.value, message=decision.message)
    elif isinstance(decision, DraftOnly):
        data.update(source=decision.source)
    else:  # NeedsUpgrade, the last variant
        data.update(capability=decision.capability, suggested_preset=decision.suggested_preset)
    return data
