"""The persona engine in the desktop app: the file watcher on its own QThread, the picker's callbacks.

The :class:`~aether_qt.engines.persona.watcher.PersonaWatcher` lives in the
persona thread; a change of the active file recompiles there
(:meth:`PersonaService.file_changed`), so the GUI never parses YAML. When a
persona is activated (picker, CLI, hot reload), the watcher follows the new
file. Swaps themselves happen at turn boundaries (see
:mod:`aether_qt.services.persona.service`).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal, Slot

from aether_qt.core.bus import EventBus
from aether_qt.core.events import Envelope, PersonaActivated
from aether_qt.core.qt_threads import WorkerThread
from aether_qt.engines.persona.registry import PersonaChoice, persona_choices
from aether_qt.engines.persona.watcher import PersonaWatcher
from aether_qt.services.persona.service import PersonaService

_log = logging.getLogger(__name__)
STOP_TIMEOUT_MS = 3000


class _Reloader(QObject):
    """Runs the recompilation in the persona thread."""

    def __init__(self, service: PersonaService) -> None:
        super().__init__()
        self._service = service

    @Slot(str)
    def _on_watcher_file_changed(self, _path: str) -> None:
        try:
            self._service.file_changed()
        except Exception:  # a bug: logged, the last good persona stays
            _log.exception("persona reload failed")


class PersonaHost(QObject):
    """Owns the persona thread and answers the persona picker.

    Signals:
        sig_watch_requested(str): the file to watch -> the watcher in the persona thread.
    """

    sig_watch_requested = Signal(str)

    def __init__(self, *, service: PersonaService, bus: EventBus, debounce_ms: int = 150) -> None:
        super().__init__()
        self._service = service
        self._watcher = PersonaWatcher(debounce_ms=debounce_ms)
        self._reloader = _Reloader(service)
        self._thread = WorkerThread("aether-persona", stop_timeout_ms=STOP_TIMEOUT_MS, parent=self)
        self._thread.adopt(self._watcher, self._reloader)
        self.sig_watch_requested.connect(self._watcher.watch)
        self._watcher.sig_file_changed.connect(self._reloader._on_watcher_file_changed)
        self._subscription = bus.subscribe(PersonaActivated.KIND, self._on_bus_persona_activated)

    def start(self) -> None:
        """Start the persona thread and watch the active persona's file."""
        self._thread.start()
        self._follow()

    def stop(self) -> None:
        """Stop watching and end the thread (idempotent)."""
        self._subscription()
        self._thread.stop(self._watcher.stop)

    def _follow(self) -> None:
        path = self._service.path
        self.sig_watch_requested.emit(str(path) if path is not None else "")

    def _on_bus_persona_activated(self, _env: Envelope) -> None:
        self._follow()  # runs in the publisher's thread; the signal is queued to the watcher

    # ------------------------------------------------------------------ the picker

    def choices(self) -> list[PersonaChoice]:
        """Every persona file for the picker (broken ones with their error)."""
        return persona_choices(self._service.user_dir, self._service.active.persona_id)

    def choose(self, persona_id: str) -> None:
        """Switch persona (applied at the next turn boundary); raises ValueError when it cannot load."""
        self._service.choose(persona_id)
