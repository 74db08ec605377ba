"""Fixtures shared by the integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from backup_support import backup_of, seed_home


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a seeded home (``home``) and its approved folders ``docs`` and ``out`` (for backups)."""
    root = tmp_path_factory.mktemp("source")
    seed_home(root / "home", folders=(root / "docs", root / "out"))
    return root


@pytest.fixture(scope="module")
def bundle(source: Path) -> Path:
    """A backup of ``source``'s home at the cheapest key-derivation cost."""
    return backup_of(source / "home", source / "out" / "cheap.aether").path
