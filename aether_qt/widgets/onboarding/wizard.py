"""The onboarding wizard: its pages collect, Finish applies through the port, Cancel changes nothing.

Page order: what stays local, keys, privacy posture, persona, [voice], [model],
permission preset, memory retention, ready. The voice and model pages are built
elsewhere and handed in (``None`` skips them). At first start on a machine
without a keyring the keys page comes first of all (``keys_first``): its answer
decides how Aether opens its data, so the welcome page follows it.
"""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget, QWizard, QWizardPage

from aether_qt.core.errors import ExplainedError
from aether_qt.widgets.onboarding.choice_pages import PersonaPage, PresetPage, ReadyPage, RetentionPage
from aether_qt.widgets.onboarding.choices import KeyStorage, OnboardingChoices
from aether_qt.widgets.onboarding.first_pages import KeysPage, LocalPage, PrivacyPage
from aether_qt.widgets.onboarding.ports import Onboarding

WIZARD_SIZE = QSize(760, 600)
TITLE = "Set up Aether"
LOGO_SIZE = QSize(48, 48)


class OnboardingWizard(QWizard):
    """The first-run wizard (also "Run setup again…" and ``aether --onboarding``).

    Args:
        port: reads the home and applies the choices at Finish.
        voice_page: the voice page (text or voice, microphone test, hotkey), or None to skip it.
        model_page: the model page, or None to skip it.
        keys_first: show the keys page before the welcome page (no keyring, no choice yet).
        choices: the shared choices (a fresh one by default; the voice and model pages share it).
        icon: the app's icon for the title bar and the pages' header (default: the application's).

    Attributes:
        choices: what the pages collected.
        applied: the sentences :meth:`Onboarding.apply` returned (after Finish).
    """

    def __init__(
        self,
        port: Onboarding,
        *,
        voice_page: QWizardPage | None = None,
        model_page: QWizardPage | None = None,
        keys_first: bool = False,
        choices: OnboardingChoices | None = None,
        icon: QIcon | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("onboarding_wizard")
        self.setWindowTitle(TITLE)
        logo = icon if icon is not None else QApplication.windowIcon()  # the app's icon by default
        if not logo.isNull():
            self.setWindowIcon(logo)
            self.setPixmap(QWizard.WizardPixmap.LogoPixmap, logo.pixmap(LOGO_SIZE))
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.resize(WIZARD_SIZE)
        self._port = port
        self.choices = choices if choices is not None else OnboardingChoices()
        self.applied: list[str] = []
        now = port.current()
        personas = port.personas()
        storage = now.key_storage
        self.local_page = LocalPage(self.choices)
        self.keys_page = KeysPage(self.choices, port.keyring_works, storage)
        self.privacy_page = PrivacyPage(self.choices, now.privacy)
        self.persona_page = PersonaPage(self.choices, personas, now.persona_id)
        self.preset_page = PresetPage(self.choices, now.preset)
        self.retention_page = RetentionPage(self.choices, now.retention)
        self.ready_page = ReadyPage(self.choices, {p.persona_id: p.name for p in personas})
        first = [self.keys_page, self.local_page] if keys_first else [self.local_page, self.keys_page]
        pages = [
            *first,
            self.privacy_page,
            self.persona_page,
            voice_page,
            model_page,
            self.preset_page,
            self.retention_page,
            self.ready_page,
        ]
        self.pages = [page for page in pages if page is not None]
        for page in self.pages:
            self.addPage(page)
        self.currentIdChanged.connect(self._show_title)

    def _show_title(self, _page_id: int) -> None:
        """Name the page in the window title too (the task bar and screen readers see it)."""
        page = self.currentPage()
        self.setWindowTitle(f"{TITLE}: {page.title()}" if page is not None and page.title() else TITLE)

    def accept(self) -> None:
        """Finish: record the last page, apply every choice through the port, then close."""
        try:
            self.applied = self._port.apply(self.choices)
        except ExplainedError as exc:
            QMessageBox.warning(self, "Some choices were not saved", str(exc))
        super().accept()

    @property
    def key_storage(self) -> KeyStorage | None:
        """The key choice the user made (None before the keys page was passed)."""
        return self.choices.key_storage
