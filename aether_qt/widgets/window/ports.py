"""What the main window and the tray need from the rest of the app, beyond ``widgets/ports.py``."""

from __future__ import annotations

from typing import Protocol

from PySide6.QtCore import SignalInstance


class MicrophoneSwitch(Protocol):
    """Mutes voice input for the whole app (the tray's "Mute microphone", the banner's "Unmute").

    While muted, push-to-talk never opens the microphone and a live capture stops
    at once (what was heard is dropped).
    """

    @property
    def muted(self) -> bool:
        """Whether voice input is muted now."""
        ...

    @property
    def sig_muted_changed(self) -> SignalInstance:
        """Emits the new state (True: muted) after each change, whoever made it."""
        ...

    def set_muted(self, muted: bool) -> None:
        """Mute or unmute voice input (returns at once)."""
