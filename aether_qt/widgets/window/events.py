"""What the main window does with the bus events and the persona picker.

Tickets opened on the bus count as pending at once (before the runtime's table
is read again); policy events and a turn's end ask for a coalesced refresh;
model status feeds the status bar and the "no model" banner; posture, voice and
memory conditions become banners; persona events drive the picker and the
persona-error banner. Nothing here blocks: each handler updates widgets and returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from PySide6.QtCore import QObject

from aether_qt.core.events import (
    AuditAppended,
    DecisionMade,
    Envelope,
    GrantIssued,
    GrantRevoked,
    MemoryChanged,
    MemoryStatusChanged,
    ModelStatusChanged,
    PauseChanged,
    PersonaActivated,
    PersonaFailed,
    PersonaRecovered,
    PostureChanged,
    PresetChanged,
    RootsChanged,
    SpeechHeard,
    TicketAnswered,
    TicketOpened,
    TurnEnded,
    VoiceStateChanged,
)
from aether_qt.policy.capabilities import CAPABILITIES
from aether_qt.policy.user_words import explain_error
from aether_qt.widgets.window.voice_banners import LIVE, voice_conditions

if TYPE_CHECKING:
    from aether_qt.widgets.window.host import WindowHost

NO_MODEL_TEXT: Final = "No language model is loaded: Aether answers with reflex replies only."
ChoosePersona = Callable[[str], None]
"""Asks the persona service to switch to this persona id at the next turn boundary (returns at once).

It raises ``ValueError`` (or ``OSError``) when the persona is gone or does not load; the
window shows that sentence and keeps the active persona selected.
"""
_REFRESHING: Final = (
    DecisionMade,
    GrantIssued,
    GrantRevoked,
    AuditAppended,
    PresetChanged,
    RootsChanged,
    PauseChanged,
    TurnEnded,  # a turn may have spent: costs, the remote banner
    MemoryChanged,  # the Memory panel's edits are gate decisions: new audit rows
)


def approval_line(capability: str, resource: str) -> str:
    """One line about an approval for the tray message: what Aether wants to do, and to what."""
    spec = CAPABILITIES.get(capability)
    return f"{spec.description if spec is not None else 'An action'}: {resource}"


def model_status_text(status: ModelStatusChanged) -> str:
    """The status-bar words for a model status event."""
    if status.status == "loading":
        percent = status.progress * 100 if status.progress <= 1 else status.progress
        return f"Loading model… {percent:.0f}%"
    if status.status == "ready":
        return f"Model ready: {status.model_id}" if status.model_id else "Model ready"
    if status.status == "failed":
        return "Model failed to load: reflex replies only"
    return "No model: reflex replies only"


class WindowEvents(QObject):
    """The bus side of one main window.

    Attributes:
        tickets: approval tickets opened on the bus and not yet answered -> their one-line summary.
    """

    def __init__(self, window: WindowHost, *, choose_persona: ChoosePersona | None) -> None:
        super().__init__(window.window())
        self._window = window
        self._choose_persona = choose_persona
        self._voice_message = ""
        self.tickets: dict[str, str] = {}

    def on_event(self, env: Envelope) -> None:
        """Handle one envelope from the bridge (GUI thread)."""
        window, payload = self._window, env.payload
        banners = window.banners
        if isinstance(payload, TicketOpened):
            self.tickets[payload.ticket_id] = approval_line(payload.capability, payload.resource)
            window.refresh_soon()
        elif isinstance(payload, TicketAnswered):
            self.tickets.pop(payload.ticket_id, None)
            window.refresh_soon()
        elif isinstance(payload, ModelStatusChanged):
            self._show_model_status(payload)
        elif isinstance(payload, PostureChanged):
            banners.set_condition(payload.flag, payload.message if payload.active else None)
        elif isinstance(payload, VoiceStateChanged):
            self._voice_message = payload.message
            for flag, message in voice_conditions(payload.state, payload.message).items():
                banners.set_condition(flag, message)
        elif isinstance(payload, SpeechHeard) and self._voice_message and not payload.final:
            banners.set_condition(LIVE, f"{self._voice_message}  “{payload.text}”")
        elif isinstance(payload, MemoryStatusChanged):
            degraded = payload.state in ("fts_only", "unavailable")
            banners.set_condition("memory", payload.message if degraded else None)
        elif isinstance(payload, _REFRESHING):
            window.refresh_soon()
        elif isinstance(payload, PersonaActivated | PersonaFailed | PersonaRecovered):
            self._show_persona_event(payload)

    def _show_persona_event(self, payload: PersonaActivated | PersonaFailed | PersonaRecovered) -> None:
        window = self._window
        picker = window.persona_picker
        if isinstance(payload, PersonaActivated):
            window.banners.persona_activated(payload)
            self.set_persona_status("")
            if picker is not None:
                picker.set_active(payload.persona_id)
        elif isinstance(payload, PersonaFailed):
            window.banners.persona_failed(payload)
            if picker is not None:
                picker.refresh()
        else:
            window.banners.persona_recovered(payload)

    def _show_model_status(self, status: ModelStatusChanged) -> None:
        window = self._window
        window.model_status.setText(model_status_text(status))
        if status.status in {"missing", "failed"}:
            window.banners.set_condition("no_model", status.message or NO_MODEL_TEXT)
        elif status.status == "ready":
            window.banners.set_condition("no_model", None)

    def set_persona_status(self, text: str) -> None:
        """Say in the status bar that a persona switch waits for the turn boundary ("" hides it)."""
        label = self._window.persona_status
        label.setText(text)
        label.setVisible(bool(text))

    def on_persona_chosen(self, persona_id: str) -> None:
        """The picker chose ``persona_id``: ask for the switch, or say why it cannot happen."""
        window = self._window
        picker = window.persona_picker
        if self._choose_persona is None or picker is None:
            return
        row = picker.index_of(persona_id)
        name = (picker.choices[row].name or persona_id) if row >= 0 else persona_id
        try:
            self._choose_persona(persona_id)
        except (OSError, ValueError, KeyError) as exc:  # gone or broken since the list was read
            picker.cancel_pending()
            self.set_persona_status("")
            why = explain_error(exc, where=f"{name}'s persona file")
            window.statusBar().showMessage(f"Could not switch to {name}. {why}", 10_000)
            return
        if picker.pending_id is None:  # back to the active one before the boundary
            self.set_persona_status("")
        else:
            self.set_persona_status(f"Switching to {name} at the next turn boundary…")
