"""What the onboarding wizard's pages collect, and the base class every page derives from.

Pages only *collect*: each copies what the user picked into the shared
:class:`OnboardingChoices` when the user moves past it (:meth:`OnboardingPage.record`).
Nothing changes until the user presses Finish; the wizard then applies the
choices through its port (policy changes are gate decisions and audited).
Cancelling therefore leaves the safe defaults untouched. The few actions that
must happen on a page itself (a microphone test, a consented speech-model
download, testing a remote endpoint) go through the page's own ports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from PySide6.QtWidgets import QWidget, QWizardPage


class KeyStorage(StrEnum):
    """Where the audit and data keys live."""

    KEYRING = "keyring"  # the OS keyring (Secret Service): the default when one works
    KEY_FILE = "key_file"  # a 0600 file in the home, shown as the "keys on disk" flag
    READ_ONLY = "read_only"  # no keys: chat only, every side effect denied


class ModelKind(StrEnum):
    """Which kind of language model answers."""

    BUNDLED = "bundled"  # the small model that ships as a package
    GGUF = "gguf"  # a GGUF file the user has
    CATALOGUE = "catalogue"  # a catalogue model, downloaded through the gate
    REMOTE = "remote"  # an OpenAI-compatible endpoint (a provider with its key in the keyring)


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """The model picked on the model page.

    Attributes:
        kind: see :class:`ModelKind`.
        path: the GGUF file (``GGUF``), or the downloaded file (``CATALOGUE``, once fetched).
        name: the catalogue name (``CATALOGUE``) or the provider name (``REMOTE``).
    """

    kind: ModelKind
    path: Path | None = None
    name: str = ""


@dataclass(slots=True)
class OnboardingChoices:
    """Everything the wizard asks. ``None`` means "not asked or left as it is"."""

    key_storage: KeyStorage | None = None
    privacy: str | None = None  # an engines.router.providers.Posture value
    persona_id: str | None = None
    voice: bool | None = None  # True: push-to-talk and spoken replies; False: text only
    ptt_key: str | None = None  # a QKeySequence portable string, e.g. "Ctrl+Alt+Space"
    speak_replies: bool | None = None
    stt_model: str | None = None  # the speech model folder name, once installed
    model: ModelChoice | None = None
    preset: str | None = None  # a policy.capabilities.Preset value
    retention: str | None = None  # an engines.memory.retention value
    notes: list[str] = field(default_factory=list)  # lines for the "ready" page's summary


class OnboardingPage(QWizardPage):
    """A wizard page that writes the user's pick into the shared choices when they move on."""

    def __init__(self, choices: OnboardingChoices, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.choices = choices

    def record(self) -> None:
        """Copy the widgets' state into :attr:`choices` (override; called by :meth:`validatePage`)."""

    def validatePage(self) -> bool:
        """Record the page's choice, then let the wizard move on."""
        self.record()
        return True
