"""Posture banners: one area on top of the main window, most urgent condition first.

A banner mirrors one :class:`~aether_qt.policy.runtime.PostureFlag` of the policy
runtime, or a condition reported on the bus (no model, offline, voice unavailable
...) and set with :meth:`BannerArea.set_condition`. Banners are never dismissed by
the user: one clears only when its condition is gone (DESIGN.md §11). A banner
may carry action buttons (the "no model" banner offers "Choose a model…"; the
"storage full" banner, which names the data folder and the space Aether wants
there, offers "Check again" and "Copy folder path"; the "remote model" banner
offers "Costs…"). Every banner that names a problem carries what fixes it, or at least what
explains it (:data:`ACTIONS`): the window decides what each action does. A
banner whose sentence changes (a countdown) is updated in place, not rebuilt.

The persona-error banner follows the persona events: ``persona.did_fail`` shows
where the active persona's file broke and which persona stays in use;
``persona.did_recover``, or the same persona activated again, clears it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from aether_qt.core.events import PersonaActivated, PersonaFailed, PersonaRecovered
from aether_qt.policy.runtime import PostureFlag
from aether_qt.policy.user_words import user_notice

if TYPE_CHECKING:
    from aether_qt.policy.runtime import PolicyRuntime

# flag -> (background, text colour, short title)
SEVERITY: Final[dict[str, tuple[str, str, str]]] = {
    "data_locked": ("#b71c1c", "#ffffff", "Data locked"),
    "audit_broken": ("#c62828", "#ffffff", "Audit broken"),
    "storage_full": ("#ad1457", "#ffffff", "Storage full"),
    "policy_degraded": ("#ef6c00", "#ffffff", "Policy degraded"),
    "keys_on_disk": ("#f9d34c", "#3a2f00", "Keys on disk"),
    "paused": ("#f9d34c", "#3a2f00", "Paused"),
    "no_model": ("#546e7a", "#ffffff", "No model"),
    "offline": ("#78909c", "#ffffff", "Offline"),
    "remote_active": ("#1565c0", "#ffffff", "Remote model"),
    "remote_unavailable": ("#5c6bc0", "#ffffff", "Remote unavailable"),
    "microphone_live": ("#2e7d32", "#ffffff", "Microphone live"),
    "microphone_muted": ("#6d4c41", "#ffffff", "Microphone muted"),
    "voice": ("#90a4ae", "#102027", "Voice"),
    "voice_unavailable": ("#90a4ae", "#102027", "Voice unavailable"),
    "persona_error": ("#b39ddb", "#1f1235", "Persona error"),
    "no_opengl": ("#cfd8dc", "#263238", "No OpenGL"),
}
_FALLBACK: Final = ("#90a4ae", "#102027", "Notice")
CONDITION_PRIORITY: Final = 10
"""Conditions from the bus rank after the runtime's own flags (0..3)."""
CONDITION_RANKS: Final[dict[str, int]] = {
    "no_model": CONDITION_PRIORITY,
    "offline": CONDITION_PRIORITY + 1,
    "remote_active": CONDITION_PRIORITY + 2,
    "remote_unavailable": CONDITION_PRIORITY + 2,  # shown instead of remote_active, never with it
    "microphone_live": CONDITION_PRIORITY + 3,
    "microphone_muted": CONDITION_PRIORITY + 3,
    "voice_unavailable": CONDITION_PRIORITY + 4,
    "persona_error": CONDITION_PRIORITY + 6,
    "no_opengl": CONDITION_PRIORITY + 7,
}
"""DESIGN.md §11 order among bus conditions; an unknown one ranks just above the persona error."""
UNKNOWN_RANK: Final = CONDITION_PRIORITY + 5
CONDITION_PLACES: Final[dict[str, str]] = {
    "no_model": "the model file",
    "voice_unavailable": "the microphone or the speaker",
    "microphone_live": "the microphone",
    "memory": "Aether's memory",
    "persona_error": "the persona file",
    "remote_unavailable": "the online model",
}
"""What a condition's problem is about, for the sentence that replaces a raw error."""
PERSONA_ERROR: Final = "persona_error"
STORAGE_FULL: Final = "storage_full"
CHOOSE_MODEL: Final = "choose_model"
CHECK_AGAIN: Final = "check_again"
COPY_FOLDER: Final = "copy_folder"
OPEN_COSTS: Final = "open_costs"
VERIFY_AUDIT: Final = "verify_audit"
ACKNOWLEDGE: Final = "acknowledge"
EXPLAIN: Final = "explain"
SET_UP_KEYS: Final = "set_up_keys"
RESUME: Final = "resume"
VOICE_SETTINGS: Final = "voice_settings"
UNMUTE: Final = "unmute"
SHOW_ERROR: Final = "show_error"
COPY_PATH: Final = "copy_path"
ACTIONS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "audit_broken": ((VERIFY_AUDIT, "Verify…"), (ACKNOWLEDGE, "Acknowledge…"), (EXPLAIN, "What to do…")),
    "data_locked": ((EXPLAIN, "What to do…"),),
    "policy_degraded": ((SET_UP_KEYS, "Set up keys…"), (EXPLAIN, "What to do…")),
    "keys_on_disk": ((SET_UP_KEYS, "Set up a keyring…"),),
    "paused": ((RESUME, "Resume"),),
    "no_model": ((CHOOSE_MODEL, "Choose a model…"),),
    STORAGE_FULL: ((CHECK_AGAIN, "Check again"), (COPY_FOLDER, "Copy folder path")),
    "remote_active": ((OPEN_COSTS, "Costs…"),),
    "voice_unavailable": ((VOICE_SETTINGS, "Voice settings…"),),
    "microphone_muted": ((UNMUTE, "Unmute"),),
    PERSONA_ERROR: ((SHOW_ERROR, "Show error…"), (COPY_PATH, "Copy file path")),
    "no_opengl": ((EXPLAIN, "Why?"),),
}
"""Flag -> its action buttons: (action id, label), the first one being :attr:`Banner.action`.

"Copy folder path" rather than "Open folder": opening a file manager starts a
process, a side effect the gate must audit, and on a full disk nothing can be
audited; the path in the clipboard works in any file manager or terminal.
"""


