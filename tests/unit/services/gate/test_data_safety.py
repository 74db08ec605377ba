"""The trust centre's backup service, called directly: the click is the approval, failures are sentences."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from backup_support import CHEAP, PASSPHRASE, backup_of, seed_home
from keyring_support import key_file_runtime

from aether_qt.core.errors import ExplainedError
from aether_qt.core.paths import resolve_paths
from aether_qt.policy.runtime import PolicyRuntime
from aether_qt.services.gate.data_safety import BackupRefusedError, DataSafetyService


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("safety")
    seed_home(root / "home", folders=(root / "docs", root / "out"))
    return root


@pytest.fixture
def runtime(seeded: Path, tmp_path: Path) -> Iterator[PolicyRuntime]:
    shutil.copytree(seeded / "home", tmp_path / "home")
    with key_file_runtime(tmp_path / "home") as rt:
        yield rt


def _service(rt: PolicyRuntime, home: Path | None = None) -> DataSafetyService:
    return DataSafetyService(runtime=rt, home=home, cost=CHEAP, min_cost=CHEAP)


def test_a_backup_then_its_check_name_what_was_done_and_the_command(
    runtime: PolicyRuntime, seeded: Path, tmp_path: Path
) -> None:
    service = _service(runtime, home=tmp_path / "home")
    out = seeded / "out" / f"{tmp_path.name}.aether"
    said = service.backup(out, PASSPHRASE, lambda *_: None)
    assert said.startswith(f"Backed up to {out}") and "Keep the passphrase" in said
    checked = service.check_backup(out, PASSPHRASE, lambda *_: None)
    # spending the allow-once grant came after the copy: the live log is already one row further
    assert "is sound" in checked and "older than this home's audit log" in checked
    assert service.restore_command(out) == f"aether --home {tmp_path / 'home'} restore {out}"
    assert _service(runtime).restore_command(out) == f"aether restore {out}"
    assert not list(resolve_paths(tmp_path / "home").data_dir.glob("check-*"))


def test_refusals_are_explained_errors(runtime: PolicyRuntime, seeded: Path, tmp_path: Path) -> None:
    service = _service(runtime)
    with pytest.raises(BackupRefusedError, match="the policy refused it"):
        service.backup(tmp_path / "outside.aether", PASSPHRASE, lambda *_: None)
    out = seeded / "out" / f"r-{tmp_path.name}.aether"
    service.backup(out, PASSPHRASE, lambda *_: None)
    with pytest.raises(ExplainedError, match="cannot be restored: wrong passphrase"):
        service.check_backup(out, "another passphrase", lambda *_: None)
    other = tmp_path / "other"
    seed_home(other, folders=(tmp_path / "elsewhere",))
    foreign = backup_of(other, tmp_path / "elsewhere" / "other.aether").path
    checked = service.check_backup(foreign, PASSPHRASE, lambda *_: None)
    assert "is sound" in checked and "older" not in checked  # another log: a replacement, not a rollback
