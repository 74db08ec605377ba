"""The conversation in the desktop app: the conductor and the router on their own QThreads.

:class:`QtConversation` implements :class:`~aether_qt.widgets.ports.Conversation`
for the widgets. Two workers, each a ``QObject`` moved to its own ``QThread``
(STYLE.md habit 4):

* the **interaction** worker runs :meth:`Conductor.run_turn` (it blocks on the
  turn's queue, so never on the GUI thread);
* the **router** worker loads the model at start-up (progress published as
  ``router.did_change_model_status``) and runs every generation job the
  conductor spawns, one at a time.

Requests cross threads as queued signals to slots of the workers; results
come back as bus events through :class:`~aether_qt.core.bus.QtBusBridge`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from aether_qt.core.bus import EventBus
from aether_qt.core.events import ModelStatusChanged
from aether_qt.core.qt_threads import WorkerThread
from aether_qt.engines.router.router import ModelStatus, Router
from aether_qt.policy.decisions import ApprovalChoice, Decision
from aether_qt.services.interaction.conductor import Conductor

_log = logging.getLogger(__name__)
STOP_TIMEOUT_MS = 5000
ROUTER_STOP_TIMEOUT_MS = 60_000  # preparing and loading the model cannot be interrupted; quitting waits
REGENERATE, EDIT, CONTINUE = "regenerate", "edit", "continue"


class _InteractionWorker(QObject):
    """Runs turns, one after another, in the interaction thread."""

    def __init__(self, conductor: Conductor) -> None:
        super().__init__()
        self._conductor = conductor

    @Slot(str, str, str)
    def _on_submit_requested(self, text: str, source: str, turn_id: str) -> None:
        try:
            self._conductor.run_turn(text, source=source, turn_id=turn_id)
        except Exception:  # a bug: logged with its traceback; the UI keeps working
            _log.exception("turn %s failed", turn_id)

    @Slot(str, str, str)
    def _on_redo_requested(self, kind: str, text: str, turn_id: str) -> None:
        """Regenerate, edit and resend, or continue: one conductor method each."""
        try:
            if kind == REGENERATE:
                self._conductor.regenerate(turn_id=turn_id)
            elif kind == EDIT:
                self._conductor.edit_last(text, turn_id=turn_id)
            elif kind == CONTINUE:
                self._conductor.continue_reply(turn_id=turn_id)
        except Exception:  # a bug: logged with its traceback; the UI keeps working
            _log.exception("turn %s (%s) failed", turn_id, kind)


class _RouterWorker(QObject):
    """Loads the model and runs generation jobs in the router thread."""

    def __init__(self, router: Router, bus: EventBus, system_prompt: Callable[[], str]) -> None:
        super().__init__()
        self._router, self._bus, self._system_prompt = router, bus, system_prompt
        self.last_status: ModelStatusChanged | None = None  # set on the router thread (one assignment)

    @Slot()
    def _on_start_requested(self) -> None:
        self._router.start(self._publish, system_prompt=self._system_prompt)  # read once loaded

    @Slot(object)
    def _on_job_requested(self, job: Callable[[], None]) -> None:
        job()

    def _publish(self, status: ModelStatus) -> None:
        self.last_status = ModelStatusChanged(status.model_id, status.status, status.progress, status.message)
        self._bus.publish(self.last_status, source_layer="L4")


class QtConversation(QObject):
    """The conversation the widgets drive (see :class:`.conversation.Conversation`).

    Signals:
        sig_submit_requested(str, str, str): text, source, turn id -> interaction worker.
        sig_redo_requested(str, str, str): regenerate, edit or continue; text; turn id -> interaction worker.
        sig_job_requested(object): a generation job -> router worker.
        sig_start_requested(): load the model -> router worker.
    """

    sig_submit_requested = Signal(str, str, str)
    sig_redo_requested = Signal(str, str, str)
    sig_job_requested = Signal(object)
    sig_start_requested = Signal()

    def __init__(
        self,
        *,
        router: Router,
        bus: EventBus,
        system_prompt: Callable[[], str],
        make_conductor: Callable[[Callable[[Callable[[], None]], None]], Conductor],
    ) -> None:
        super().__init__()
        self._router, self._bus = router, bus
        self._conductor = make_conductor(self.sig_job_requested.emit)
        self._interaction = _InteractionWorker(self._conductor)
        self._router_worker = _RouterWorker(router, bus, system_prompt)
        self._threads = (
            WorkerThread("aether-interaction", stop_timeout_ms=STOP_TIMEOUT_MS, parent=self),
            WorkerThread("aether-router", stop_timeout_ms=ROUTER_STOP_TIMEOUT_MS, parent=self),
        )
        self._threads[0].adopt(self._interaction)
        self._threads[1].adopt(self._router_worker)
        self.sig_submit_requested.connect(self._interaction._on_submit_requested)
        self.sig_redo_requested.connect(self._interaction._on_redo_requested)
        self.sig_job_requested.connect(self._router_worker._on_job_requested)
        self.sig_start_requested.connect(self._router_worker._on_start_requested)

    @property
    def conductor(self) -> Conductor:
        """The conductor (for tests and the composition root)."""
        return self._conductor

    @property
    def router(self) -> Router:
        """The router (the composition root lends its CPU share to voice)."""
        return self._router

    def start(self) -> None:
        """Start both threads and begin loading the model (returns at once)."""
        for thread in self._threads:
            thread.start()
        self.sig_start_requested.emit()

    def stop(self) -> None:
        """Cancel the running turn, stop both threads, free the model. Idempotent."""
        self._conductor.cancel("user")
        for thread in self._threads:
            thread.stop()
        self._router.stop()

    # ------------------------------------------------------------------ Conversation

    def submit(self, text: str, *, source: str = "typed") -> str | None:
        """Start a turn (a running one is cancelled first); None for empty input."""
        if not text.strip():
            return None
        self._conductor.cancel("superseded")
        turn_id = f"turn_{uuid.uuid4().hex[:12]}"
        self.sig_submit_requested.emit(text, source, turn_id)
        return turn_id

    def regenerate(self) -> str | None:
        """Answer the last message again, replacing its reply (a running turn is cancelled first)."""
        return self._redo(REGENERATE)

    def edit_last(self, text: str) -> str | None:
        """Replace the last message (and its reply) by ``text``; None for empty text."""
        return self._redo(EDIT, text) if text.strip() else None

    def continue_reply(self) -> str | None:
        """Ask the model to go on with the last reply, which was cut at the length limit."""
        return self._redo(CONTINUE)

    def _redo(self, kind: str, text: str = "") -> str:
        self._conductor.cancel("superseded")
        turn_id = f"turn_{uuid.uuid4().hex[:12]}"
        self.sig_redo_requested.emit(kind, text, turn_id)
        return turn_id

    def cancel(self) -> None:
        """Cancel the running turn."""
        self._conductor.cancel("user")

    def answer(self, ticket_id: str, choice: ApprovalChoice) -> Decision:
        """Answer a ticket; an allowed pending action runs once (small file work, on this thread)."""
        decision, _result = self._conductor.answer(ticket_id, choice)
        return decision

    def create_folder(self, ticket_id: str) -> str:
        """Create the missing folder of a waiting file action (the click approves it); one sentence."""
        return self._conductor.folders.create(ticket_id)

    def move_to_folder(self, ticket_id: str, folder: Path) -> str:
        """Ask again for a waiting file action with its file in ``folder``; one sentence."""
        return self._conductor.folders.move(ticket_id, folder)

    def republish_model_status(self) -> None:
        """Publish the model's last status again (GUI thread), for widgets built after it was published.

        The model starts loading before the window exists: a quick "missing" or
        "ready" published before the window subscribed would otherwise never reach
        it. Nothing is published when the router has said nothing yet (what it says
        next reaches every subscriber); a repeated status changes nothing.
        """
        last = self._router_worker.last_status
        if last is not None:
            self._bus.publish(last, source_layer="L4")

    def model_ready(self) -> bool:
        """Whether the local model is loaded."""
        return self._router.model_ready()

    def use_model(self, model_id: str) -> None:
        """Switch to a registered model: it loads on the router thread, after any running job."""
        self._router.select(model_id)
        self.sig_start_requested.emit()