def persona_error_text(failed: PersonaFailed, keeping: str) -> str:
    """The persona-error sentence: where the file broke, why, and which persona stays in use."""
    where = f"{failed.path}:{failed.line}:{failed.column}"
    return f"Persona file broken: {where}: {failed.reason} — keeping {keeping or 'the last good persona'}"


def banner_colours(flag: str) -> tuple[str, str]:
    """Background and text colour of the banner for ``flag``."""
    background, text, _ = SEVERITY.get(flag, _FALLBACK)
    return background, text


class Banner(QFrame):
    """One coloured strip: a short title, the runtime's sentence and its action buttons.

    Attributes:
        action: the first action button (``None`` without actions).
        buttons: every action button, by action id.
    """

    def __init__(
        self, flag: PostureFlag, *, actions: tuple[tuple[str, str], ...] = (), parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.flag = flag.flag
        background, text, title = SEVERITY.get(flag.flag, _FALLBACK)
        self.setObjectName(f"banner_{flag.flag}")
        self.setStyleSheet(
            f"QFrame#{self.objectName()} {{ background: {background}; border-radius: 6px; }}"
            f"QLabel {{ color: {text}; background: transparent; }}"
        )
        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 7, 12, 7)
        outer.setSpacing(4)
        layout = QHBoxLayout()
        layout.setSpacing(10)
        outer.addLayout(layout)
        if len(actions) > 1:  # several buttons go on their own row: the sentence keeps the banner's width
            row = QHBoxLayout()
            row.setSpacing(10)
            row.addStretch(1)
            outer.addLayout(row)
        else:
            row = layout
        heading = QLabel(f"<b>{title}</b>")
        heading.setTextFormat(Qt.TextFormat.RichText)
        self.message = QLabel(flag.message)
        self.message.setTextFormat(Qt.TextFormat.PlainText)  # persona errors quote user files
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(heading)
        layout.addWidget(self.message, 1)
        self.buttons: dict[str, QPushButton] = {}
        for action_id, label in actions:
            button = QPushButton(label)
            button.setObjectName(f"banner_action_{flag.flag}" if not self.buttons else f"banner_{action_id}")
            button.setProperty("action", action_id)
            button.setStyleSheet(
                f"QPushButton {{ color: {text}; background: transparent; border: 1px solid {text};"
                " border-radius: 4px; padding: 3px 10px; }"
            )
            row.addWidget(button)
            self.buttons[action_id] = button
        self.action: QPushButton | None = next(iter(self.buttons.values()), None)


