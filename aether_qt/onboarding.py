"""First start: the onboarding wizard before the app opens its data, or over the open runtime.

:func:`open_runtime_onboarded` is the one call the composition root makes in place
of opening the policy runtime. It reads the home's onboarding state
(:mod:`aether_qt.services.onboarding.state`) and probes the keyring:

* a home that went through the wizard (Finish or Cancel) opens as it was left:
  with the key file when the user chose it, read-only when they chose that;
* a fresh home *without a working keyring* shows the wizard with its keys step
  first, before anything is opened: "keep the keys in a file" opens the runtime
  with the opt-in key file ("keys on disk"), "stay read-only" opens it read-only
  (a calm notice instead of "audit broken"); Cancel is read-only;
* any other home that never finished onboarding opens the runtime, then shows
  the wizard over it (``aether --onboarding`` always does).

:func:`run_setup_again` is the "Run setup again…" menu action over the running app.
``AETHER_NO_ONBOARDING=1`` skips the first-start wizard (scripted starts, the tests);
it never skips an explicit ``--onboarding``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Final

from PySide6.QtWidgets import QWidget, QWizard, QWizardPage

from aether_qt.core.bus import EventBus
from aether_qt.core.paths import AppPaths
from aether_qt.engines.media.hotkeys import DEFAULT_KEY
from aether_qt.engines.media.stt_models import SETTING_STT_MODEL
from aether_qt.engines.persona.registry import PersonaChoice
from aether_qt.engines.router.models import SETTING_MODEL
from aether_qt.engines.router.providers import load_router_settings
from aether_qt.engines.router.router import Router
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.onboarding.apply import Setup, SetupService
from aether_qt.services.onboarding.state import (
    KEY_FILE,
    READ_ONLY,
    OnboardingState,
    keyring_works,
    read_state,
    write_state,
)
from aether_qt.services.onboarding_media.finish import ModelNotRegistered, register_model
from aether_qt.services.onboarding_media.gate_acts import GateLike
from aether_qt.services.onboarding_media.media import media_ports
from aether_qt.services.onboarding_media.remote import save_remote_provider
from aether_qt.services.settings.voice import SETTING_PTT_KEY, SETTING_SPEAK, check_ptt_key
from aether_qt.widgets.onboarding.choices import KeyStorage, ModelChoice, ModelKind, OnboardingChoices
from aether_qt.widgets.onboarding.media_pages import build_media_pages
from aether_qt.widgets.onboarding.media_ports import RemoteModelChoice
from aether_qt.widgets.onboarding.wizard import OnboardingWizard

_log = logging.getLogger(__name__)

NO_ONBOARDING_ENV: Final = "AETHER_NO_ONBOARDING"

OpenRuntime = Callable[[bool, bool], PolicyRuntime | None]
"""Opens the runtime: ``(allow_key_file, read_only)``; None after telling the user why it cannot."""
MediaPages = Callable[[OnboardingChoices], tuple[QWizardPage | None, QWizardPage | None]]
"""Builds the voice and the model page over the shared choices (either may be None)."""
ApplyMedia = Callable[[PolicyRuntime, OnboardingChoices], list[str]]
"""Applies what the voice and model pages collected, after the rest (Finish); one sentence per change."""
ShowWizard = Callable[[OnboardingWizard], bool]
"""Runs the wizard modally; True after Finish (tests drive it through their own)."""


def exec_wizard(wizard: OnboardingWizard) -> bool:
    """Show ``wizard`` modally until Finish (True) or Cancel (False)."""
    return wizard.exec() == QWizard.DialogCode.Accepted


class WizardPort:
    """The widgets' :class:`~aether_qt.widgets.onboarding.ports.Onboarding` over a :class:`SetupService`."""

    def __init__(self, service: SetupService, apply_media: ApplyMedia | None = None) -> None:
        self.service = service
        self._apply_media = apply_media

    def keyring_works(self) -> bool:
        """Probe the keyring now."""
        return self.service.keyring_works()

    def current(self) -> OnboardingChoices:
        """What is in use now, as the pages' choices."""
        now = self.service.current()
        return OnboardingChoices(
            key_storage=KeyStorage(now.key_storage) if now.key_storage else None,
            privacy=now.privacy,
            persona_id=now.persona_id,
            preset=now.preset,
            retention=now.retention,
        )

    def personas(self) -> list[PersonaChoice]:
        """The personas to pick from."""
        return self.service.personas()

    def apply(self, choices: OnboardingChoices) -> list[str]:
        """Apply the choices (Finish): the policy ones, then the voice and model pages' ones."""
        done = self.service.apply(
            Setup(
                key_storage=choices.key_storage.value if choices.key_storage is not None else None,
                privacy=choices.privacy,
                persona_id=choices.persona_id,
                preset=choices.preset,
                retention=choices.retention,
            )
        )
        if self._apply_media is not None and self.service.runtime is not None:
            done += self._apply_media(self.service.runtime, choices)
        return done


