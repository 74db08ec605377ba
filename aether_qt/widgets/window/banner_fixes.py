"""What each banner's action does: the fix, or at least the explanation, for the problem it names.

The banners (:mod:`~aether_qt.widgets.trust.banners`) only say which action was
clicked; :class:`BannerFixes` carries it out for the main window. Fixes that
belong to another part of the app go out as the window's signals: keys go to
the setup assistant (``sig_onboarding_requested``), voice to the settings
(``sig_settings_requested``); those buttons are disabled, with a tooltip, while
nothing listens. Acknowledging a broken audit log runs the same audited
function as ``aether audit acknowledge``
(:func:`~aether_qt.policy.audit_epoch.acknowledge`), after the user agreed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget

from aether_qt.policy.audit_epoch import AcknowledgeError, acknowledge
from aether_qt.policy.user_words import user_notice
from aether_qt.widgets.trust.banners import (
    ACKNOWLEDGE,
    CHECK_AGAIN,
    CHOOSE_MODEL,
    COPY_FOLDER,
    COPY_PATH,
    EXPLAIN,
    OPEN_COSTS,
    PERSONA_ERROR,
    RESUME,
    SET_UP_KEYS,
    SHOW_ERROR,
    STORAGE_FULL,
    UNMUTE,
    VERIFY_AUDIT,
    VOICE_SETTINGS,
)
from aether_qt.widgets.trust.remote_banners import REMOTE_ACTIVE
from aether_qt.widgets.window.host import Inform

if TYPE_CHECKING:
    from aether_qt.widgets.window.host import WindowHost

AUDIT_TEXT: Final = (
    "Aether keeps a signed log of everything it does. Right now that log cannot be trusted, so Aether "
    "refuses every action (reading, writing, opening) until it can be.\n\n"
    "“Verify…” checks the log again and says what is wrong.\n\n"
    "If you restored an older backup, or the log was lost or damaged, “Acknowledge…” accepts the loss: "
    "Aether starts a new signed chapter of the log that records what was lost, then asks you to restart. "
    "It is the same step as running “aether audit acknowledge” in a terminal."
)
LOCKED_TEXT: Final = (
    "Aether's data is encrypted and the key it found does not open it. Nothing has been changed.\n\n"
    "If you restored the data from another computer, restore its key file too, or restore the backup "
    "from the Backup tab of the trust centre with its passphrase. Then restart Aether."
)
DEGRADED_TEXT: Final = (
    "Aether signs its log and encrypts your data with keys kept in your desktop's keyring. No keyring "
    "answered, so Aether cannot keep a trustworthy record and refuses every action.\n\n"
    "“Set up keys…” opens the setup assistant: it can use a keyring once one runs, or keep the keys in a "
    "file only you can read (less safe: anyone with your files gets the keys)."
)
OPENGL_TEXT: Final = (
    "This computer offers no OpenGL (3D drawing) to Aether, so the avatar is drawn in a simpler way. "
    "Everything else works the same. Updating the graphics driver, or running Aether on a desktop "
    "session rather than a remote or virtual one, usually brings OpenGL back."
)
NOTHING_CONNECTED: Final = "Not available in this session."
ACKNOWLEDGE_QUESTION: Final = (
    "Accept that the audit log lost history?\n\n"
    "Aether records what was lost in a new signed chapter of the log and keeps the old file aside if it "
    "was tampered with. Then restart Aether to use the log again."
)
ACKNOWLEDGE_DONE: Final = "Done. Quit Aether and start it again to use the log."
ACKNOWLEDGE_NOT_NEEDED: Final = "Nothing to acknowledge: this problem is not a lost or replaced log."


def inform_user(parent: QWidget, title: str, text: str) -> None:
    """The default :data:`Inform`: an information box."""
    QMessageBox.information(parent, title, text)


class BannerFixes:
    """Carries out the banner actions of one main window."""

    def __init__(self, window: WindowHost, *, inform: Inform = inform_user) -> None:
        self._window = window
        self._inform = inform

    def update_availability(self) -> None:
        """Enable the actions that can work now; disable the others with a tooltip saying why."""
        window = self._window
        banners = window.banners
        keys = "" if window.onboarding_connected() else NOTHING_CONNECTED
        banners.set_action_available("keys_on_disk", SET_UP_KEYS, keys)
        banners.set_action_available("policy_degraded", SET_UP_KEYS, keys)
        voice = "" if window.settings_connected() else NOTHING_CONNECTED
        banners.set_action_available("voice_unavailable", VOICE_SETTINGS, voice)
        banners.set_action_available(
            "audit_broken", ACKNOWLEDGE, "" if self._acknowledgeable() else ACKNOWLEDGE_NOT_NEEDED
        )

    def _acknowledgeable(self) -> bool:
        check = self._window.runtime.audit_check
        return check is not None and not check.ok

    def run(self, flag: str, action: str) -> None:
        """Do what ``action`` of ``flag``'s banner stands for."""
        window = self._window
        handlers: dict[tuple[str, str], Callable[[], object]] = {
            ("no_model", CHOOSE_MODEL): window.choose_model_file,
            (STORAGE_FULL, CHECK_AGAIN): self.check_storage,
            (STORAGE_FULL, COPY_FOLDER): self._copy_storage_folder,
            (REMOTE_ACTIVE, OPEN_COSTS): lambda: window.show_tab(
                window.trust_centre.indexOf(window.trust_centre.costs)
            ),
            ("audit_broken", VERIFY_AUDIT): self.verify_audit,
            ("audit_broken", ACKNOWLEDGE): self.acknowledge_audit,
            ("audit_broken", EXPLAIN): lambda: self._inform(window.window(), "The audit log", AUDIT_TEXT),
            ("data_locked", EXPLAIN): lambda: self._inform(
                window.window(), "Your data is locked", LOCKED_TEXT
            ),
            ("policy_degraded", EXPLAIN): lambda: self._inform(
                window.window(), "Keys unavailable", DEGRADED_TEXT
            ),
            ("policy_degraded", SET_UP_KEYS): window.request_onboarding,
            ("keys_on_disk", SET_UP_KEYS): window.request_onboarding,
            ("paused", RESUME): lambda: window.controls.pause(False),
            ("voice_unavailable", VOICE_SETTINGS): window.request_settings,
            ("microphone_muted", UNMUTE): self._unmute,
            (PERSONA_ERROR, SHOW_ERROR): self._show_persona_error,
            (PERSONA_ERROR, COPY_PATH): self._copy_persona_path,
            ("no_opengl", EXPLAIN): lambda: self._inform(window.window(), "No OpenGL", OPENGL_TEXT),
        }
        handler = handlers.get((flag, action))
        if handler is not None:
            handler()
            window.refresh()

    # ------------------------------------------------------------------ the fixes

    def check_storage(self) -> str:
        """Look for room again ("Check again"); refresh, and return the sentence shown in the status bar."""
        window = self._window
        resumed = window.runtime.check_storage()
        window.refresh()
        flag = window.banners.posture_flag(STORAGE_FULL)
        if flag is None:
            message = "There is room again: actions are allowed." if resumed else "Storage is fine."
        elif flag.space is not None and not flag.space.enough:
            message = f"Still not enough room. {flag.space.sentence()}."
        else:
            message = "There is room, but actions stay refused: see the banners."
        window.statusBar().showMessage(message, 10_000)
        return message

    def verify_audit(self) -> None:
        """Open the Audit tab and verify the log there (the result shows in the tab)."""
        window = self._window
        audit = window.trust_centre.audit
        window.show_tab(window.trust_centre.indexOf(audit))
        if audit.verify_button.isEnabled():
            audit.verify_button.click()

    def acknowledge_audit(self) -> str:
        """Accept a lost or replaced log, as ``aether audit acknowledge`` does; returns the sentence shown."""
        window = self._window
        if not self._acknowledgeable():
            message = ACKNOWLEDGE_NOT_NEEDED
        elif not window.confirm(window.window(), "Acknowledge the audit log", ACKNOWLEDGE_QUESTION):
            return ""
        else:
            runtime = window.runtime
            key_file = runtime.keys is not None and runtime.keys.source == "key_file"
            try:
                done = acknowledge(runtime.paths, allow_key_file=key_file)
            except AcknowledgeError as exc:
                why = user_notice(str(exc), where="Aether's safety record")
                message = f"Could not acknowledge: {why}"
            else:
                message = f"{done.summary} {ACKNOWLEDGE_DONE}" if done.done else done.summary
        self._inform(window.window(), "The audit log", message)
        return message

    def _unmute(self) -> None:
        if self._window.microphone is not None:
            self._window.microphone.set_muted(False)

    def _copy_storage_folder(self) -> None:
        flag = self._window.banners.posture_flag(STORAGE_FULL)
        if flag is not None and flag.space is not None:
            self._copy(str(flag.space.folder))

    def _show_persona_error(self) -> None:
        flag = self._window.banners.posture_flag(PERSONA_ERROR)
        if flag is not None:
            self._inform(self._window.window(), "Persona file error", flag.message)

    def _copy_persona_path(self) -> None:
        path = self._window.banners.broken_persona_path
        if path:
            self._copy(path)

    def _copy(self, text: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self._window.statusBar().showMessage(f"Copied {text}", 10_000)
