"""Which push-to-talk backend runs, and the switch to the next one when the desktop portal fails.

On X11 the key grab opens at once (:func:`~aether_qt.engines.media.hotkeys.open_backend`).
On Wayland the desktop portal's GlobalShortcuts comes first, and it answers
later: the desktop may show a dialog before it binds the key. Until then the
in-window shortcut works (the focused window hears the key); when the portal
binds, it takes over; when it fails (no portal, no interface, the dialog was
declined, the portal went away) the next backend opens and the reason is kept
in :attr:`PushToTalk.notes` for the log and ``aether doctor``.

The portal thread reports through queued signals, so every change of
:attr:`PushToTalk.backend` happens in the GUI thread.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtGui import QKeyEvent, QKeySequence

from aether_qt.engines.media.hotkey_spec import hotkey_text, parse_hotkey
from aether_qt.engines.media.hotkeys import Callback, HotkeyBackend, InWindowBackend, open_backend
from aether_qt.engines.media.portal_protocol import BoundShortcut, plan_backends
from aether_qt.engines.media.portal_shortcuts import PortalShortcutsBackend

_log = logging.getLogger(__name__)
PORTAL_WAITING = "portal: waiting for the desktop to bind the shortcut"


class PushToTalk(QObject):
    """The running push-to-talk backend (see the module docstring).

    Signals:
        sig_backend_changed(): :attr:`backend` or :attr:`notes` changed (the in-window
            filter follows it).
        sig_fell_back(str): the portal cannot be used; why, in plain words.

    Args:
        key: the push-to-talk key as stored (``"Ctrl+Alt+Space"``, ``"F9"``; see
            :mod:`~aether_qt.engines.media.hotkey_spec`).
        prefer: ``auto``, ``portal``, ``x11``, ``pynput`` or ``in-window``.
        on_press: the key went down (called from a backend's thread).
        on_release: the key went up (likewise).
        environ: the session's environment (backend choice, display, session bus);
            ``os.environ`` by default.
    """

    sig_backend_changed = Signal()
    sig_fell_back = Signal(str)
    _sig_portal_bound = Signal(object)  # BoundShortcut, from the portal thread
    _sig_portal_failed = Signal(str)

    def __init__(
        self,
        *,
        key: str,
        prefer: str,
        on_press: Callback,
        on_release: Callback,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.key, self._prefer = key, prefer
        self._press, self._release = on_press, on_release
        self._environ = environ
        self.backend: HotkeyBackend | None = None
        self.notes: list[str] = []
        self._portal: PortalShortcutsBackend | None = None
        self._sig_portal_bound.connect(self._on_portal_bound)
        self._sig_portal_failed.connect(self._on_portal_failed)

    @property
    def in_window(self) -> InWindowBackend | None:
        """The in-window backend while no global hotkey works (the focused window feeds it)."""
        return self.backend if isinstance(self.backend, InWindowBackend) else None

    def start(self) -> None:
        """Open the backend: the portal first on Wayland (in-window meanwhile), else the first that opens."""
        plan = plan_backends(self._prefer, os.environ if self._environ is None else self._environ)
        if plan.order[:1] == ("portal",):
            self._portal = PortalShortcutsBackend(
                self.key,
                self._press,
                self._release,
                on_bound=self._sig_portal_bound.emit,
                on_failed=self._sig_portal_failed.emit,
                environ=self._environ,
            )
            self.notes = [*plan.notes, PORTAL_WAITING]
            self.backend = InWindowBackend(self.key, self._press, self._release, "; ".join(self.notes))
        else:
            self.backend, self.notes = open_backend(
                self.key, self._press, self._release, prefer=self._prefer, environ=self._environ
            )
        self.sig_backend_changed.emit()

    def rebind(self, key: str) -> None:
        """Listen for ``key`` from now on (the Settings dialog); before :meth:`start`, only remember it.

        A global key grab is reopened on the new key; if it cannot take it, the old
        key stays bound. The portal is asked to bind the new key (the desktop may ask
        the user again). The in-window backend keeps its key (its event filter was
        built for it), so a change there applies after restart.

        Raises:
            ValueError: the backend in use cannot listen for ``key`` (a sentence saying why).
        """
        old = self.backend
        if old is None or (isinstance(old, InWindowBackend) and self._portal is None):
            self.key = key
            return
        if self._portal is not None:  # waiting for the desktop, or bound: ask it again
            self.stop()
            self.key = key
            self.start()
            return
        old.stop()
        backend, notes = open_backend(key, self._press, self._release, prefer=old.name, environ=self._environ)
        if isinstance(backend, InWindowBackend):  # the new key cannot be grabbed: keep the old one
            self.backend, _ = open_backend(
                self.key, self._press, self._release, prefer=old.name, environ=self._environ
            )
            raise ValueError("; ".join(note.split(": ", 1)[-1] for note in notes) or "no backend takes it")
        self.backend, self.notes, self.key = backend, notes, key
        self.sig_backend_changed.emit()

    def stop(self) -> None:
        """Stop the portal and the backend (idempotent)."""
        if self._portal is not None:
            self._portal.stop()
            self._portal = None
        if self.backend is not None:
            self.backend.stop()
            self.backend = None
            self.sig_backend_changed.emit()  # the window stops listening too

    @Slot(object)
    def _on_portal_bound(self, shortcut: BoundShortcut) -> None:
        if self._portal is None:
            return  # stopped meanwhile
        interim = self.in_window
        if interim is not None:
            interim.tracker.release()  # a hold that began in the window ends with the switch
        self.backend = self._portal
        self.notes = [n for n in self.notes if n != PORTAL_WAITING]
        trigger = shortcut.trigger or self.key
        _log.info("push-to-talk: the desktop portal bound the shortcut (%s)", trigger)
        self.sig_backend_changed.emit()

    @Slot(str)
    def _on_portal_failed(self, reason: str) -> None:
        if self._portal is None:
            return
        self._portal.stop()
        self._portal = None
        if self.backend is not None:
            self.backend.stop()
        if (interim := self.in_window) is not None:
            interim.tracker.release()
        self.backend, notes = open_backend(
            self.key, self._press, self._release, prefer=self._prefer, environ=self._environ
        )
        earlier = [n for n in self.notes if n != PORTAL_WAITING and n not in notes]
        self.notes = [*earlier, f"portal: {reason}", *notes]
        if isinstance(self.backend, InWindowBackend):
            self.backend.reason = "; ".join(self.notes)
        _log.warning("push-to-talk: no desktop portal shortcut (%s); using %s", reason, self.backend.name)
        self.sig_backend_changed.emit()
        self.sig_fell_back.emit(reason)


_MODIFIER_MASK = (
    Qt.KeyboardModifier.ControlModifier
    | Qt.KeyboardModifier.AltModifier
    | Qt.KeyboardModifier.ShiftModifier
    | Qt.KeyboardModifier.MetaModifier
)


def key_combination(key: str) -> tuple[int, Qt.KeyboardModifier] | None:
    """The Qt key and modifiers of a stored push-to-talk key (None: Qt cannot read it)."""
    try:
        text = hotkey_text(parse_hotkey(key))
    except ValueError:
        return None
    sequence = QKeySequence.fromString(text, QKeySequence.SequenceFormat.PortableText)
    if sequence.isEmpty():
        return None
    combination = sequence[0]  # type: ignore[index]
    return int(combination.key().value), combination.keyboardModifiers()


class InWindowKeys(QObject):
    """The in-window push-to-talk: the key held while an Aether window has focus (no auto-repeat).

    It filters the application's key events only while the backend is the
    in-window one, and follows :attr:`PushToTalk.sig_backend_changed`: on Wayland
    the portal may bind the key later, or fail later. The hold starts when the
    main key goes down with exactly the key's modifiers (Space alone still types
    a space when the key is Ctrl+Alt+Space) and ends when the main key comes up.
    """

    def __init__(self, ptt: PushToTalk, app: QObject) -> None:
        super().__init__(ptt)
        self._ptt, self._app = ptt, app
        self._backend: InWindowBackend | None = None
        self._combo: tuple[int, Qt.KeyboardModifier] | None = None
        ptt.sig_backend_changed.connect(self._on_ptt_backend_changed)
        self._on_ptt_backend_changed()

    @Slot()
    def _on_ptt_backend_changed(self) -> None:
        self._backend = self._ptt.in_window
        if self._backend is None:
            self._app.removeEventFilter(self)
            return
        self._combo = key_combination(self._backend.key)
        self._app.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """Press and release of the push-to-talk key drive the backend; other events pass."""
        backend, combo = self._backend, self._combo
        if backend is None or combo is None or not isinstance(event, QKeyEvent) or event.key() != combo[0]:
            return super().eventFilter(watched, event)
        if event.type() == QEvent.Type.KeyPress:
            if (event.modifiers() & _MODIFIER_MASK) != combo[1] and not backend.tracker.down:
                return super().eventFilter(watched, event)  # the key without its modifiers: not ours
            if not event.isAutoRepeat():
                backend.tracker.press()
            return True
        if event.type() == QEvent.Type.KeyRelease and backend.tracker.down:
            if not event.isAutoRepeat():
                backend.tracker.release()
            return True
        return super().eventFilter(watched, event)
