"""Bus events: the envelope, the typed payloads, and their safe JSON form.

Every event that crosses a thread is an :class:`Envelope` around a frozen
payload dataclass (DESIGN §3). The payload types are declared in one list,
:data:`PAYLOAD_TYPES`, so ``docs/events.md`` and the event log have a single
source. Kinds follow the "will/did" convention: ``<area>.will_<verb>`` for an
intent, ``<area>.did_<verb>`` for something that happened.

Secrets never reach the event log: a payload field declared with
:func:`secret_field`, and any field or mapping key named like a secret
(:func:`looks_secret`), is written as ``"[redacted]"``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import PurePath
from types import MappingProxyType
from typing import Any, ClassVar, Final

REDACTED: Final = "[redacted]"
_SECRET_META: Final = "aether.secret"  # noqa: S105 (a metadata key, not a password)
_SECRET_WORDS: Final = frozenset(
    {"key", "token", "password", "passwd", "secret", "apikey", "passphrase", "credential", "credentials"}
)
_SECRET_INFIXES: Final = ("password", "passwd", "secret", "api_key", "apikey", "private_key")
_CAMEL: Final = re.compile(r"([a-z0-9])([A-Z])")


def looks_secret(name: str) -> bool:
    """Whether a field or key name suggests a secret value.

    True when the last word (snake, kebab or camel case) is ``key``, ``token``,
    ``password``, ``secret``, ``apikey``, ``credential(s)``, ``passphrase``, or
    the name contains ``password``, ``secret``, ``api_key``, ``private_key``.
    ``key_id``, ``hotkey`` and ``max_tokens`` are not secrets.
    """
    snake = _CAMEL.sub(r"\1_\2", name).lower().replace("-", "_")
    words = [word for word in snake.split("_") if word]
    if words and words[-1] in _SECRET_WORDS:
        return True
    return any(infix in snake for infix in _SECRET_INFIXES)


def secret_field() -> Any:
    """Declare a payload field whose value is never serialised nor shown in ``repr``.

    Use for a value that must cross threads but is not named like a secret::

        @dataclass(frozen=True, slots=True)
        class ProviderConfigured(Payload):
            KIND: ClassVar[str] = "router.did_configure_provider"
            provider: str
            bearer: str = secret_field()
    """
    return dataclasses.field(repr=False, metadata={_SECRET_META: True})


@dataclass(frozen=True, slots=True)
class Payload:
    """Base of every bus payload: a frozen dataclass with a ``KIND`` and a ``VERSION``.

    ``VERSION`` is the payload schema version, copied into the envelope, so a
    reader of an old event log knows which shape it is reading.
    """

    KIND: ClassVar[str] = ""
    VERSION: ClassVar[int] = 1


@dataclass(frozen=True, slots=True)
class Envelope:
    """One event as it travels on the bus (DESIGN §3).

    Attributes:
        kind: the payload's ``KIND`` (``gate.did_decide``).
        seq: one monotonic counter per process; orders every event.
        source_layer: who emitted it (``L5``, ``policy``, ``bus``, ``ui`` ...).
        change_id: created by the first intent, carried by every caused event.
        turn_id: the conversation turn, when there is one.
        emitted_at_ns: wall clock of the emission, nanoseconds.
        version: payload schema version.
        payload: the typed, frozen payload.
    """

    kind: str
    seq: int
    source_layer: str
    change_id: str
    turn_id: str | None
    emitted_at_ns: int
    version: int
    payload: Payload


@dataclass(frozen=True, slots=True)
class HandlerFailed(Payload):
    """A bus handler raised; the bus logged it and carried on."""

    KIND: ClassVar[str] = "bus.handler_did_fail"
    handler: str
    kind: str
    error_type: str
    message: str


@dataclass(frozen=True, slots=True)
class ActionRequested(Payload):
    """Intent: a side effect is about to be put to the gate (starts a change)."""

    KIND: ClassVar[str] = "gate.will_decide"
    request_id: str
    capability: str
    resource: str
    actor_persona: str


@dataclass(frozen=True, slots=True)
class DecisionMade(Payload):
    """The gate decided a request (``allow``, ``ask``, ``draft``, ``deny``, ``needs_upgrade``)."""

    KIND: ClassVar[str] = "gate.did_decide"
    request_id: str
    capability: str
    resource: str
    decision: str
    reason: str
    audit_id: str


@dataclass(frozen=True, slots=True)
class AuditAppended(Payload):
    """A row was appended to the audit chain."""

    KIND: ClassVar[str] = "audit.did_append"
    seq: int
    audit_id: str


@dataclass(frozen=True, slots=True)
class GrantIssued(Payload):
    """A grant was issued (by a preset, the user or an approval)."""

    KIND: ClassVar[str] = "grants.did_issue"
    grant_id: str
    capability: str
    resource_pattern: str
    persona: str
    duration: str
    audit_id: str


@dataclass(frozen=True, slots=True)
class GrantRevoked(Payload):
    """A grant ended before its time (revocation, persona swap, emergency stop)."""

    KIND: ClassVar[str] = "grants.did_revoke"
    grant_id: str
    cause: str
    audit_id: str


@dataclass(frozen=True, slots=True)
class TicketOpened(Payload):
    """The gate answered ``Ask``: a ticket waits for the user."""

    KIND: ClassVar[str] = "approvals.did_open_ticket"
    ticket_id: str
    request_id: str
    capability: str
    resource: str
    risk: str
    audit_id: str
    taint: tuple[str, ...] = ()  # the request's provenance tags: untrusted content in the model's context


@dataclass(frozen=True, slots=True)
class TicketAnswered(Payload):
    """The user answered a ticket (``allow_once``, ``deny`` ...)."""

    KIND: ClassVar[str] = "approvals.did_answer_ticket"
    ticket_id: str
    choice: str
    audit_id: str


@dataclass(frozen=True, slots=True)
class TicketDescribed(Payload):
    """What an open ticket will do, in full, for its approval card (published once the call is kept).

    Paths are absolute; ``text`` is what will be written (cut to a preview), ``diff``
    the change to an existing file; ``url`` and ``command`` what will be opened or run.
    """

    KIND: ClassVar[str] = "approvals.did_describe_ticket"
    ticket_id: str
    turn_id: str
    capability: str
    path: str = ""
    path_exists: bool = False
    folder: str = ""
    folder_exists: bool = True
    text: str = ""
    diff: str = ""
    url: str = ""
    command: str = ""


@dataclass(frozen=True, slots=True)
class ActionFinished(Payload):
    """An approved action ran (or failed): ``summary``, one sentence, is the reply of the turn that asked."""

    KIND: ClassVar[str] = "approvals.did_finish_action"
    ticket_id: str
    turn_id: str
    ok: bool
    summary: str


@dataclass(frozen=True, slots=True)
class PresetChanged(Payload):
    """The user switched the permission preset.

    The grants its cascade ended follow as ``grants.did_revoke`` under the same change id.
    """

    KIND: ClassVar[str] = "policy.did_change_preset"
    preset: str
    previous: str
    audit_id: str


@dataclass(frozen=True, slots=True)
class RootsChanged(Payload):
    """The approved folders changed (their paths only); revocations follow under the same change id."""

    KIND: ClassVar[str] = "policy.did_change_roots"
    roots: tuple[str, ...]
    audit_id: str


@dataclass(frozen=True, slots=True)
class PauseChanged(Payload):
    """The user paused (``paused``) or resumed every side effect."""

    KIND: ClassVar[str] = "policy.did_change_pause"
    paused: bool
    audit_id: str


@dataclass(frozen=True, slots=True)
class PostureChanged(Payload):
    """A degraded-mode or trust flag turned on or off (DESIGN §13), for banners."""

    KIND: ClassVar[str] = "trust.posture_did_change"
    flag: str
    active: bool
    message: str


# ---------------------------------------------------------------- turns (L1) and the router (L4)


@dataclass(frozen=True, slots=True)
class TurnBegan(Payload):
    """A turn started (``turn_begin``): typed text or a final transcript."""

    KIND: ClassVar[str] = "turn.did_begin"
    turn_id: str
    text: str
    source: str  # "typed", "voice", "quick_talk", "cli"
    conversation_id: str = ""  # the conversation the turn is kept in ("" when none is kept)
    replaces: str = ""  # regenerate, edit and resend: the turn whose exchange this one replaces
    continues: str = ""  # "Continue" on a cut reply: the turn whose reply this one goes on with ("" text)


@dataclass(frozen=True, slots=True)
class TurnStateChanged(Payload):
    """The turn FSM entered ``state`` (a :class:`TurnState` value)."""

    KIND: ClassVar[str] = "turn.did_change_state"
    turn_id: str
    state: str
    elapsed_ms: float


@dataclass(frozen=True, slots=True)
class PhraseShown(Payload):
    """A phrase was shown: an acknowledgement, clarify, repair, progress, safety, notice or result.

    Pool ``quote`` is different: ``text`` is an excerpt of untrusted data (a file
    read) and ``source`` names it (``file:<path>``); it is shown as a labelled
    quote, never as the assistant's words.
    """

    KIND: ClassVar[str] = "turn.did_show_phrase"
    turn_id: str
    pool: str
    text: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class TokensStreamed(Payload):
    """New reply text (coalesced tokens) for the transcript."""

    KIND: ClassVar[str] = "router.did_stream_tokens"
    turn_id: str
    text: str


@dataclass(frozen=True, slots=True)
class TurnEnded(Payload):
    """The one ``turn_end`` of a turn."""

    KIND: ClassVar[str] = "turn.did_end"
    turn_id: str
    outcome: str  # an :class:`Outcome` value
    final_state: str
    reply: str
    notice: str = ""
    route: str = ""  # where the answer came from and why, in words ("" for the plain local route)
    cut: bool = False  # the reply stopped at the length limit; the turn can be continued


@dataclass(frozen=True, slots=True)
class ModelStatusChanged(Payload):
    """Model loading progress and readiness, for the banner and the status bar."""

    KIND: ClassVar[str] = "router.did_change_model_status"
    model_id: str
    status: str  # "loading", "ready", "missing", "failed"
    progress: float
    message: str


# ---------------------------------------------------------------- personas (L6)


@dataclass(frozen=True, slots=True)
class PersonaActivated(Payload):
    """A persona became active (at a turn boundary): the UI takes its look and name."""

    KIND: ClassVar[str] = "persona.did_activate"
    persona_id: str
    name: str
    tagline: str
    content_hash: str
    palette: tuple[tuple[str, str], ...]  # (role, "#rrggbb"): primary, secondary, accent, background
    shape: str
    trusted: bool
    clamps: tuple[str, ...]  # human lines: "shell.exec auto -> deny (...)"
    blink_rate: float = 15.0  # blinks per minute
    idle_motion: float = 0.5  # 0.0 still .. 1.0 lively
    gaze_style: str = "steady"


@dataclass(frozen=True, slots=True)
class PersonaFailed(Payload):
    """An edit of the active persona does not load; the last good one stays active."""

    KIND: ClassVar[str] = "persona.did_fail"
    path: str
    line: int
    column: int
    reason: str


@dataclass(frozen=True, slots=True)
class PersonaRecovered(Payload):
    """The active persona's file loads again (clears the error banner)."""

    KIND: ClassVar[str] = "persona.did_recover"
    persona_id: str