def _wizard(
    service: SetupService,
    *,
    keys_first: bool,
    media_pages: MediaPages | None,
    apply_media: ApplyMedia | None,
    parent: QWidget | None = None,
) -> OnboardingWizard:
    choices = OnboardingChoices()
    voice, model = media_pages(choices) if media_pages is not None else (None, None)
    return OnboardingWizard(
        WizardPort(service, apply_media),
        voice_page=voice,
        model_page=model,
        keys_first=keys_first,
        choices=choices,
        parent=parent,
    )


def _remember(paths: AppPaths, key_storage: str) -> None:
    """Write that the wizard ended (a failure is logged: the wizard then shows again next time)."""
    try:
        write_state(paths, OnboardingState(completed=True, key_storage=key_storage))
    except OSError as exc:
        _log.warning("the onboarding state was not saved (%s); the wizard will show again", exc)


def due(paths: AppPaths, onboarding: bool | None) -> bool:
    """Whether :func:`open_runtime_onboarded` will show the wizard (``onboarding`` as it takes it)."""
    if onboarding is not None:
        return onboarding
    if os.environ.get(NO_ONBOARDING_ENV):
        return False
    return not read_state(paths).completed


def open_runtime_onboarded(
    paths: AppPaths,
    open_runtime: OpenRuntime,
    *,
    allow_key_file: bool = False,
    onboarding: bool | None = None,
    media_pages: MediaPages | None = None,
    apply_media: ApplyMedia | None = None,
    media: Callable[[PolicyRuntime], MediaHooks] | None = None,
    show: ShowWizard = exec_wizard,
) -> PolicyRuntime | None:
    """Open the policy runtime of ``paths``, showing the onboarding wizard when it is due.

    Args:
        paths: the home.
        open_runtime: opens the runtime (the composition root's, which explains failures).
        allow_key_file: ``--allow-key-file`` was given (the user's opt-in on the command line).
        onboarding: True (``--onboarding``): show the wizard even when it was done before;
            False: never show it (benchmarks and scripted starts open the home as it is);
            None: show it when the home never went through it.
        media_pages: builds the voice and model pages (None: the wizard skips them).
        apply_media: applies their choices at Finish, once the runtime is open.
        media: builds the voice and model pages with real ports over the open runtime
            (used when ``media_pages`` is None; not on the keys-first path, which has no
            runtime while the wizard runs).
        show: runs the wizard (default: modally).

    Returns:
        The open runtime, or None when it could not be opened (the user was told).
    """
    state = read_state(paths)
    key_file = allow_key_file or state.key_storage == KEY_FILE
    read_only = state.key_storage == READ_ONLY and not key_file
    if not due(paths, onboarding):
        return open_runtime(key_file, read_only)
    no_keys_yet = not (key_file or read_only or paths.key_file.exists() or keyring_works(paths))
    if not no_keys_yet:
        runtime = open_runtime(key_file, read_only)
        if runtime is None:
            return None
        service = SetupService(paths=paths, runtime=runtime)
        hooks = media(runtime) if media is not None and media_pages is None else None
        if hooks is not None:
            media_pages, apply_media = hooks.pages, hooks.apply
        wizard = _wizard(service, keys_first=False, media_pages=media_pages, apply_media=apply_media)
        try:
            done = show(wizard)
        finally:
            if hooks is not None:
                hooks.close()
        chosen = wizard.key_storage.value if done and wizard.key_storage is not None else state.key_storage
        _remember(paths, chosen)
        return runtime

    def open_for(storage: str | None) -> PolicyRuntime | None:
        return open_runtime(storage == KEY_FILE, storage in (READ_ONLY, None))

    service = SetupService(paths=paths, open_runtime=open_for)
    wizard = _wizard(service, keys_first=True, media_pages=media_pages, apply_media=apply_media)
    finished = show(wizard)
    chosen = wizard.key_storage.value if finished and wizard.key_storage is not None else READ_ONLY
    _remember(paths, chosen)
    if service.runtime is None and not finished:  # Cancel: nothing applied, the safe default
        service.runtime = open_runtime(False, True)
    return service.runtime


