-- One FTS trigger for updates instead of two (0004's unindex + reindex).
--
-- SQLite does not promise an order for two AFTER UPDATE triggers on the same
-- row, and in practice it ran the newer one first: a text edit inserted the new
-- text for a rowid still holding the old one, then deleted the old tokens,
-- which left the external-content FTS5 index inconsistent ("database disk image
-- is malformed" on the next MATCH). One trigger with both steps in order fixes
-- it; the index is then rebuilt from the live rows so any damage is repaired.

DROP TRIGGER IF EXISTS memory_items_fts_unindex;
DROP TRIGGER IF EXISTS memory_items_fts_reindex;

CREATE TRIGGER IF NOT EXISTS memory_items_fts_update AFTER UPDATE OF text, tags, tombstoned_at_ms, purged
ON memory_items
BEGIN
    INSERT INTO memory_fts (memory_fts, rowid, text, tags)
        SELECT 'delete', old.seq, old.text, old.tags WHERE old.tombstoned_at_ms IS NULL AND old.purged = 0;
    INSERT INTO memory_fts (rowid, text, tags)
        SELECT new.seq, new.text, new.tags WHERE new.tombstoned_at_ms IS NULL AND new.purged = 0;
END;

INSERT INTO memory_fts (memory_fts) VALUES ('delete-all');
INSERT INTO memory_fts (rowid, text, tags)
    SELECT seq, text, tags FROM memory_items WHERE tombstoned_at_ms IS NULL AND purged = 0;
