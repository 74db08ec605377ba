"""``aether backup`` and ``aether restore`` from outside, with the real key derivation.

A home is filled through the public APIs (:mod:`backup_support`), backed up by the
real command, and restored by the real command onto a fresh home, with ``TMPDIR``
pointing at a private folder so no stray temp file can hide. Then the bundle is
attacked (one byte in its header, middle or end, a wrong passphrase), restored
over a newer home (the rollback it is), and restored while the app holds the home.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from backup_support import CANARY, FACT, PASSPHRASE, files_holding, home_state, seed_home, snapshot
from cli_support import Cli
from keyring_support import key_file_runtime

from aether_qt.core.instance_lock import InstanceLock
from aether_qt.core.paths import resolve_paths
from aether_qt.storage.sealed_stream import HEADER_BYTES, STREAM_MAGIC

pytestmark = pytest.mark.slow  # every restore derives a key at the real cost (~2 s here)


@dataclass(frozen=True)
class World:
    root: Path
    source: Cli
    fresh: Cli
    bundle: Path
    passphrase_file: Path
    env: dict[str, str]
    backup: dict[str, Any]
    restore: dict[str, Any]

    def run(self, cli: Cli, *args: str) -> subprocess.CompletedProcess[str]:
        return cli.run(
            *args, "--passphrase-file", str(self.passphrase_file), env=self.env, stdin=subprocess.DEVNULL
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("backup")
    seed_home(root / "home", folders=(root / "docs", root / "out"))
    secret = root / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    secret.chmod(0o600)
    (root / "tmp").mkdir()
    source, fresh = Cli(root / "home", key_file=True), Cli(root / "fresh", key_file=True)
    env = source.env(TMPDIR=str(root / "tmp"))
    bundle = root / "out" / "home.aether"
    made = source.run("backup", "--out", str(bundle), "--json", "--passphrase-file", str(secret), env=env)
    assert made.returncode == 0, made.stderr
    back = fresh.run("restore", str(bundle), "--json", "--passphrase-file", str(secret), env=env)
    assert back.returncode == 0, back.stderr
    return World(root, source, fresh, bundle, secret, env, json.loads(made.stdout), json.loads(back.stdout))


def test_a_backup_restored_on_a_fresh_home_reproduces_everything_and_verifies(world: World) -> None:
    assert world.restore["replaced"] == "" and world.restore["rollback"] is False
    assert {m["name"] for m in world.backup["members"]} >= {"aether.db", "audit.db", "personas/pal.yaml"}
    restored, original = home_state(world.fresh.home), home_state(world.source.home)
    assert restored == original
    assert FACT in restored.memories and restored.grants and restored.personas and restored.ui_settings
    verify = world.fresh.run("audit", "verify", "--json")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert json.loads(verify.stdout)["status"] == "intact"


def test_the_canary_is_in_no_byte_of_the_bundle_the_homes_or_the_temp_folder(world: World) -> None:
    needle = CANARY.encode()
    for place in (world.root / "out", world.source.home, world.fresh.home, world.root / "tmp"):
        assert files_holding(place, needle) == [], place
    assert world.bundle.stat().st_mode & 0o777 == 0o600
    assert FACT in home_state(world.fresh.home).memories  # it is there, only never in clear


def test_the_backup_is_a_gated_write_answered_by_the_command(world: World) -> None:
    outside = world.root / "not-approved" / "x.aether"
    outside.parent.mkdir(exist_ok=True)
    refused = world.run(world.source, "backup", "--out", str(outside))
    assert refused.returncode == 1 and "backup refused: DENY" in refused.stderr
    assert not outside.exists()
    with key_file_runtime(world.source.home) as rt:
        assert rt.audit is not None
        rows = [r for r in rt.audit.rows() if r.capability == "data.backup"]
    assert [r.decision for r in rows if r.resource == str(world.bundle)][:2] == ["ask", "allow"]


def _flipped(world: World, tmp_path: Path, where: str) -> Path:
    data = bytearray(world.bundle.read_bytes())
    position = {
        "header": len(STREAM_MAGIC) + 5,
        "middle": HEADER_BYTES + len(data) // 2 - HEADER_BYTES // 2,
        "end": len(data) - 3,
    }
    data[position[where]] ^= 0x01  # the salt, a chunk in the middle, the final tag
    changed = tmp_path / f"{where}.aether"
    changed.write_bytes(bytes(data))
    return changed


@pytest.mark.parametrize("attack", ["header", "middle", "end", "passphrase"])
def test_a_changed_byte_or_a_wrong_passphrase_is_refused_and_nothing_changes(
    world: World, tmp_path: Path, attack: str
) -> None:
    home = tmp_path / "home"
    shutil.copytree(world.fresh.home, home)
    cli = Cli(home, key_file=True)
    before = snapshot(home)
    if attack == "passphrase":
        (tmp_path / "wrong").write_text(PASSPHRASE + "!\n")
        proc = cli.run(
            "restore", str(world.bundle), "--yes", "--passphrase-file", str(tmp_path / "wrong"), env=world.env
        )
        reason = "wrong passphrase"
    else:
        proc = world.run(cli, "restore", str(_flipped(world, tmp_path, attack)), "--yes")
        reason = "changed" if attack != "header" else "passphrase, or the file has been changed"
    assert proc.returncode == 1, proc.stderr
    assert reason in proc.stderr and "Nothing was changed." in proc.stderr
    assert snapshot(home) == before
    assert not list(resolve_paths(home).data_dir.glob("restore-*"))


def test_an_older_backup_over_a_newer_home_asks_then_records_the_acknowledgement(
    world: World, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    shutil.copytree(world.source.home, home)  # its log went on after the backup
    cli = Cli(home, key_file=True)
    before = snapshot(home)

    asked = world.run(cli, "restore", str(world.bundle))
    assert asked.returncode == 1
    assert "older than this home's audit log" in asked.stderr and "--yes" in asked.stderr
    assert snapshot(home) == before

    done = world.run(cli, "restore", str(world.bundle), "--yes", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["rollback"] is True and "Acknowledged (rollback)" in result["acknowledged"]
    assert result["gate"].startswith("allowed")
    replaced = Path(result["replaced"])
    kept = sqlite3.connect(replaced / "audit.db")  # the newer log, set aside with the data it vouched for
    assert kept.execute("SELECT max(seq) FROM audit_log").fetchone()[0] > world.backup["audit"]["seq"]
    kept.close()
    assert (replaced / "aether.db").stat().st_size > 0
    verify = cli.run("audit", "verify")
    assert verify.returncode == 0, verify.stdout
    with key_file_runtime(home) as rt:
        assert rt.audit is not None
        rows = rt.audit.rows()
    epoch = next(r for r in rows if r.decision == "audit_epoch")
    assert epoch.reason == "rollback" and epoch.detail["cause"]["replaced"] == replaced.name
    assert [r.capability for r in rows if r.decision == "data_restore"] == ["data.restore"]


def test_restore_refuses_while_the_app_holds_the_home(world: World) -> None:
    before = snapshot(world.fresh.home)
    lock = InstanceLock.acquire(resolve_paths(world.fresh.home).data_dir)
    assert lock is not None
    with lock:
        proc = world.run(world.fresh, "restore", str(world.bundle), "--yes")
    assert proc.returncode == 2 and "Aether is running on this home" in proc.stderr
    assert snapshot(world.fresh.home) == before