@dataclass(frozen=True, slots=True)
class MemoryStatusChanged(Payload):
    """Memory's health: starting, rebuilding (with progress), ready, fts_only or unavailable."""

    KIND: ClassVar[str] = "memory.did_change_status"
    state: str
    progress: float  # 0.0-1.0 while rebuilding the vector index, else 1.0
    message: str  # what the banner says ('' when ready)


@dataclass(frozen=True, slots=True)
class MemoryChanged(Payload):
    """Memory items changed (never carries memory text: the panel reloads what it shows)."""

    KIND: ClassVar[str] = "memory.did_change"
    change: str  # added, reinforced, edited, privacy, forgotten, purged, expired, imported
    item_ids: tuple[str, ...]
    audit_id: str  # the gate's decision that allowed it ('' for the sweep)


@dataclass(frozen=True, slots=True)
class MemoryRecalled(Payload):
    """Memories were put into a turn's prompt (ids only)."""

    KIND: ClassVar[str] = "memory.did_recall"
    turn_id: str
    item_ids: tuple[str, ...]
    took_ms: float
    timed_out: bool
    fts_only: bool


@dataclass(frozen=True, slots=True)
class VoiceStateChanged(Payload):
    """Voice in and out: ``idle``, ``listening`` (the microphone is live), ``speaking`` or ``unavailable``."""

    KIND: ClassVar[str] = "voice.did_change_state"
    state: str
    message: str  # a banner line ('' when there is nothing to say)


