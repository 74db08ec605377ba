"""The wizard's first pages: what stays local, where the keys live, the privacy posture.

Each page only collects (see :mod:`~aether_qt.widgets.onboarding.choices`); the
keys page is also the one page a fresh home without a keyring must answer
before Aether opens its data, so it never lets the user go on without a choice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from aether_qt.widgets.onboarding.choices import KeyStorage, OnboardingChoices, OnboardingPage


def text(words: str, parent: QWidget | None = None, *, name: str = "") -> QLabel:
    """A wrapped paragraph (rich text off: nothing from a file is ever interpreted)."""
    label = QLabel(words, parent)
    label.setWordWrap(True)
    label.setTextFormat(label.textFormat().PlainText)
    if name:
        label.setObjectName(name)
    return label


def radio_group(
    page: QWidget, layout: QVBoxLayout, options: Sequence[tuple[str, str, str]]
) -> tuple[QButtonGroup, dict[str, QRadioButton]]:
    """Radio buttons with a grey line of explanation under each; (value, label, explanation)."""
    group = QButtonGroup(page)
    buttons: dict[str, QRadioButton] = {}
    for value, label, explanation in options:
        button = QRadioButton(label, page)
        button.setObjectName(f"choice_{value}")
        group.addButton(button)
        buttons[value] = button
        layout.addWidget(button)
        if explanation:
            note = text(explanation, page)
            note.setContentsMargins(24, 0, 0, 8)
            note.setBuddy(button)
            layout.addWidget(note)
    return group, buttons


def checked_value(buttons: dict[str, QRadioButton]) -> str | None:
    """The value of the checked button, if any."""
    return next((value for value, button in buttons.items() if button.isChecked()), None)


class LocalPage(OnboardingPage):
    """What never leaves the machine, and what the gate asks about: plain words, nothing to choose."""

    def __init__(self, choices: OnboardingChoices, parent: QWidget | None = None) -> None:
        super().__init__(choices, parent)
        self.setObjectName("page_local")
        self.setTitle("Welcome to Aether")
        self.setSubTitle("A companion that lives on this computer. First, what stays here.")
        layout = QVBoxLayout(self)
        for words in (
            "• What you say, what Aether remembers and your settings are kept on this computer, encrypted.",
            "• Nothing is sent to the internet unless you add a remote model and allow it; even then, "
            "anything sensitive stays here.",
            "• Before Aether does something on your behalf (changes a file, opens a web page, listens "
            "to the microphone, downloads something) it asks you, unless you told it that it may.",
            "• Every decision is written to a log that cannot be changed unnoticed; you can read it in "
            "the trust centre at any time.",
            "The next pages let you choose how much Aether may do. You can change everything later.",
        ):
            layout.addWidget(text(words, self))
        layout.addStretch(1)


class KeysPage(OnboardingPage):
    """Where Aether's keys live: the keyring when one works, else the user's clear choice.

    Args:
        choices: the shared choices.
        keyring_works: probes the keyring (the "Check again" button calls it again).
        current: the key storage in use now, to start from.
    """

    def __init__(
        self,
        choices: OnboardingChoices,
        keyring_works: Callable[[], bool],
        current: KeyStorage | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(choices, parent)
        self.setObjectName("page_keys")
        self._probe = keyring_works
        self._works = False
        self.setTitle("Keeping Aether's keys safe")
        self.setSubTitle(
            "Aether locks its data and seals its log with keys that must be kept somewhere safe."
        )
        layout = QVBoxLayout(self)
        self.found = text(
            "Your computer has a keyring (a safe place for passwords), and Aether keeps its keys there. "
            "Nothing to do here.",
            self,
            name="keyring_found",
        )
        layout.addWidget(self.found)
        self.missing = QWidget(self)
        inner = QVBoxLayout(self.missing)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addWidget(text("No keyring answered on this computer. Choose what Aether should do:", self))
        self.group, self.buttons = radio_group(
            self.missing,
            inner,
            [
                (
                    KeyStorage.KEYRING.value,
                    "Set up a &keyring (recommended)",
                    "Install and unlock a keyring, for example GNOME Keyring or KWallet, then press "
                    "Check again.",
                ),
                (
                    KeyStorage.KEY_FILE.value,
                    "Keep the keys in a f&ile on this computer",
                    "A file only your account can read, in Aether's settings folder. Anyone who can use "
                    "your account could copy it. Aether shows a small 'Keys on disk' note while it is used.",
                ),
                (
                    KeyStorage.READ_ONLY.value,
                    "Stay &read-only",
                    "Aether can chat, but refuses every action: no files, no reminders, no downloads, "
                    "no memories. You can run the setup again later.",
                ),
            ],
        )
        row = QHBoxLayout()
        self.check_again = QPushButton("&Check again", self.missing)
        self.check_again.setObjectName("check_again")
        self.check_again.clicked.connect(self.recheck)
        self.status = text("", self.missing, name="keyring_status")
        row.addWidget(self.check_again)
        row.addWidget(self.status, 1)
        inner.addLayout(row)
        layout.addWidget(self.missing)
        layout.addStretch(1)
        self.group.buttonToggled.connect(lambda *_: self._refresh())
        if current is not None and current is not KeyStorage.KEYRING:
            self.buttons[current.value].setChecked(True)
        self.recheck()

    def initializePage(self) -> None:
        """Put the keyboard on the choices (the chosen one, else the first): arrows then pick one."""
        if not self._works:
            start = self.group.checkedButton() or self.buttons[KeyStorage.KEYRING.value]
            start.setFocus()

    @property
    def keyring_found(self) -> bool:
        """Whether the last probe found a working keyring."""
        return self._works

    def recheck(self) -> None:
        """Probe the keyring again (a keyring set up meanwhile is used at once)."""
        self._works = self._probe()
        self.found.setVisible(self._works)
        self.missing.setVisible(not self._works)
        if not self._works and self.buttons[KeyStorage.KEYRING.value].isChecked():
            self.status.setText("Still no keyring. Set one up and unlock it, then check again.")
        else:
            self.status.setText("")
        self._refresh()

    def _refresh(self) -> None:
        waiting = not self._works and self.buttons[KeyStorage.KEYRING.value].isChecked()
        if waiting and not self.status.text():
            self.status.setText("Set up and unlock a keyring, then press Check again.")
        elif not waiting:
            self.status.setText("")
        self.completeChanged.emit()

    def choice(self) -> KeyStorage | None:
        """What the page would record now (None: nothing valid chosen yet)."""
        if self._works:
            return KeyStorage.KEYRING
        value = checked_value(self.buttons)
        if value is None or value == KeyStorage.KEYRING.value:
            return None  # a keyring that does not work yet cannot be chosen
        return KeyStorage(value)

    def isComplete(self) -> bool:
        """The user may go on once the keyring works or another choice is made."""
        return self.choice() is not None

    def record(self) -> None:
        """Copy the key choice."""
        self.choices.key_storage = self.choice()


PRIVACY_OPTIONS = (
    (
        "local-only",
        "&Only on this computer",
        "Every answer comes from a model on this computer. Nothing you say leaves it.",
    ),
    (
        "remote-non-sensitive",
        "A remote model for &everyday talk",
        "When you have added a remote model, it answers ordinary messages. Anything that looks "
        "sensitive, your memories and the contents of your files are answered here.",
    ),
    (
        "remote",
        "A remote model for &most things",
        "A remote model answers what it can; memories you marked sensitive are left out, and the "
        "sensitive things you say and the contents of your files still never leave.",
    ),
)


class PrivacyPage(OnboardingPage):
    """The privacy posture: local only, remote for non-sensitive turns, or remote allowed."""

    def __init__(
        self, choices: OnboardingChoices, current: str | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(choices, parent)
        self.setObjectName("page_privacy")
        self.setTitle("What may leave this computer")
        self.setSubTitle("Only matters once you add a remote model; until then everything stays here.")
        layout = QVBoxLayout(self)
        self.group, self.buttons = radio_group(self, layout, PRIVACY_OPTIONS)
        self.buttons.get(current or "local-only", self.buttons["local-only"]).setChecked(True)
        layout.addStretch(1)

    def record(self) -> None:
        """Copy the posture."""
        self.choices.privacy = checked_value(self.buttons)
