"""db/0009: memory items learn when they were last used in a reply (an older database keeps its memories)."""

from __future__ import annotations

import shutil
from pathlib import Path

from aether_qt.core.paths import migrations_dir
from aether_qt.engines.memory.store import MemoryStore
from aether_qt.policy.contracts import FakeClock
from aether_qt.storage.database import close_database, open_database
from aether_qt.storage.migrations import current_version
from aether_qt.storage.sql import execute

MIGRATION = "0009_memory_used_in_reply.sql"


def test_an_older_database_gains_the_column_with_its_memories_never_used(tmp_path: Path) -> None:
    older = tmp_path / "older-migrations"
    older.mkdir()
    for sql in sorted(migrations_dir().glob("*.sql")):
        if sql.name < MIGRATION:
            shutil.copy(sql, older / sql.name)
    path = tmp_path / "data" / "aether.db"
    db = open_database(path, migrations=older, backups_dir=tmp_path / "backups", clock_ms=lambda: 1)
    execute(
        db,
        "INSERT INTO memory_items (id, kind, text, tags, privacy_class, source, turn_id, audit_id, "
        "captured_at_ms, trust, confidence, salience, created_at_ms, last_used_at_ms, retention, session_id, "
        "seen_count) VALUES ('m1', 'fact', 'my dog is called Biscuit', '', 'private', 'user_confirmed', '', "
        "'', 5, 'user_confirmed', 0.95, 0.8, 5, 5, 'forever', 's0', 1)",
    )
    close_database(db)

    backups = tmp_path / "backups"
    db = open_database(path, migrations=migrations_dir(), backups_dir=backups, clock_ms=lambda: 2)
    try:
        assert current_version(db) >= 9
        store = MemoryStore(db, clock=FakeClock(), embedder=None, session_id="s1")
        item = store.get("m1")
        assert item is not None and item.text == "my dog is called Biscuit"
        assert item.used_in_reply_at_ms is None  # "Never used yet", not its creation time
    finally:
        close_database(db)
    assert list((tmp_path / "backups").glob("aether-v*.db"))  # the migration backed the database up first