@dataclass(frozen=True, slots=True)
class SpeechHeard(Payload):
    """Speech recognised while push-to-talk is held (``final`` once, on release)."""

    KIND: ClassVar[str] = "voice.did_hear"
    text: str
    final: bool


ALL_PAYLOADS: Final[tuple[type[Payload], ...]] = (
    HandlerFailed,
    ActionRequested,
    DecisionMade,
    AuditAppended,
    GrantIssued,
    GrantRevoked,
    TicketOpened,
    TicketAnswered,
    TicketDescribed,
    ActionFinished,
    PresetChanged,
    RootsChanged,
    PauseChanged,
    PostureChanged,
    TurnBegan,
    TurnStateChanged,
    PhraseShown,
    TokensStreamed,
    TurnEnded,
    ModelStatusChanged,
    PersonaActivated,
    PersonaFailed,
    PersonaRecovered,
    MemoryStatusChanged,
    MemoryChanged,
    MemoryRecalled,
    VoiceStateChanged,
    SpeechHeard,
)


def _registry(types: tuple[type[Payload], ...]) -> Mapping[str, type[Payload]]:
    """Index payload types by kind, refusing empty or duplicate kinds."""
    table: dict[str, type[Payload]] = {}
    for cls in types:
        if not cls.KIND or cls.KIND in table:
            raise ValueError(f"payload {cls.__name__} has an empty or duplicate KIND {cls.KIND!r}")
        table[cls.KIND] = cls
    return MappingProxyType(table)


