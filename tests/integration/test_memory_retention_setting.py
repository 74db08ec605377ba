"""The user's ``memory.retention`` choice is kept: it combines with the persona's, the stricter wins.

Real runtime (opt-in key file, no keyring), real SQLite, memory text-only (no
embedder). Time is a clock the test moves: a memory kept under the user's
"days:30" must disappear after 30 days exactly as one kept under a persona's
``retention_days: 30`` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from keyring_support import no_keyring

from aether_qt.core.bus import EventBus
from aether_qt.core.paths import resolve_paths
from aether_qt.engines.memory.items import Kind
from aether_qt.engines.memory.retention import DAY_MS, SETTING_RETENTION
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.memory.service import MemoryService


@dataclass
class MovableClock:
    """Wall time the test moves forward (monotonic time is real)."""

    now_ms: int = 1_800_000_000_000

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def wall_ms(self) -> int:
        return self.now_ms


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def runtime(tmp_path: Path, clock: MovableClock) -> Iterator[PolicyRuntime]:
    with no_keyring():
        rt = PolicyRuntime.open(resolve_paths(tmp_path / "home"), allow_key_file=True, clock=clock)
        try:
            yield rt
        finally:
            rt.close()


@pytest.fixture
def memory_for(runtime: PolicyRuntime) -> Iterator[Callable[[int | None], MemoryService]]:
    services: list[MemoryService] = []

    def make(persona_days: int | None) -> MemoryService:
        service = MemoryService(
            runtime=runtime,
            bus=EventBus(),
            paths=runtime.paths,
            retention_days=lambda: persona_days,
            load_embedder=False,
        )
        assert service.start().state == "fts_only"
        services.append(service)
        return service

    yield make
    for service in services:
        service.close()


def test_the_users_30_days_expire_a_memory_like_a_30_day_persona_would(
    runtime: PolicyRuntime, memory_for: Callable[[int | None], MemoryService], clock: MovableClock
) -> None:
    by_persona = memory_for(30).edits.add("my dentist is Dr Rao", kind=Kind.FACT).items[0]
    runtime.settings.set(SETTING_RETENTION, "days:30")
    memory = memory_for(None)  # this persona would keep memories forever
    by_user = memory.edits.add("my bike is blue", kind=Kind.FACT).items[0]

    assert by_user.retention == by_persona.retention == "days:30"
    assert by_user.expires_at_ms == by_user.created_at_ms + 30 * DAY_MS
    assert by_persona.expires_at_ms is not None
    persona_span = by_persona.expires_at_ms - by_persona.created_at_ms
    assert by_user.expires_at_ms - by_user.created_at_ms == persona_span

    clock.now_ms += 30 * DAY_MS - 1
    assert memory.get(by_user.id) is not None  # still inside the 30 days
    clock.now_ms += 1
    assert memory.get(by_user.id) is None and memory.get(by_persona.id) is None
    expired, _ = memory.maintain()
    assert expired == 2


@pytest.mark.parametrize(
    ("chosen", "persona_days", "kept"),
    [
        ("days:90", 30, "days:30"),  # a persona may keep less than the user chose...
        ("days:30", 90, "days:30"),  # ...never more
        ("session", 30, "session"),
        ("forever", None, "forever"),
        ("days:30", 0, "session"),
        ("for ever and ever", 30, "days:30"),  # not a retention word: the persona decides (logged)
    ],
)
def test_the_stricter_of_the_users_choice_and_the_personas_wins(
    runtime: PolicyRuntime,
    memory_for: Callable[[int | None], MemoryService],
    chosen: str,
    persona_days: int | None,
    kept: str,
) -> None:
    runtime.settings.set(SETTING_RETENTION, chosen)
    memory = memory_for(persona_days)
    assert memory.retention() == kept
    assert memory.edits.add("my cat is called Miso", kind=Kind.FACT).items[0].retention == kept
