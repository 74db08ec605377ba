"""The companion without widgets: runtime, bus, router and conductor, assembled.

The command line (``aether say``, ``aether chat``), the turn benchmark and the
tests use :class:`Companion` directly; the desktop app builds the same parts
with :func:`build_conductor` and runs them on its QThreads instead.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from aether_qt.core.bus import EventBus
from aether_qt.core.paths import AppPaths
from aether_qt.engines.interaction.phrases import DefaultPersona
from aether_qt.engines.persona.registry import user_personas_dir
from aether_qt.engines.router.models import SETTING_MODEL as MODEL_SETTING
from aether_qt.engines.router.remote_tier import RemoteTier
from aether_qt.engines.router.router import ModelStatus, Router
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.gate.gate_on_bus import GateOnBus
from aether_qt.services.interaction.conductor import Conductor, RecordTurn, RouterPort, Spawn
from aether_qt.services.interaction.pending_actions import PendingActions
from aether_qt.services.interaction.tools import ToolRunner
from aether_qt.services.memory.service import MemoryService
from aether_qt.services.persona.service import PersonaService
from aether_qt.storage.statement_hook import StatementHook

_log = logging.getLogger(__name__)
SETTING_MODEL = MODEL_SETTING  # re-exported: the commands and app.py name it from here
MODEL_ENV = "AETHER_MODEL"
NO_EMBEDDER_ENV = "AETHER_NO_EMBEDDER"  # run memory text-only (FTS5), as when the model is missing


def chosen_model(runtime: PolicyRuntime) -> str | None:
    """The model the user chose (``$AETHER_MODEL`` wins over the setting); None = bundled default."""
    return os.environ.get(MODEL_ENV) or runtime.settings.get_as(SETTING_MODEL, str, "") or None


def gate_on_bus(runtime: PolicyRuntime, bus: EventBus) -> GateOnBus:
    """The runtime's gate and policy controls, publishing their decisions and changes on ``bus``."""
    return GateOnBus(runtime=runtime, bus=bus)


def build_remote_tier(
    runtime: PolicyRuntime, *, clock: Callable[[], float] = time.monotonic
) -> RemoteTier | None:
    """The remote tier for the user's active provider (None without one), and the gate's cost check.

    The provider's key is read from the keyring for each request (a changed key
    applies at once; a locked keyring is an AUTH failure the user sees). Spending
    goes through the persisted cost ledger; the gate refuses paid requests while
    the ledger does.
    """
    import functools

    from aether_qt.core.generation import RemoteError, RemoteStatus
    from aether_qt.engines.router.breaker import CircuitBreaker
    from aether_qt.engines.router.cost_ledger import CostLedger
    from aether_qt.engines.router.costs import cost_check
    from aether_qt.engines.router.providers import load_router_settings
    from aether_qt.engines.router.remote_provider import RemoteProvider
    from aether_qt.engines.router.remote_tier import LedgerSpending, Opener
    from aether_qt.policy.decisions import Permit
    from aether_qt.policy.keys import KeysUnavailableError

    settings = load_router_settings(runtime.settings)
    provider = settings.active_provider
    if provider is None:
        return None
    ledger = CostLedger(database=runtime.database)
    free = {p.base_url for p in settings.providers if p.price_in == 0 and p.price_out == 0}
    runtime.set_cost_check(cost_check(ledger.refusal, is_free=lambda resource: resource in free))

    def api_key() -> str | None:
        if not provider.keyed:
            return None  # a server that needs no key (the user's own, on the LAN)
        try:
            return runtime.keystore.get_provider_key(provider.name)
        except KeysUnavailableError:
            raise RemoteError(
                RemoteStatus.AUTH,
                f"the keyring is locked or missing, so the key of {provider.name} cannot be read",
            ) from None

    def open_stream(permit: object) -> Opener:
        assert isinstance(permit, Permit)  # the gate's router.remote Allow, handed over by the conductor
        return functools.partial(runtime.effectors.open_chat_stream, permit, provider.base_url)

    return RemoteTier(
        settings=settings,
        backend=RemoteProvider(provider.name, provider.base_url, provider.model, api_key=api_key),
        open_stream=open_stream,
        spending=LedgerSpending(ledger),
        breaker=CircuitBreaker(clock=clock),
    )


