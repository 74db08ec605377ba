"""``Effectors.create_binary``: a new binary file through a ``files.create`` permit, never overwriting."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_effects import RecordingVerifier

from aether_qt.policy.contracts import PermitError
from aether_qt.policy.effect_types import OutsideRootsError, TargetExistsError
from aether_qt.policy.effects import Effectors
from aether_qt.policy.guard import Guard

PNG_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


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


def test_create_binary_writes_the_bytes(fx: Effectors, verifier: RecordingVerifier, root: Path) -> None:
    target = root / "avatar.png"
    assert fx.create_binary(verifier.mint("files.create", target), target, PNG_BYTES) == target
    assert target.read_bytes() == PNG_BYTES
    assert [p.name for p in root.iterdir()] == ["avatar.png"]  # no temp file left
    assert verifier.redeemed == [("files.create", str(target))]


def test_create_binary_never_overwrites(fx: Effectors, verifier: RecordingVerifier, root: Path) -> None:
    target = root / "keep.png"
    target.write_bytes(b"original")
    with pytest.raises(TargetExistsError):
        fx.create_binary(verifier.mint("files.create", target), target, PNG_BYTES)
    assert target.read_bytes() == b"original"


def test_create_binary_needs_a_files_create_permit(
    fx: Effectors, verifier: RecordingVerifier, root: Path
) -> None:
    target = root / "avatar.png"
    with pytest.raises(PermitError):
        fx.create_binary(verifier.mint("files.edit", target), target, PNG_BYTES)
    assert not target.exists()


def test_create_binary_stays_inside_the_approved_roots(
    fx: Effectors, verifier: RecordingVerifier, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere.png"
    with pytest.raises(OutsideRootsError):
        fx.create_binary(verifier.mint("files.create", target), target, PNG_BYTES)
    assert not target.exists()
