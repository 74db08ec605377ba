"""Homes worth backing up, and what a restore must bring back, for the backup and restore tests.

:func:`seed_home` fills a home the way a user would, through the public APIs (no
raw database access): two memories (one holds :data:`CANARY`), a durable grant,
the Operator preset, two approved folders, a persona of the user's and the
window's settings file. :func:`home_state` reads back everything a restore must
reproduce. Everything runs on the opt-in key file, never on the user's keyring.

:data:`CHEAP` is the cheapest Argon2id cost, for in-process tests: the command line
never passes a cost, so every file it writes or accepts uses MODERATE.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.pwhash
from keyring_support import key_file_runtime, no_keyring

from aether_qt.core.bus import EventBus
from aether_qt.core.paths import resolve_paths
from aether_qt.engines.memory.items import Kind
from aether_qt.engines.persona.registry import shipped_personas_dir
from aether_qt.policy.backup import BackupDone, make_backup
from aether_qt.policy.backup_format import PAYLOAD_MAGIC, Member, PayloadReader
from aether_qt.policy.capabilities import Preset
from aether_qt.policy.decisions import ActionRequest, Allow, ApprovalChoice, Ask
from aether_qt.policy.restore import Restored, finish, install, plan_restore
from aether_qt.policy.restore_bundle import discard_staging, read_bundle
from aether_qt.services.gate.user_acts import decide_as_user
from aether_qt.services.memory.service import MemoryService
from aether_qt.storage.sealed_stream import KdfCost, StreamOpener, StreamSealer

CHEAP = KdfCost(nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN)
CANARY = "periwinkle-zeppelin-4471"
FACT = f"my locker code is {CANARY}"
PASSPHRASE = "correct horse battery staple"
UI_SETTINGS = b"[main_window]\ntab=2\n"
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class HomeState:
    """What a restore must reproduce."""

    memories: tuple[str, ...]
    grants: tuple[tuple[str, str, str], ...]
    preset: Preset
    roots: tuple[Path, ...]
    personas: dict[str, bytes]
    ui_settings: bytes | None


def seed_home(home: Path, *, folders: tuple[Path, ...]) -> None:
    """Fill ``home`` (see the module docstring); ``folders`` become the approved folders."""
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
    with key_file_runtime(home) as rt:
        rt.set_preset(Preset.OPERATOR)
        rt.set_roots(folders)
        memory = MemoryService(
            runtime=rt, bus=EventBus(), paths=rt.paths, retention_days=lambda: 30, load_embedder=False
        )
        memory.start()
        try:
            assert memory.edits.add(FACT, kind=Kind.FACT).ok
            assert memory.edits.add("I prefer green tea in the morning", kind=Kind.PREFERENCE).ok
        finally:
            memory.close()
        ask = rt.gate.evaluate(
            ActionRequest("files.create", str(folders[0] / "notes.txt"), actor_persona="default")
        )
        assert isinstance(ask, Ask)
        rt.gate.answer(ask.ticket.ticket_id, ApprovalChoice.ALWAYS_SCOPE)
        personas = rt.paths.personas_dir
        personas.mkdir(parents=True, exist_ok=True)
        (personas / "pal.yaml").write_bytes((shipped_personas_dir() / "pip.yaml").read_bytes())
        rt.paths.ui_settings_file.write_bytes(UI_SETTINGS)


def home_state(home: Path) -> HomeState:
    """Read back what :func:`seed_home` put in (through the runtime, checking the log on the way)."""
    with key_file_runtime(home) as rt:
        assert not rt.data_error and rt.audit is not None, rt.data_error or rt.audit_error
        texts = sorted(str(r[0]) for r in rt.database.execute_sql("SELECT text FROM memory_items").fetchall())
        grants = tuple(sorted((g.grant_id, g.capability, g.resource_pattern) for g in rt.ledger.active()))
        personas = {p.name: p.read_bytes() for p in sorted(rt.paths.personas_dir.glob("*"))}
        ini = rt.paths.ui_settings_file
        return HomeState(
            memories=tuple(texts),
            grants=grants,
            preset=rt.preset(),
            roots=rt.approved_roots(),
            personas=personas,
            ui_settings=ini.read_bytes() if ini.exists() else None,
        )


def backup_of(home: Path, out: Path, *, progress: Progress | None = None) -> BackupDone:
    """A cheap backup of ``home`` to ``out``, asked of the gate as the user would."""
    with key_file_runtime(home) as rt:
        decision = decide_as_user(rt.gate, "data.backup", str(out))
        assert isinstance(decision, Allow)
        return make_backup(rt, decision.permit, out, PASSPHRASE, cost=CHEAP, progress=progress)


def restore_into(home: Path, bundle: Path, *, stamp: str = "t1") -> Restored:
    """What ``aether restore --yes`` does once the bundle is read, in-process (no gate: the tests own it)."""
    paths = resolve_paths(home).ensure()
    staging = paths.data_dir / f"restore-{stamp}.partial"
    with no_keyring():
        read = read_bundle(bundle, PASSPHRASE, staging=staging, root=paths.data_dir, min_cost=CHEAP)
        try:
            plan = plan_restore(paths, read)
            replaced, keys = install(paths, read, staging=staging, allow_key_file=True, stamp=stamp)
            return finish(
                paths,
                read,
                plan,
                source=bundle,
                gate="test",
                replaced=replaced,
                keys=keys,
                allow_key_file=True,
            )
        finally:
            discard_staging(staging, root=paths.data_dir)


def payload_of(bundle: Path) -> tuple[list[Member], dict[str, bytes]]:
    """The members of a cheap ``bundle``, in order, and their bytes."""
    with bundle.open("rb") as handle:
        reader = PayloadReader(StreamOpener(handle, PASSPHRASE, min_cost=CHEAP).chunks())
        members = list(reader.manifest().members)
        return members, {m.name: b"".join(data) for m, data in reader.members()}


def reseal(
    bundle: Path,
    members: list[Member],
    content: dict[str, bytes],
    manifest_edit: Callable[[dict[str, Any]], None],
) -> bytes:
    """``bundle`` rebuilt with ``content`` and a manifest that matches it, edited, sealed with the passphrase.

    This is what someone who knows the passphrase can do: the seal is right, so only
    the checks inside (keys, anchor, audit chain, database) stand between it and the home.
    """
    with bundle.open("rb") as handle:
        manifest = PayloadReader(StreamOpener(handle, PASSPHRASE, min_cost=CHEAP).chunks()).manifest()
    data = manifest.to_json()
    data["members"] = [
        {"name": m.name, "size": len(content[m.name]), "sha256": hashlib.sha256(content[m.name]).hexdigest()}
        for m in members
    ]
    manifest_edit(data)
    encoded = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    body = PAYLOAD_MAGIC + len(encoded).to_bytes(4, "big") + encoded
    return b"".join(StreamSealer(PASSPHRASE, cost=CHEAP).seal([body, *(content[m.name] for m in members)]))


def files_holding(root: Path, needle: bytes) -> list[str]:
    """Every file below ``root`` whose raw bytes contain ``needle`` (WAL and journals included)."""
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()
    )


def snapshot(home: Path) -> dict[str, bytes]:
    """Every file of ``home`` and its bytes, but the instance lock (a restore writes its pid there)."""
    return {
        str(p.relative_to(home)): p.read_bytes()
        for p in sorted(home.rglob("*"))
        if p.is_file() and p.name != "aether.lock"
    }


__all__ = [
    "CANARY",
    "CHEAP",
    "FACT",
    "PASSPHRASE",
    "HomeState",
    "backup_of",
    "files_holding",
    "home_state",
    "payload_of",
    "reseal",
    "restore_into",
    "seed_home",
    "snapshot",
]