def build_conductor(
    *,
    runtime: PolicyRuntime,
    bus: EventBus,
    router: RouterPort,
    persona: DefaultPersona | Callable[[], DefaultPersona],
    spawn: Spawn,
    workdir: Path,
    on_boundary: Callable[[], None] | None = None,
    memory: MemoryService | None = None,
    record: RecordTurn | None = None,
) -> Conductor:
    """A conductor over the gate, effectors, router, memory and the persona (or its source).

    ``record`` keeps each ended turn in its conversation (the app's conversation list).
    """
    return Conductor(
        gate=gate_on_bus(runtime, bus),
        tools=ToolRunner(effectors=lambda: runtime.effectors, memory=memory),
        pending=PendingActions(runtime.database),
        router=router,
        persona=persona,
        bus=bus,
        clock=runtime.clock,
        spawn=spawn,
        workdir=workdir,
        on_boundary=on_boundary,
        memory=memory,
        record=record,
    )


def build_memory(
    runtime: PolicyRuntime,
    bus: EventBus,
    paths: AppPaths,
    personas: PersonaService,
    *,
    load_embedder: bool = True,
) -> MemoryService:
    """Memory for the home, following the active persona's retention (not started: call ``start``)."""
    return MemoryService(
        runtime=runtime,
        bus=bus,
        paths=paths,
        retention_days=lambda: personas.active.memory.retention_days,
        load_embedder=load_embedder and not os.environ.get(NO_EMBEDDER_ENV),
    )


def thread_spawn(job: Callable[[], None]) -> None:
    """Run a generation job on a fresh daemon thread (the command line's router thread)."""
    threading.Thread(target=job, name="aether-router-job", daemon=True).start()


class Companion:
    """Everything but the widgets, for one home. Build with :meth:`open`; call :meth:`close`."""

    def __init__(
        self,
        *,
        runtime: PolicyRuntime,
        bus: EventBus,
        router: Router,
        conductor: Conductor,
        personas: PersonaService,
        memory: MemoryService | None = None,
    ) -> None:
        self.runtime, self.bus, self.router, self.conductor = runtime, bus, router, conductor
        self.personas, self.memory = personas, memory

    @classmethod
    def open(
        cls,
        paths: AppPaths,
        *,
        allow_key_file: bool = False,
        load_model: bool = True,
        progress: Callable[[ModelStatus], None] | None = None,
        workdir: Path | None = None,
        install_guard: bool = True,
        with_memory: bool = True,
        wrap_router: Callable[[Router], RouterPort] | None = None,
        statement_hook: StatementHook | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> Companion:
        """Open the policy runtime, load the model (unless told not to), start memory, build a conductor.

        ``wrap_router`` wraps the router the conductor answers through (tests record
        the requests it is given); by default the conductor uses the router itself.
        ``statement_hook`` sees every statement of both databases before it runs (the
        fault sweep of the tests makes one fail; see :meth:`PolicyRuntime.open`). ``clock``
        (monotonic seconds) times the remote tier's circuit breaker.

        Raises:
            StorageError: the app database cannot be used.
        """
        runtime = PolicyRuntime.open(
            paths, allow_key_file=allow_key_file or None, statement_hook=statement_hook
        )
        try:
            if install_guard:
                runtime.install_guard()
            bus = EventBus()
            personas = PersonaService(runtime=runtime, bus=bus, user_dir=user_personas_dir(paths.data_dir))
            persona = personas.start()
            router = Router(models_dir=paths.models_dir, clock=time.monotonic, model_id=chosen_model(runtime))
            router.remote = build_remote_tier(runtime, clock=clock)
            if load_model:
                router.start(progress, system_prompt=persona.router.system_prompt)
            memory = build_memory(runtime, bus, paths, personas) if with_memory else None
            if memory is not None:
                memory.start()
            conductor = build_conductor(
                runtime=runtime,
                bus=bus,
                router=router if wrap_router is None else wrap_router(router),
                persona=personas.turn_persona,
                spawn=thread_spawn,
                workdir=workdir or Path.cwd(),
                on_boundary=personas.at_boundary,
                memory=memory,
            )
            personas.bind_turns(conductor.busy)
        except BaseException:
            runtime.close()
            raise
        return cls(
            runtime=runtime, bus=bus, router=router, conductor=conductor, personas=personas, memory=memory
        )

    def close(self) -> None:
        """Free the model, end the memory session and close the runtime (idempotent)."""
        self.router.stop()
        if self.memory is not None:
            self.memory.end_session()
            self.memory.close()
        self.runtime.close()

    def __enter__(self) -> Companion:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
