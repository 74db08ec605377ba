"""The composition root of the desktop app: it builds everything and wires it together.

:func:`run_app` resolves the home, creates the ``QApplication``, shows the
start-up window (drawn before anything heavy is imported: see "Start-up
sequence" in docs/architecture.md), opens the policy runtime, installs the
runtime guard, starts the model loading, builds the widgets (collaborators
passed as keyword-only arguments), runs the qasync event loop and, when it ends,
shuts down in named stages: widgets, tray, policy runtime (shutdown checkpoint).
The guard stays installed until the process ends: it cannot be switched off.
Before all that it claims the home (:mod:`aether_qt.core.instance`): a second
start on the same home raises the running window and exits without opening
anything. Nothing here is a module-level global.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon, QWidget

from aether_qt.core.instance import HandedOver, InstanceServer, Owner, claim
from aether_qt.core.paths import HOME_ENV, AppPaths, resolve_paths
from aether_qt.core.resources import DESKTOP_ID
from aether_qt.widgets.startup.shell import PaintWatch, StartTimes, StartWindow, show_painted

# Everything else is imported where it is first needed, after the start-up window is on
# screen (see _run): importing it all takes most of a second on a small machine.
if TYPE_CHECKING:
    from aether_qt.core.bus import EventBus, QtBusBridge
    from aether_qt.core.events import Envelope
    from aether_qt.engines.router.router import Router
    from aether_qt.policy.runtime import PolicyRuntime
    from aether_qt.services.interaction.conductor import RecordTurn
    from aether_qt.services.interaction.conversations import ConversationService
    from aether_qt.services.interaction.host import QtConversation
    from aether_qt.services.memory.host import MemoryHost
    from aether_qt.services.memory.service import MemoryService
    from aether_qt.services.persona.host import PersonaHost
    from aether_qt.services.persona.service import PersonaService
    from aether_qt.services.presence.host import PresenceHost
    from aether_qt.services.voice.host import VoiceHost
    from aether_qt.services.voice.mute import MicMute
    from aether_qt.widgets.main_window import ChooseModel, MainWindow
    from aether_qt.widgets.ports import Conversation, PolicyControls
    from aether_qt.widgets.settings.dialog import SettingsDialog
    from aether_qt.widgets.tray import TrayIcon

_log = logging.getLogger(__name__)

ORGANISATION = "Aether"
APPLICATION = "aether"
EXIT_STORAGE = 2
EXIT_NOT_ANSWERED = 1  # another app holds the home and did not raise its window
LATE_START_MS = 8000  # memory and voice start by then even if the model is still loading
PERSONA_WAIT_S = 30.0  # the router waits this long at most for the persona before warming up
IDLE_CHECK_MS = 500
IDLE_CHECKS = 2  # memory and voice start after a second without a running turn


@dataclass(frozen=True, slots=True)
class AppOptions:
    """How to start the desktop app (the command line's top-level options).

    Attributes:
        home: keep all state in this folder (``None``: ``$AETHER_HOME`` or the platform folders).
        allow_key_file: if no keyring works, keep the keys in a 0600 file (shown as "keys on disk").
        onboarding: True shows the onboarding wizard even if this home went through it
            (``--onboarding``); False never shows it (benchmarks, scripted starts); None shows it
            at the first start of a home.
    """

    home: str | None = None
    allow_key_file: bool = False
    onboarding: bool | None = None


@dataclass(slots=True)
class LateParts:
    """What starts after the local model has loaded (memory's embedder, voice): filled in then."""

    voice: VoiceHost | None = None
    mute: MicMute | None = None  # made before the window: the tray and the window flip it


@dataclass(frozen=True, slots=True)
class AppParts:
    """What :func:`run_app` built, handed to its ``on_ready`` hook (tests, diagnostics)."""

    app: QApplication
    paths: AppPaths
    runtime: PolicyRuntime
    window: MainWindow
    tray: TrayIcon | None
    conversation: QtConversation | None = None
    bus: EventBus | None = None
    personas: PersonaHost | None = None
    presence: PresenceHost | None = None
    memory: MemoryHost | None = None
    late: LateParts | None = None
    instance: InstanceServer | None = None
    started: StartTimes = field(default_factory=StartTimes)


def settings_for(paths: AppPaths, home: str | None) -> QSettings:
    """UI settings: an INI file inside an explicit home, else the user's Aether settings."""
    if home or os.environ.get(HOME_ENV):
        return QSettings(str(paths.ui_settings_file), QSettings.Format.IniFormat)
    return QSettings(ORGANISATION, APPLICATION)


def _make_application() -> QApplication:
    QApplication.setOrganizationName(ORGANISATION)
    QApplication.setApplicationName(APPLICATION)
    QApplication.setApplicationDisplayName("Aether")
    QApplication.setDesktopFileName(DESKTOP_ID)  # packaging/io.github.aether.Aether.desktop
    return QApplication(sys.argv[:1])


def _set_window_icon(app: QApplication) -> None:
    from aether_qt.widgets.icons import app_icon  # lazy: after the start-up window is drawn

    app.setWindowIcon(app_icon())


def _open_runtime(paths: AppPaths, allow_key_file: bool, read_only: bool = False) -> PolicyRuntime | None:
    """The policy runtime, or ``None`` after telling the user why it cannot be opened."""
    from aether_qt.policy.runtime import PolicyRuntime
    from aether_qt.storage.errors import StorageError

    try:
        # the app holds the home's instance lock: no other writer is alive, so an anchor that
        # says a session is open means the last one crashed
        return PolicyRuntime.open(
            paths, allow_key_file=allow_key_file or None, sole_writer=True, read_only=read_only
        )
    except (StorageError, OSError) as exc:
        _log.error("cannot open the policy runtime: %s", exc)
        QMessageBox.critical(None, "Aether cannot start", f"Aether cannot open its data.\n\n{exc}")
        return None


def _build(
    app: QApplication,
    paths: AppPaths,
    runtime: PolicyRuntime,
    home: str | None,
    *,
    controls: PolicyControls,
    conversation: Conversation | None = None,
    bus_bridge: QtBusBridge | None = None,
    choose_model: ChooseModel | None = None,
    personas: PersonaHost | None = None,
    memory: MemoryHost | None = None,
    router: Router | None = None,
    microphone: MicMute | None = None,
    conversations: ConversationService | None = None,
) -> AppParts:
    from aether_qt.services.gate.costs import CostsService
    from aether_qt.services.gate.data_safety import DataSafetyService
    from aether_qt.widgets.main_window import MainWindow
    from aether_qt.widgets.memory.panel import MemoryPanel
    from aether_qt.widgets.tray import TrayIcon

    tray_available = QSystemTrayIcon.isSystemTrayAvailable()
    app.setQuitOnLastWindowClosed(not tray_available)
    window = MainWindow(
        runtime=runtime,
        controls=controls,
        settings=settings_for(paths, home),
        keep_in_tray=tray_available,
        conversation=conversation,
        bus_bridge=bus_bridge,
        choose_model=choose_model,
        personas=personas.choices if personas is not None else None,
        choose_persona=personas.choose if personas is not None else None,
        memory_panel=MemoryPanel(host=memory, bus_bridge=bus_bridge) if memory is not None else None,
        data_safety=DataSafetyService(
            runtime=runtime, home=paths.data_dir.parent if home or os.environ.get(HOME_ENV) else None
        ),
        costs=CostsService(runtime=runtime, router=router),
        microphone=microphone,
        conversations=conversations,
    )
    window.sig_quit_requested.connect(app.quit)
    tray: TrayIcon | None = None
    if tray_available:
        tray = TrayIcon(
            runtime=runtime,
            controls=controls,
            window=window,
            conversation=conversation,
            bus_bridge=bus_bridge,
            microphone=microphone,
            parent=app,
        )
        tray.sig_quit_requested.connect(app.quit)
        tray.show()
    app.aboutToQuit.connect(window.shutdown)
    return AppParts(app=app, paths=paths, runtime=runtime, window=window, tray=tray)


def _conversation(
    paths: AppPaths,
    runtime: PolicyRuntime,
    bus: EventBus,
    personas: PersonaService,
    memory: MemoryService | None = None,
    *,
    persona_started: threading.Event | None = None,
    record: RecordTurn | None = None,
) -> QtConversation:
    """The conductor and the router on their QThreads, over this runtime's gate and the active persona.

    ``record`` keeps each ended turn in its conversation (the conversation list).

    The model starts loading before the persona service has started (the window is
    still being built): the router thread reads the system prompt once the model
    has loaded, after ``persona_started`` is set (None: the persona service has started).
    """
    from aether_qt.companion import build_conductor, build_remote_tier, chosen_model
    from aether_qt.engines.router.router import Router
    from aether_qt.services.interaction.host import QtConversation

    def system_prompt() -> str:  # router thread, once the model has loaded
        if persona_started is not None:
            persona_started.wait(PERSONA_WAIT_S)
        return personas.active.router.system_prompt

    router = Router(models_dir=paths.models_dir, clock=time.monotonic, model_id=chosen_model(runtime))
    router.remote = build_remote_tier(runtime)
    conversation = QtConversation(
        router=router,
        bus=bus,
        system_prompt=system_prompt,
        make_conductor=lambda spawn: build_conductor(
            runtime=runtime,
            bus=bus,
            router=router,
            persona=personas.turn_persona,
            spawn=spawn,
            workdir=Path.home(),
            on_boundary=personas.at_boundary,
            memory=memory,
            record=record,
        ),
    )
    personas.bind_turns(conversation.conductor.busy)
    return conversation


def _voice(
    paths: AppPaths,
    runtime: PolicyRuntime,
    bus: EventBus,
    conversation: QtConversation,
    personas: PersonaService,
    *,
    mute: MicMute | None = None,
) -> VoiceHost:
    """Push-to-talk, recognition and spoken replies over the conversation (settings ``voice.*``)."""
    from aether_qt.companion import gate_on_bus
    from aether_qt.engines.media.stt import default_model_path
    from aether_qt.engines.media.stt_models import SETTING_STT_MODEL
    from aether_qt.engines.media.voices import VoiceSettings
    from aether_qt.services.settings.voice import (  # the voice keys live with the settings services
        SETTING_PTT_BACKEND,
        SETTING_PTT_KEY,
        SETTING_SPEAK,
        SETTING_SPEAK_TYPED,
    )
    from aether_qt.services.voice.host import VoiceHost  # imported ahead by _preload_voice

    settings = runtime.settings

    def voice() -> VoiceSettings:
        part = personas.active.voice
        return VoiceSettings(voice_hint=part.voice_hint, rate=part.rate, pitch=part.pitch, volume=part.volume)

    return VoiceHost(
        gate=gate_on_bus(runtime, bus),
        effectors=runtime.effectors,
        bus=bus,
        submit=conversation.submit,
        interrupt=conversation.conductor.interrupt,
        busy=conversation.conductor.busy,
        stt_model=default_model_path(settings.get_as(SETTING_STT_MODEL, str, "") or None),
        clip_dir=paths.cache_dir / "speech",
        voice=voice,
        key=settings.get_as(SETTING_PTT_KEY, str, "") or "F9",
        backend=settings.get_as(SETTING_PTT_BACKEND, str, "") or "auto",
        speak=settings.get_as(SETTING_SPEAK, bool, True),
        speak_typed=settings.get_as(SETTING_SPEAK_TYPED, bool, False),
        share_cpu=conversation.router.share_cpu,
        mute=mute,
    )


def _after_model(bridge: QtBusBridge, start: Callable[[], None]) -> None:
    """Run ``start`` once in the GUI thread when the model is ready, missing or failed (or after a while)."""
    from aether_qt.core.events import ModelStatusChanged

    done = False

    def once() -> None:
        nonlocal done
        if not done:
            done = True
            start()

    def on_event(env: Envelope) -> None:
        if isinstance(env.payload, ModelStatusChanged) and env.payload.status != "loading":
            once()

    bridge.sig_event_published.connect(on_event)
    QTimer.singleShot(LATE_START_MS, once)


def _when_idle(conversation: QtConversation, start: Callable[[], None]) -> None:
    """Run ``start`` once no turn has been running for a second (checked twice a second).

    The embedder's load holds the interpreter for a while: doing it while a reply
    streams would make the window stutter, so memory waits for a quiet moment.
    """
    quiet = 0
    timer = QTimer(conversation)
    timer.setInterval(IDLE_CHECK_MS)

    def check() -> None:
        nonlocal quiet
        quiet = 0 if conversation.conductor.busy() else quiet + 1
        if quiet >= IDLE_CHECKS:
            timer.stop()
            timer.deleteLater()
            start()

    timer.timeout.connect(check)
    timer.start()


def _start_late(parts: AppParts, late: LateParts, personas: PersonaService) -> None:
    """Start memory and voice at the first quiet second: never in the middle of a reply.

    Starting voice holds the GUI thread for a while (the TTS engine, the audio
    devices, the X connection of the hotkey): inside a streaming reply that is a
    visible stutter, so it waits, like memory, until no turn runs.
    """
    if parts.conversation is None:
        return
    if parts.memory is not None:
        _when_idle(parts.conversation, parts.memory.start)
    if parts.bus is not None:
        _when_idle(parts.conversation, lambda: _start_voice(parts, late, personas))


def _start_voice(parts: AppParts, late: LateParts, personas: PersonaService) -> None:
    """Start voice: the TTS engine, the audio devices, the vosk model (media thread), the hotkey."""
    from aether_qt.services.voice.push_to_talk import InWindowKeys

    assert parts.conversation is not None and parts.bus is not None
    voice = late.voice = _voice(
        parts.paths, parts.runtime, parts.bus, parts.conversation, personas, mute=late.mute
    )
    if parts.presence is not None:
        voice.player.sig_envelope_sampled.connect(parts.presence.worker.set_mouth_envelope)
    voice.start()
    InWindowKeys(voice.ptt, parts.app)  # the window hears the key while no global hotkey does


def _model_chooser(paths: AppPaths, runtime: PolicyRuntime, conversation: QtConversation) -> ChooseModel:
    """The "Choose a model…" action: register the GGUF, remember it, load it on the router thread."""
    from aether_qt.companion import SETTING_MODEL
    from aether_qt.engines.router.models import ModelFileError, add_model

    def choose(path: Path) -> str:
        try:
            info = add_model(path, paths.models_dir)
        except ModelFileError as exc:
            raise ValueError(str(exc)) from None
        runtime.settings.set(SETTING_MODEL, info.model_id)
        conversation.use_model(info.model_id)
        return f"Loading {info.model_id}…"

    return choose


def build_settings_dialog(parts: AppParts, *, parent: QWidget | None = None) -> SettingsDialog:
    """The Settings dialog over the running app (the window's Settings… action opens it).

    Changes apply live where the running parts can follow: the persona, the preset and
    folders (through the gate on the app's bus), spoken replies and the push-to-talk key
    (once voice has started), the local model (loaded on the router thread) and the
    remote provider and privacy (the router's remote tier is rebuilt).
    """
    from aether_qt.companion import build_remote_tier
    from aether_qt.services.settings.build import build_settings
    from aether_qt.widgets.settings.dialog import SettingsDialog

    conversation, runtime = parts.conversation, parts.runtime

    def reload_remote() -> None:
        if conversation is not None:
            conversation.router.remote = build_remote_tier(runtime)

    services = build_settings(
        runtime=runtime,
        models_dir=parts.paths.models_dir,
        bus=parts.bus,
        personas=parts.personas,
        voice=lambda: parts.late.voice if parts.late is not None else None,
        use_model=conversation.use_model if conversation is not None else None,
        reload_remote=reload_remote if conversation is not None else None,
        router=conversation.router if conversation is not None else None,
    )
    return SettingsDialog(ports=services, parent=parent or parts.window)


def _connect_dialogs(parts: AppParts) -> None:
    """Open the Settings dialog and the setup wizard from the window's menu and banner actions."""
    window = parts.window

    def open_settings() -> None:
        dialog = build_settings_dialog(parts)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()  # window-modal, not a nested event loop: replies keep streaming

    def run_setup() -> None:
        conversation, personas = parts.conversation, parts.personas
        from aether_qt.companion import gate_on_bus
        from aether_qt.onboarding import MediaHooks, run_setup_again

        hooks = MediaHooks(parts.runtime, gate=gate_on_bus(parts.runtime, parts.bus) if parts.bus else None)
        try:
            changed = run_setup_again(
                parts.runtime,
                bus=parts.bus,
                choose_persona=personas.choose if personas is not None else None,
                router=conversation.router if conversation is not None else None,
                media_pages=hooks.pages,
                apply_media=hooks.apply,
                parent=window,
            )
        finally:
            hooks.close()
        if changed:
            window.statusBar().showMessage(" ".join(changed), 10_000)
        window.refresh()

    window.sig_settings_requested.connect(open_settings)
    window.sig_onboarding_requested.connect(run_setup)


def _claim_home(paths: AppPaths) -> Owner | int:
    """Take the home, or hand over to the app that holds it: an ``int`` is this start's exit code."""
    try:
        claimed = claim(paths.data_dir)
    except OSError as exc:
        _log.error("cannot lock the home: %s", exc)
        _app = _make_application()  # the message box needs one
        QMessageBox.critical(None, "Aether cannot start", f"Aether cannot open its data.\n\n{exc}")
        return EXIT_STORAGE
    if isinstance(claimed, Owner):
        return claimed
    who = f" (pid {claimed.pid})" if claimed.pid is not None else ""
    if isinstance(claimed, HandedOver):
        print(f"aether: already running for this home{who}; its window was raised", file=sys.stderr)
        return 0
    _log.error("another app holds this home%s and %s", who, claimed.reason)
    _app = _make_application()
    QMessageBox.critical(
        None,
        "Aether is already running",
        f"Aether is already running for this home{who}, but {claimed.reason}.\n\n"
        "If it is stuck, end that process and start Aether again.",
    )
    return EXIT_NOT_ANSWERED


def _shutdown(parts: AppParts) -> None:
    """Stop in stages: hand-over socket, widgets (timer, geometry, workers), tray, runtime (guard stays)."""
    if parts.instance is not None:
        _log.info("shutdown: instance socket (a start from now on waits for the lock)")
        parts.instance.close()
    _log.info("shutdown: widgets")
    parts.window.shutdown()
    parts.window.hide()
    if parts.tray is not None:
        _log.info("shutdown: tray")
        parts.tray.shutdown()
    if parts.presence is not None:
        _log.info("shutdown: presence")
        parts.presence.stop()
    if parts.personas is not None:
        _log.info("shutdown: persona watcher")
        parts.personas.stop()
    if parts.late is not None and parts.late.voice is not None:
        _log.info("shutdown: voice (push-to-talk, microphone, speech)")
        parts.late.voice.stop()
    if parts.conversation is not None:
        _log.info("shutdown: conversation (interaction and router threads, model)")
        parts.conversation.stop()
    if parts.memory is not None:
        _log.info("shutdown: memory (session episodes end, index saved)")
        parts.memory.stop()
    _log.info("shutdown: policy runtime (shutdown checkpoint)")
    parts.runtime.close()


def run_app(options: AppOptions, *, on_ready: Callable[[AppParts], None] | None = None) -> int:
    """Run the desktop app until the user quits; return the process exit code.

    Args:
        options: where the state lives and whether a key file may stand in for the keyring.
        on_ready: called once everything is built and the main window shown, before the event
            loop starts (``parts.started`` gets the main window's first paint once it is drawn).

    Returns:
        0 after a normal quit or after handing over to the app already running on this home;
        1 when that app did not answer; 2 when the app's data cannot be opened.
    """
    paths = resolve_paths(options.home)
    owner = _claim_home(paths)  # before the QApplication: a second start opens nothing
    if isinstance(owner, int):
        return owner
    with owner.lock:  # held until everything is closed; the OS drops it if the process dies
        return _run(options, paths, owner.socket_name, on_ready)


def _run(
    options: AppOptions, paths: AppPaths, socket_name: str, on_ready: Callable[[AppParts], None] | None
) -> int:
    """:func:`run_app` once this process owns the home.

    The start-up window is drawn first, before anything heavy is imported or
    opened; then the runtime opens, the model starts loading on the router
    thread, and the main window is built and replaces the start-up window. Voice's
    modules are imported on a helper thread once the main window is drawn;
    memory and voice start after the model has loaded, at a quiet moment.
    """
    import qasync  # lazy: only the desktop app needs the asyncio bridge

    home = options.home
    app = _make_application()
    watch = PaintWatch(app)
    times = StartTimes()
    shell = StartWindow(settings=settings_for(paths, home))
    times.shell_painted = show_painted(shell, watch)
    _set_window_icon(app)
    instance = InstanceServer(name=socket_name)
    instance.listen()  # a failure is logged; this app still runs, a second start is told so
    runtime = _open_onboarded(paths, options, shell, watch)
    if runtime is None:
        shell.hand_over()
        return EXIT_STORAGE
    try:
        parts = _assemble(app, paths, runtime, home, instance=instance, times=times)
    except BaseException:
        shell.hand_over()
        runtime.close()
        raise
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        _show_main_window(parts, shell, watch)
        if on_ready is not None:
            on_ready(parts)
        with loop:
            code = loop.run_forever()
    finally:
        _shutdown(parts)
        asyncio.set_event_loop(None)
    return int(code or 0)


def _open_onboarded(
    paths: AppPaths, options: AppOptions, shell: StartWindow, watch: PaintWatch
) -> PolicyRuntime | None:
    """Open the runtime, showing the onboarding wizard first when this home is new.

    The wizard (its keys step first when no keyring works) replaces the start-up
    window while it is open; the start-up window comes back until the main window
    is built.
    """
    from aether_qt.onboarding import MediaHooks, due, open_runtime_onboarded

    wizard_due = due(paths, options.onboarding)
    if wizard_due:
        shell.hide()
    runtime = open_runtime_onboarded(
        paths,
        lambda key_file, read_only: _open_runtime(paths, key_file, read_only),
        allow_key_file=options.allow_key_file,
        onboarding=options.onboarding,
        media=MediaHooks,  # the voice and model pages, over the opened runtime
    )
    if wizard_due and runtime is not None:
        show_painted(shell, watch)
    return runtime


def _assemble(
    app: QApplication,
    paths: AppPaths,
    runtime: PolicyRuntime,
    home: str | None,
    *,
    instance: InstanceServer,
    times: StartTimes,
) -> AppParts:
    """Build and start everything over the open runtime; the model starts loading first."""
    persona_started = threading.Event()  # the router thread waits for it before reading the persona
    conversation: QtConversation | None = None
    try:
        # lazy: imported once the start-up window is on screen (see the module's imports)
        from aether_qt.companion import build_memory, gate_on_bus
        from aether_qt.core.bus import EventBus, QtBusBridge
        from aether_qt.engines.media.hotkeys import preload as preload_hotkeys
        from aether_qt.engines.persona.registry import user_personas_dir
        from aether_qt.services.interaction.conversations import ConversationService, TurnRecorder
        from aether_qt.services.memory.host import MemoryHost
        from aether_qt.services.persona.host import PersonaHost
        from aether_qt.services.persona.service import PersonaService
        from aether_qt.services.presence.host import PresenceHost
        from aether_qt.services.voice.mute import MicMute
        from aether_qt.storage.conversations import ConversationStore

        preload_hotkeys()  # before the guard: python-xlib runs `uname -p` on import
        runtime.install_guard()
        bus = EventBus()
        bridge = QtBusBridge(bus=bus)  # before anything publishes: the bridge does not replay events
        service = PersonaService(runtime=runtime, bus=bus, user_dir=user_personas_dir(paths.data_dir))
        host = PersonaHost(service=service, bus=bus)
        memory = MemoryHost(service=build_memory(runtime, bus, paths, service))
        store = ConversationStore(database=runtime.database)
        recorder = TurnRecorder(store)
        recorder.follow(bus)  # an approved action's result becomes its turn's kept reply
        conversation = _conversation(
            paths,
            runtime,
            bus,
            service,
            memory.service,
            persona_started=persona_started,
            record=recorder.record,
        )
        conversation.start()  # the model loads on the router thread while the window is built
        mute = MicMute(bus=bus)  # "Mute microphone" in the tray; the voice host reads it once started
        parts = _build(
            app,
            paths,
            runtime,
            home,
            controls=gate_on_bus(runtime, bus),  # the trust centre and the tray change policy through it
            conversation=conversation,
            bus_bridge=bridge,
            choose_model=_model_chooser(paths, runtime, conversation),
            personas=host,
            memory=memory,
            router=conversation.router,
            microphone=mute,
            conversations=ConversationService(store=store, turns=conversation.conductor, recorder=recorder),
        )
        presence = PresenceHost(visual=service.active.visual, bridge=bridge)
        avatar = parts.window.conversation_view.avatar
        presence.drive(avatar)
        if not avatar.uses_opengl:
            parts.window.banners.set_condition(
                "no_opengl", "OpenGL is not available; the avatar is drawn without it."
            )
        parts = replace(
            parts,
            conversation=conversation,
            bus=bus,
            personas=host,
            presence=presence,
            memory=memory,
            late=LateParts(mute=mute),
            instance=instance,
            started=times,
        )
        instance.sig_show_requested.connect(parts.window.bring_to_front)
        _connect_dialogs(parts)  # Settings… and Run setup again… in the window's menu and banners
        conversation.republish_model_status()  # the model may have said "missing" before the window existed
        service.start()  # publishes persona.did_activate to the widgets built above
        persona_started.set()
        host.start()
        presence.start()
        # memory (the embedder) and voice (TTS, audio devices, the vosk model, the X grab) start
        # once the local model has loaded: on two cores, loading all at once delays the first answer
        started = parts
        _after_model(bridge, lambda: _start_late(started, started.late or LateParts(), service))
    except BaseException:
        persona_started.set()
        if conversation is not None:
            conversation.stop()
        raise
    return parts


def _show_main_window(parts: AppParts, shell: StartWindow, watch: PaintWatch) -> None:
    """Show the main window in the start-up window's place; once it is drawn, import voice ahead."""
    window = parts.window

    def painted() -> None:
        if parts.started.window_painted is None and watch.first_paint(window) is not None:
            parts.started.window_painted = watch.first_paint(window)
            _preload_voice()

    watch.sig_painted.connect(painted)
    watch.watch(window)
    window.show()
    shell.hand_over()


def _preload_voice() -> None:
    """Import voice's modules (numpy, QtMultimedia: a few hundred ms) on a helper thread.

    Voice starts once the model has loaded; importing it then, on the GUI thread,
    would hold the window that long, perhaps while the first reply streams. Here
    it happens while the model is still loading, off the GUI thread.
    """

    def load() -> None:
        try:
            import aether_qt.services.voice.host  # noqa: F401
        except Exception:  # _start_voice imports it again and reports the error there
            _log.exception("importing voice ahead failed")

    threading.Thread(target=load, name="aether-preload-voice", daemon=True).start()
