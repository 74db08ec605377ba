"""Every setting key the code reads can also be written: none is refused as "secret-like".

The settings store refuses keys whose last word names a secret (``key``,
``token``...). ``voice.ptt_key`` was such a key: the app read it, but nothing
could ever store it, so the push-to-talk key could not be changed. This scans
the package for the setting names it declares and stores a value under each,
in a real migrated database.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import peewee
import pytest

from aether_qt.core.paths import migrations_dir
from aether_qt.storage.database import close_database, open_database
from aether_qt.storage.settings import SettingsStore

PACKAGE = Path(__file__).resolve().parents[4] / "aether_qt"
KNOWN = {"voice.ptt_hotkey", "policy.preset", "memory.retention", "router.model_id", "persona.active"}


def declared_setting_keys() -> set[str]:
    """String constants named ``SETTING_*`` / ``*_SETTING`` / ``*_KEY`` that look like ``layer.name``."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
            if isinstance(node, ast.AnnAssign):
                target = node.target
            value = getattr(node, "value", None)
            if not isinstance(target, ast.Name) or not isinstance(value, ast.Constant):
                continue
            name, text = target.id, value.value
            named_like = name.startswith("SETTING_") or name.endswith(("_SETTING", "_KEY"))
            if named_like and isinstance(text, str) and text.count(".") == 1 and " " not in text:
                layer = text.split(".")[0]
                if layer in {"voice", "policy", "memory", "router", "persona", "ui", "costs"}:
                    found.add(text)
    return found


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SettingsStore]:
    tmp_path = tmp_path_factory.mktemp("settings")
    db: peewee.SqliteDatabase = open_database(
        tmp_path / "aether.db", migrations=migrations_dir(), backups_dir=tmp_path / "backups"
    )
    try:
        yield SettingsStore(database=db)
    finally:
        close_database(db)


def test_the_scan_finds_the_settings_the_dialog_changes() -> None:
    assert declared_setting_keys() >= KNOWN


@pytest.mark.parametrize("key", sorted(declared_setting_keys()))
def test_every_declared_setting_key_can_be_stored(store: SettingsStore, key: str) -> None:
    store.set(key, "F8")
    assert store.get(key) == "F8"
