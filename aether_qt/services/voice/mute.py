"""The app-wide microphone switch: "Mute microphone" in the tray, "Unmute" on the banner.

One :class:`MicMute` lives as long as the app; the tray, the main window and
the :class:`~aether_qt.services.voice.host.VoiceHost` share it (the voice host
starts later, once the model has loaded, and reads the switch then). Muting is
not a policy decision: it only ever takes the microphone away, so it needs no
gate and no approval. While muted, push-to-talk never opens the microphone and
a live capture stops at once; what was heard is dropped, not sent. Each change
is published as ``voice.did_change_state`` (``muted``, or ``idle`` again) so
every view of the voice state follows.
"""

from __future__ import annotations

from typing import Final

from PySide6.QtCore import QObject, Signal

from aether_qt.core.bus import EventBus
from aether_qt.core.events import VoiceStateChanged

SOURCE: Final = "media"
MUTED_MESSAGE: Final = "The microphone is muted: push-to-talk does nothing until you unmute it."


class MicMute(QObject):
    """Whether voice input is muted (see the module docstring).

    Signals:
        sig_muted_changed(bool): the new state, after each change.
    """

    sig_muted_changed = Signal(bool)

    def __init__(
        self, *, bus: EventBus | None = None, muted: bool = False, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._bus = bus
        self._muted = muted

    @property
    def muted(self) -> bool:
        """Whether voice input is muted now."""
        return self._muted

    def set_muted(self, muted: bool) -> None:
        """Mute or unmute; a no-op when nothing changes."""
        if muted == self._muted:
            return
        self._muted = muted
        if self._bus is not None:
            payload = VoiceStateChanged(
                state="muted" if muted else "idle", message=MUTED_MESSAGE if muted else ""
            )
            self._bus.publish(payload, source_layer=SOURCE, change_id=None)
        self.sig_muted_changed.emit(muted)
