"""The active persona: load, hot reload, swap at a safe turn boundary, audit every swap.

:class:`PersonaService` holds the active :class:`CompiledPersona`. A new
version (a file saved, a choice in the picker, ``aether persona use``) is
compiled first; a broken file never replaces the last good persona, it is
reported as ``persona.did_fail`` with its location. A good one becomes
*pending* and is applied at the next safe boundary: at once when no turn runs,
else when the running turn ends (the conductor calls :meth:`at_boundary`).
Each turn also takes its persona once, at its start, so a reply is never
changed half-way.

Applying a persona: the gate gets its narrowing defaults (and revokes the
outgoing persona's session grants), an audit row ``persona_swap`` records
ids, content hash and every clamp, the choice is remembered in the settings,
and ``persona.did_activate`` tells the UI its name and look.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from aether_qt.core.bus import EventBus
from aether_qt.core.events import PersonaActivated, PersonaFailed, PersonaRecovered
from aether_qt.engines.interaction.phrases import DefaultPersona, PhrasePools
from aether_qt.engines.persona.compiled import CompiledPersona
from aether_qt.engines.persona.compiler import load_and_compile
from aether_qt.engines.persona.errors import PersonaError
from aether_qt.engines.persona.registry import MINIMUM_TRUST, find_persona
from aether_qt.policy.capabilities import CAPABILITIES, Mode, preset_mode, stricter
from aether_qt.policy.contracts import AuditEntry, AuditWriteError
from aether_qt.policy.provenance import card_tag
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.storage.errors import StorageError

_log = logging.getLogger(__name__)
SETTING_ACTIVE = "persona.active"
DEFAULT_PERSONA = "aether"
SOURCE = "L6"


def turn_persona(persona: CompiledPersona) -> DefaultPersona:
    """What one turn needs from a compiled persona (an imported card's is tainted ``card:<id>``)."""
    return DefaultPersona(
        persona_id=persona.persona_id,
        name=persona.summary.name,
        system_prompt=persona.router.system_prompt,
        pools=PhrasePools(persona.interaction.phrases),
        content_hash=persona.content_hash,
        temperature=persona.router.temperature,
        max_tokens=persona.router.max_tokens,
        taint=() if persona.summary.trusted else (card_tag(persona.persona_id),),
        preferred_tier=persona.router.preferred_tier,
        privacy_posture=persona.router.privacy_posture,
    )


def clamp_lines(persona: CompiledPersona) -> tuple[str, ...]:
    """Human lines for each clamp: ``shell.exec auto -> deny (reason)``."""
    return tuple(
        f"{c.capability} {c.requested.value} -> {c.granted.value} ({c.reason})" for c in persona.policy.clamps
    )


def gate_defaults(persona: CompiledPersona) -> dict[str, Mode]:
    """The persona's proposal for every capability: its preset, narrowed further by its overrides."""
    out: dict[str, Mode] = {}
    for cap in CAPABILITIES:
        mode = preset_mode(persona.policy.preset, cap)
        override = persona.policy.overrides.get(cap)
        out[cap] = stricter(mode, override) if override is not None else mode
    return out


class PersonaService:
    """Owns the active persona (thread-safe: the persona, interaction and GUI threads call it).

    Args:
        runtime: the policy runtime (gate, audit, settings).
        bus: where persona events go.
        user_dir: the user's persona folder (``<data>/personas``).
    """

    def __init__(self, *, runtime: PolicyRuntime, bus: EventBus, user_dir: Path) -> None:
        self._runtime, self._bus, self._user_dir = runtime, bus, user_dir
        self._lock = threading.RLock()
        # one boundary at a time: taking a swap, applying it and writing the setting are one step
        self._swapping = threading.RLock()
        self._active = MINIMUM_TRUST
        self._path: Path | None = None
        self._pending: tuple[CompiledPersona, Path | None] | None = None
        self._failed = False
        self._followed = ""
        self._busy: Callable[[], bool] = lambda: False

    # ------------------------------------------------------------------ state

    @property
    def active(self) -> CompiledPersona:
        """The persona in force now."""
        with self._lock:
            return self._active

    @property
    def user_dir(self) -> Path:
        """The user's own persona folder."""
        return self._user_dir

    @property
    def path(self) -> Path | None:
        """The file of the active persona (None for the built-in minimum-trust one)."""
        with self._lock:
            return self._path

    def bind_turns(self, busy: Callable[[], bool]) -> None:
        """Tell the service how to know whether a turn is running (``Conductor.busy``)."""
        self._busy = busy

    # ------------------------------------------------------------------ loading

    def start(self) -> CompiledPersona:
        """Load the remembered persona, else the default, else the minimum-trust one; apply it."""
        wanted = self._runtime.settings.get_as(SETTING_ACTIVE, str, DEFAULT_PERSONA)
        for persona_id in dict.fromkeys((wanted, DEFAULT_PERSONA)):
            try:
                compiled, path = self._compile_id(persona_id)
            except PersonaError as exc:
                self._report(exc)
                continue
            self._apply(compiled, path)
            return compiled
        _log.warning("no persona loads; using the built-in minimum-trust persona")
        self._apply(MINIMUM_TRUST, None)
        return MINIMUM_TRUST

    def choose(self, persona_id: str) -> None:
        """Switch to another persona (picker, CLI): compiled now, applied at the next boundary.

        Raises:
            PersonaError: it does not exist or does not load (the active one stays).
        """
        compiled, path = self._compile_id(persona_id)
        self._offer(compiled, path)

    def file_changed(self) -> None:
        """The active persona's file changed on disk: recompile; keep the last good one if broken."""
        path = self.path
        if path is None:
            return
        try:
            compiled = load_and_compile(path)
        except PersonaError as exc:
            self._report(exc)
            return
        if self._failed:
            self._failed = False
            self._bus.publish(PersonaRecovered(compiled.persona_id), source_layer=SOURCE)
        if compiled.content_hash != self.active.content_hash:
            self._offer(compiled, path)

    def turn_persona(self) -> DefaultPersona:
        """The persona for a turn that starts now (applies a pending swap first)."""
        self.at_boundary()
        return turn_persona(self.active)

    def at_boundary(self) -> None:
        """A safe point (no reply in progress): apply the pending persona, if any.

        A choice made elsewhere (``aether persona use ID`` while the app runs) is
        noticed here too: the remembered id differs from the active one.

        Boundaries on different threads (a pick applied on the GUI thread, a turn's
        end on the interaction thread) take turns. Otherwise one could read the
        setting while the other's swap had made the new persona active but not yet
        written the setting, take the old id for a command-line choice and swap back.
        """
        with self._swapping:
            self._follow_setting()
            with self._lock:
                pending, self._pending = self._pending, None
            if pending is not None:
                self._apply(*pending)

    # ------------------------------------------------------------------ internals

    def _follow_setting(self) -> None:
        try:
            wanted = self._runtime.settings.get_as(SETTING_ACTIVE, str, "")
        except StorageError as exc:  # a choice made elsewhere waits for the next boundary; the turn goes on
            _log.warning("the active persona setting was not read: %s", exc.detail)
            return
        with self._lock:
            if not wanted or wanted in (self._active.persona_id, self._followed):
                return
            self._followed = wanted  # tried once; a broken choice is reported, not retried every turn
        try:
            compiled, path = self._compile_id(wanted)
        except PersonaError as exc:
            self._report(exc)
            return
        with self._lock:
            self._pending = (compiled, path)

    def _compile_id(self, persona_id: str) -> tuple[CompiledPersona, Path]:
        path = find_persona(persona_id, self._user_dir)
        if path is None:
            raise PersonaError(path=persona_id, line=0, column=0, reason=f"no persona with id {persona_id!r}")
        return load_and_compile(path), path  # a card's `card:` source makes it untrusted

    def _offer(self, compiled: CompiledPersona, path: Path | None) -> None:
        with self._lock:
            self._pending = (compiled, path)
        if not self._busy():
            self.at_boundary()

    def _report(self, exc: PersonaError) -> None:
        self._failed = True
        _log.warning("persona not loaded: %s", exc)
        self._bus.publish(
            PersonaFailed(path=str(exc.path), line=exc.line, column=exc.column, reason=exc.reason),
            source_layer=SOURCE,
        )

    def _apply(self, new: CompiledPersona, path: Path | None) -> None:
        with self._lock:
            old = self._active
            self._active, self._path = new, path
        gate = self._runtime.gate
        revoked = gate.swap_persona(old.persona_id, new.persona_id) if old is not new else []
        self._runtime.set_persona_defaults(new.persona_id, gate_defaults(new))
        self._audit(old, new, path, revoked)
        if path is not None:
            self._runtime.settings.set(SETTING_ACTIVE, new.persona_id)
        self._bus.publish(
            PersonaActivated(
                persona_id=new.persona_id,
                name=new.summary.name,
                tagline=new.summary.tagline,
                content_hash=new.content_hash,
                palette=tuple(sorted(new.visual.palette.items())),
                shape=new.visual.shape,
                trusted=new.summary.trusted,
                clamps=clamp_lines(new),
                blink_rate=new.visual.blink_rate,
                idle_motion=new.visual.idle_motion,
                gaze_style=new.visual.gaze_style,
            ),
            source_layer=SOURCE,
        )

    def _audit(
        self, old: CompiledPersona, new: CompiledPersona, path: Path | None, revoked: list[str]
    ) -> None:
        audit = self._runtime.audit
        if audit is None:
            return
        detail = {
            "event": "persona_swap",
            "from": old.persona_id,
            "to": new.persona_id,
            "from_hash": old.content_hash,
            "to_hash": new.content_hash,
            "trusted": new.summary.trusted,
            "preset": new.policy.preset.value,
            "clamps": list(clamp_lines(new)),
            "revoked_grants": revoked,
        }
        try:
            audit.append(
                AuditEntry(
                    actor="user",
                    capability="",
                    resource=str(path or "built-in:minimum-trust"),
                    decision="persona_swap",
                    reason="clamped" if new.policy.clamps else "",
                    detail=detail,
                )
            )
        except AuditWriteError as exc:
            _log.warning("persona swap not audited: %s", exc)