PAYLOAD_TYPES: Final[Mapping[str, type[Payload]]] = _registry(ALL_PAYLOADS)
"""Every known payload type by kind (read-only)."""


def _is_secret_field(field: dataclasses.Field[Any]) -> bool:
    """Whether a dataclass field must never be serialised."""
    return bool(field.metadata.get(_SECRET_META)) or looks_secret(field.name)


def _scalar_to_jsonable(value: object) -> object:
    """JSON form of a leaf value; unknown objects become ``"<TypeName>"``."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    return f"<{type(value).__name__}>"  # its repr could hold a secret


def to_jsonable(value: object) -> object:
    """Convert ``value`` to JSON-ready data, redacting secrets at every depth.

    Dataclasses become objects (secret fields redacted), mappings keep their
    keys (values under secret-looking keys redacted), enums become their value,
    paths strings, sequences lists. Anything else becomes ``"<TypeName>"``:
    an unknown object's ``repr`` could hold a secret.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: REDACTED if _is_secret_field(f) else to_jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
        }
    if isinstance(value, Mapping):
        return {str(k): REDACTED if looks_secret(str(k)) else to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((to_jsonable(item) for item in value), key=repr)
    return _scalar_to_jsonable(value)


def envelope_to_json(env: Envelope, redact: Callable[[str], str] | None = None) -> str:
    """One compact JSON line for the event log; secrets are redacted.

    Fields named like secrets are dropped; ``redact``, when given, rewrites every
    text value too (the gate's redactor: query strings, user-info and key-like
    values in a message or a reply become keyed hashes).
    """
    data = to_jsonable(env)
    if redact is not None:
        data = _map_text(data, redact)
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _map_text(value: object, redact: Callable[[str], str]) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _map_text(item, redact) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_text(item, redact) for item in value]
    return value