def run_setup_again(
    runtime: PolicyRuntime,
    *,
    bus: EventBus | None = None,
    choose_persona: Callable[[str], None] | None = None,
    router: Router | None = None,
    media_pages: MediaPages | None = None,
    apply_media: ApplyMedia | None = None,
    parent: QWidget | None = None,
    show: ShowWizard = exec_wizard,
) -> list[str]:
    """The "Run setup again…" action: the wizard over the running app; what it changed.

    Args:
        runtime: the app's runtime.
        bus: the app's bus (the preset change reaches the window through it).
        choose_persona: the app's persona chooser (switches at the next turn boundary).
        router: the app's router: its remote tier reads the new privacy posture from the next
            turn on (a stricter posture must not wait for a restart).
        media_pages: builds the voice and model pages.
        apply_media: applies their choices at Finish.
        parent: the main window.
        show: runs the wizard.
    """
    service = SetupService(paths=runtime.paths, runtime=runtime, bus=bus, choose_persona=choose_persona)
    wizard = _wizard(
        service, keys_first=False, media_pages=media_pages, apply_media=apply_media, parent=parent
    )
    state = read_state(runtime.paths)
    done = show(wizard)
    chosen = wizard.key_storage.value if done and wizard.key_storage is not None else state.key_storage
    _remember(runtime.paths, chosen)
    if done and router is not None and router.remote is not None:
        router.remote.settings = load_router_settings(runtime.settings)  # read per turn by the router
    return wizard.applied


class MediaHooks:
    """The wizard's voice and model pages over real ports, and what Finish does with their picks.

    Built over an open runtime (the pages' microphone test and downloads are gate
    decisions); on the keys-first path there is no runtime yet, so those two pages
    are left out and "Run setup again…" offers them later. :meth:`close` stops the
    microphone, downloads and worker threads when the wizard ends.
    """

    def __init__(self, runtime: PolicyRuntime, *, gate: GateLike | None = None) -> None:
        self._runtime = runtime
        self._gate = gate
        self.ports = media_ports(runtime, gate=gate)

    def pages(self, choices: OnboardingChoices) -> tuple[QWizardPage | None, QWizardPage | None]:
        """The voice and model pages collecting into ``choices``."""
        key = self._runtime.settings.get_as(SETTING_PTT_KEY, str, "") or DEFAULT_KEY
        return build_media_pages(choices, self.ports, ptt_key=key)

    def apply(self, runtime: PolicyRuntime, choices: OnboardingChoices) -> list[str]:
        """Store the voice settings and the model the pages collected; one sentence per change."""
        done: list[str] = []
        settings = runtime.settings
        if choices.voice is not None:
            speak = bool(choices.voice and choices.speak_replies is not False)
            settings.set(SETTING_SPEAK, speak)
            done.append("Replies are spoken aloud." if speak else "Aether answers in text only.")
        if choices.voice and choices.ptt_key:
            try:
                settings.set(SETTING_PTT_KEY, check_ptt_key(choices.ptt_key))
                done.append(f"Hold {choices.ptt_key} to talk (from the next start).")
            except ValueError as exc:
                done.append(f"The push-to-talk key was not changed: {exc}")
        if choices.voice and choices.stt_model:
            settings.set(SETTING_STT_MODEL, choices.stt_model)
        done += self._apply_model(runtime, choices.model)
        return done

    def _apply_model(self, runtime: PolicyRuntime, model: ModelChoice | None) -> list[str]:
        if model is None:
            return []
        if isinstance(model, RemoteModelChoice):
            problem = save_remote_provider(runtime, model.remote, gate=self._gate)
            return [problem or f"Turns may go to {model.name} (your remote model)."]
        if model.kind in (ModelKind.GGUF, ModelKind.CATALOGUE) and model.path is not None:
            try:
                model_id = register_model(runtime.paths.models_dir, model.path, catalogue_name=model.name)
            except ModelNotRegistered as exc:
                return [str(exc)]
            runtime.settings.set(SETTING_MODEL, model_id)
            return [f"Aether answers with {model_id} from the next start."]
        if model.kind is ModelKind.BUNDLED:
            runtime.settings.delete(SETTING_MODEL)
            return ["Aether answers with the model that comes with it."]
        return []

    def close(self) -> None:
        """Stop the pages' microphone test, downloads and threads (idempotent)."""
        self.ports.close()
