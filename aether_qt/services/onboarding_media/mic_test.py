"""The wizard's microphone test: the default microphone opened under a ``media.mic`` permit, levels out.

:class:`MicTester` asks the gate as the user (pressing "Test microphone" is the
approval of that one capture, see :mod:`.gate_acts`), starts the capture
through :meth:`Effectors.start_capture`, whose lease the
:class:`~aether_qt.engines.media.qt_audio.MicCapture` claims, and hands each
chunk's loudness to the page. The device lives in its own worker thread, like
the app's media thread; the levels come back to the GUI thread as queued
signals. Nothing is recorded or kept: only the loudness leaves the thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Slot

from aether_qt.core.qt_threads import WorkerThread
from aether_qt.engines.media.qt_audio import MicCapture
from aether_qt.policy.contracts import PermitError
from aether_qt.policy.decisions import Allow
from aether_qt.policy.effects import Effectors
from aether_qt.policy.leases import MICROPHONE
from aether_qt.services.onboarding_media.gate_acts import USER, GateLike, allow_once, refusal_words

_log = logging.getLogger(__name__)
MIC_THREAD_STOP_MS = 3000
REVOKED = "The microphone was turned off: its permission ended."


class MicTester(QObject):
    """Opens the microphone for the test and reports its level (build it on the GUI thread).

    Args:
        gate: decides ``media.mic`` for the user.
        effectors: the current effectors (read at each start: the runtime may rebuild them).
        device: the input to open (None: the system default).
    """

    def __init__(
        self, *, gate: GateLike, effectors: Callable[[], Effectors], device: str | None = None
    ) -> None:
        super().__init__()
        self._gate, self._effectors, self._device = gate, effectors, device
        self._thread = WorkerThread("aether-mic-test", stop_timeout_ms=MIC_THREAD_STOP_MS, parent=self)
        self._mic: MicCapture | None = None
        self._level: Callable[[float], None] = lambda _rms: None
        self._problem: Callable[[str], None] = lambda _words: None

    @property
    def running(self) -> bool:
        """Whether the microphone is open for the test."""
        return self._mic is not None

    def start(self, level: Callable[[float], None], problem: Callable[[str], None]) -> None:
        """Open the microphone; ``level(rms)`` for each chunk, ``problem(words)`` if it cannot or stops."""
        self.stop()
        self._level, self._problem = level, problem
        decision = allow_once(self._gate, "media.mic", MICROPHONE)
        if not isinstance(decision, Allow):
            problem(refusal_words(decision, "the microphone test"))
            return
        effectors = self._effectors()
        mic = MicCapture(leases=effectors.capture_leases, device=self._device)
        if not self._thread.running:
            self._thread.start()
        self._thread.adopt(mic)
        mic.sig_level_measured.connect(self._on_mic_level_measured)
        mic.sig_error_occurred.connect(self._on_mic_error_occurred)
        mic.sig_capture_revoked.connect(self._on_mic_capture_revoked)
        try:
            effectors.start_capture(decision.permit, mic.start, source=MICROPHONE, persona=USER)
        except PermitError as exc:
            _log.warning("the microphone test was not allowed: %s", exc)
            mic.deleteLater()
            problem("Your permission settings do not allow the microphone test.")
            return
        self._mic = mic

    def stop(self) -> None:
        """Close the microphone (idempotent); the thread stays for the next test."""
        mic, self._mic = self._mic, None
        if mic is not None:
            mic.stop()  # waits in its thread until the device is closed
            mic.deleteLater()

    def close(self) -> None:
        """Close the microphone and end the thread (idempotent)."""
        self.stop()
        self._thread.stop()

    @Slot(float)
    def _on_mic_level_measured(self, rms: float) -> None:
        if self._mic is not None:
            self._level(rms)

    @Slot(str)
    def _on_mic_error_occurred(self, message: str) -> None:
        self.stop()
        self._problem(f"The microphone did not work: {message}.")

    @Slot()
    def _on_mic_capture_revoked(self) -> None:
        self.stop()
        self._problem(REVOKED)