class BannerArea(QWidget):
    """The stack of posture banners, rebuilt when the set of conditions changes.

    Signals:
        sig_posture_changed(list[str]): the flags now shown, most urgent first.
        sig_action_requested(str, str): an action button was clicked: the banner's flag, the action id.
    """

    sig_posture_changed = Signal(list)
    sig_action_requested = Signal(str, str)

    def __init__(self, *, runtime: PolicyRuntime, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runtime = runtime
        self._conditions: dict[str, str] = {}
        self._disabled_actions: dict[str, str] = {}  # flag -> why its action is unavailable
        self._unavailable: dict[tuple[str, str], str] = {}  # (flag, action) -> why it is unavailable
        self._persona: tuple[str, str] | None = None  # the active persona's id and name
        self._broken_persona: str | None = None  # id of the persona whose file failed ("" unknown)
        self.broken_persona_path = ""  # the broken persona file, while its banner shows
        self._shown: tuple[tuple[str, str], ...] = ()
        self._flags: dict[str, PostureFlag] = {}
        self._banners: list[Banner] = []
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(10, 8, 10, 0)
        self._layout.setSpacing(6)
        self.refresh()

    def flags(self) -> list[str]:
        """The flags currently shown, most urgent first."""
        return [flag for flag, _ in self._shown]

    def banners(self) -> list[Banner]:
        """The banner widgets currently shown, in order."""
        return list(self._banners)

    def banner(self, flag: str) -> Banner | None:
        """The banner shown for ``flag``, if any."""
        return next((b for b in self._banners if b.flag == flag), None)

    def set_condition(self, flag: str, message: str | None) -> None:
        """Show a banner for ``flag`` with ``message``, or clear it with ``None``; refreshes.

        A message that names codes or an exception (a service passing its error on) is
        said in words instead (:func:`~aether_qt.policy.user_words.user_notice`).
        """
        if message is None:
            self._conditions.pop(flag, None)
        else:
            self._conditions[flag] = user_notice(message, where=CONDITION_PLACES.get(flag, "Aether's data"))
        self.refresh()

    def persona_activated(self, persona: PersonaActivated) -> None:
        """Remember the active persona; its activation clears its own error banner."""
        self._persona = (persona.persona_id, persona.name or persona.persona_id)
        if self._broken_persona in {persona.persona_id, ""}:
            self._clear_persona_error()

    def persona_failed(self, failed: PersonaFailed) -> None:
        """Show the persona-error banner: the active persona's file broke, the last good one stays."""
        persona_id, name = self._persona if self._persona is not None else ("", "")
        self._broken_persona = persona_id
        self.broken_persona_path = failed.path
        self.set_condition(PERSONA_ERROR, persona_error_text(failed, name))

    def persona_recovered(self, recovered: PersonaRecovered) -> None:
        """The broken persona file loads again: clear its banner."""
        if self._broken_persona in {recovered.persona_id, ""}:
            self._clear_persona_error()

    def _clear_persona_error(self) -> None:
        self._broken_persona = None
        self.broken_persona_path = ""
        self.set_condition(PERSONA_ERROR, None)

    def disable_action(self, flag: str, why: str) -> None:
        """Keep the action buttons of ``flag``'s banner disabled, with ``why`` as their tooltip."""
        self._disabled_actions[flag] = why
        banner = self.banner(flag)
        for button in banner.buttons.values() if banner is not None else ():
            button.setEnabled(False)
            button.setToolTip(why)

    def set_action_available(self, flag: str, action: str, why_not: str = "") -> None:
        """Enable one action of ``flag``'s banner, or disable it with ``why_not`` as its tooltip."""
        if why_not:
            self._unavailable[(flag, action)] = why_not
        else:
            self._unavailable.pop((flag, action), None)
        banner = self.banner(flag)
        button = banner.buttons.get(action) if banner is not None else None
        if button is not None and flag not in self._disabled_actions:
            button.setEnabled(not why_not)
            button.setToolTip(why_not)

    def posture_flag(self, flag: str) -> PostureFlag | None:
        """The runtime's posture flag ``flag`` as last shown (with its numbers), if shown."""
        return self._flags.get(flag)

    def refresh(self) -> None:
        """Recompute the posture; rebuild only when a condition appeared or cleared."""
        posture = list(self._runtime.posture())
        known = {f.flag for f in posture}
        posture += [
            PostureFlag(flag, CONDITION_RANKS.get(flag, UNKNOWN_RANK), message)
            for flag, message in self._conditions.items()
            if flag not in known
        ]
        posture.sort(key=lambda f: f.priority)
        self._flags = {f.flag: f for f in posture}
        wanted = tuple((f.flag, f.message) for f in posture)
        if wanted == self._shown:
            return
        if [flag for flag, _ in wanted] == self.flags():  # only sentences changed (a countdown): no rebuild
            for banner, (_, message) in zip(self._banners, wanted, strict=True):
                banner.message.setText(message)
            self._shown = wanted
            return
        for old in self._banners:
            self._layout.removeWidget(old)
            old.hide()
            old.deleteLater()
        self._banners = [self._make_banner(flag) for flag in posture]
        for banner in self._banners:
            self._layout.addWidget(banner)
        self._shown = wanted
        self.setVisible(bool(posture))
        self.sig_posture_changed.emit(self.flags())

    def _make_banner(self, flag: PostureFlag) -> Banner:
        banner = Banner(flag, actions=ACTIONS.get(flag.flag, ()), parent=self)
        for action_id, button in banner.buttons.items():
            button.setProperty("flag", flag.flag)
            why_not = self._disabled_actions.get(flag.flag) or self._unavailable.get(
                (flag.flag, action_id), ""
            )
            button.setEnabled(not why_not)
            button.setToolTip(why_not)
            button.clicked.connect(self._on_banner_action_clicked)
        return banner

    def _on_banner_action_clicked(self) -> None:
        sender = self.sender()
        if isinstance(sender, QPushButton):
            self.sig_action_requested.emit(str(sender.property("flag")), str(sender.property("action")))
