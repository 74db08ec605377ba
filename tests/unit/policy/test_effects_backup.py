"""``Effectors.write_backup`` (a streamed, gated, never-overwriting write) and ``remove_own_folder``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_effects import RecordingVerifier

from aether_qt.policy.contracts import PermitError
from aether_qt.policy.effect_types import OutsideRootsError, TargetExistsError
from aether_qt.policy.effects import Effectors, remove_own_folder
from aether_qt.policy.guard import Guard


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    folder.mkdir()
    return folder.resolve()


@pytest.fixture
def verifier() -> RecordingVerifier:
    return RecordingVerifier()


@pytest.fixture
def fx(verifier: RecordingVerifier, root: Path, tmp_path: Path) -> Effectors:
    return Effectors(verifier=verifier, approved_roots=[root], guard=Guard([tmp_path / "data"]))


def test_a_backup_is_streamed_into_a_new_private_file_with_progress(
    fx: Effectors, verifier: RecordingVerifier, root: Path
) -> None:
    target = root / "home.aether"
    seen: list[tuple[int, int | None]] = []
    chunks = [b"a" * 10, b"b" * 5, b"c"]
    written = fx.write_backup(
        verifier.mint("data.backup", target),
        target,
        iter(chunks),
        size=16,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert written == target and target.read_bytes() == b"".join(chunks)
    assert target.stat().st_mode & 0o777 == 0o600
    assert seen == [(10, 16), (15, 16), (16, 16)]
    assert verifier.redeemed == [("data.backup", str(target))]
    assert [p.name for p in root.iterdir()] == ["home.aether"]


def test_a_failing_stream_leaves_neither_the_file_nor_its_name(
    fx: Effectors, verifier: RecordingVerifier, root: Path
) -> None:
    target = root / "half.aether"

    def broken() -> Iterator[bytes]:
        yield b"x" * 1000
        raise ValueError("a member changed while it was written")

    with pytest.raises(ValueError, match="changed"):
        fx.write_backup(verifier.mint("data.backup", target), target, broken())
    assert list(root.iterdir()) == []


def test_a_backup_never_overwrites_and_needs_its_own_permit(
    fx: Effectors, verifier: RecordingVerifier, root: Path
) -> None:
    target = root / "taken.aether"
    target.write_bytes(b"keep me")
    with pytest.raises(TargetExistsError):
        fx.write_backup(verifier.mint("data.backup", target), target, [b"new"])
    assert target.read_bytes() == b"keep me"
    other = root / "other.aether"
    with pytest.raises(PermitError):
        fx.write_backup(verifier.mint("data.backup", target), other, [b"x"])
    with pytest.raises(PermitError):
        fx.write_backup(verifier.mint("memory.export", other), other, [b"x"])
    assert not other.exists()


def test_remove_own_folder_removes_only_an_empty_folder_inside_its_root(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "staging").mkdir(parents=True)
    assert remove_own_folder(data / "staging", root=data) is True
    assert remove_own_folder(data / "staging", root=data) is False
    (data / "full").mkdir()
    (data / "full" / "f").write_bytes(b"x")
    with pytest.raises(OSError):
        remove_own_folder(data / "full", root=data)
    with pytest.raises(OutsideRootsError):
        remove_own_folder(tmp_path, root=data)
