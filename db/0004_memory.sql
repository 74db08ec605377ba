-- L2 memory (DESIGN.md §6). SQLite holds the truth: text, metadata and the
-- embedding (float32 bytes); the faiss index in the cache folder is rebuilt
-- from these rows. `seq` is an explicit INTEGER PRIMARY KEY so the row id used
-- by FTS5 and faiss never changes (an implicit rowid may be renumbered by
-- VACUUM); `id` is the stable public identifier.
--
-- Reads must filter `tombstoned_at_ms IS NULL`, expiry (`expires_at_ms > now`)
-- and session retention themselves; the triggers below keep the FTS index to
-- live (not tombstoned, not purged) rows only, so a forgotten item leaves the
-- lexical index in the same statement that tombstones it.

CREATE TABLE IF NOT EXISTS memory_items (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('episode', 'fact', 'preference', 'note')),
    text TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '',
    privacy_class TEXT NOT NULL CHECK (privacy_class IN ('public', 'private', 'sensitive')),
    source TEXT NOT NULL,
    turn_id TEXT NOT NULL DEFAULT '',
    audit_id TEXT NOT NULL DEFAULT '',
    captured_at_ms INTEGER NOT NULL,
    trust TEXT NOT NULL DEFAULT 'untrusted',
    confidence REAL NOT NULL CHECK (confidence >= 0.0 AND confidence <= 1.0),
    salience REAL NOT NULL DEFAULT 0.5 CHECK (salience >= 0.0 AND salience <= 1.0),
    created_at_ms INTEGER NOT NULL,
    last_used_at_ms INTEGER NOT NULL,
    retention TEXT NOT NULL DEFAULT 'forever',
    session_id TEXT NOT NULL DEFAULT '',
    expires_at_ms INTEGER,
    tombstoned_at_ms INTEGER,
    purged INTEGER NOT NULL DEFAULT 0 CHECK (purged IN (0, 1)),
    seen_count INTEGER NOT NULL DEFAULT 1,
    claim_key TEXT,
    contradicts TEXT,
    embedding BLOB,
    embedding_model TEXT NOT NULL DEFAULT ''
);

CREATE INDEX IF NOT EXISTS memory_items_expiry ON memory_items (expires_at_ms)
    WHERE expires_at_ms IS NOT NULL;
CREATE INDEX IF NOT EXISTS memory_items_kind ON memory_items (kind, tombstoned_at_ms);
CREATE INDEX IF NOT EXISTS memory_items_tombstoned ON memory_items (tombstoned_at_ms)
    WHERE tombstoned_at_ms IS NOT NULL;
CREATE INDEX IF NOT EXISTS memory_items_claim ON memory_items (claim_key) WHERE claim_key IS NOT NULL;

-- Lexical index over the text and the extra search tags (speaker, date, captions).
-- Porter stemming on top of unicode61 so "painted" finds "painting".
CREATE VIRTUAL TABLE IF NOT EXISTS memory_fts USING fts5(
    text,
    tags,
    content = 'memory_items',
    content_rowid = 'seq',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER IF NOT EXISTS memory_items_fts_insert AFTER INSERT ON memory_items
WHEN new.tombstoned_at_ms IS NULL AND new.purged = 0
BEGIN
    INSERT INTO memory_fts (rowid, text, tags) VALUES (new.seq, new.text, new.tags);
END;

CREATE TRIGGER IF NOT EXISTS memory_items_fts_delete AFTER DELETE ON memory_items
WHEN old.tombstoned_at_ms IS NULL AND old.purged = 0
BEGIN
    INSERT INTO memory_fts (memory_fts, rowid, text, tags) VALUES ('delete', old.seq, old.text, old.tags);
END;

CREATE TRIGGER IF NOT EXISTS memory_items_fts_unindex AFTER UPDATE OF text, tags, tombstoned_at_ms, purged
ON memory_items
WHEN old.tombstoned_at_ms IS NULL AND old.purged = 0
BEGIN
    INSERT INTO memory_fts (memory_fts, rowid, text, tags) VALUES ('delete', old.seq, old.text, old.tags);
END;

CREATE TRIGGER IF NOT EXISTS memory_items_fts_reindex AFTER UPDATE OF text, tags, tombstoned_at_ms, purged
ON memory_items
WHEN new.tombstoned_at_ms IS NULL AND new.purged = 0
BEGIN
    INSERT INTO memory_fts (rowid, text, tags) VALUES (new.seq, new.text, new.tags);
END;

-- A counter bumped by every change that affects the vector index; the faiss
-- sidecar records it, so a persisted index that missed a write is detected as stale.
CREATE TABLE IF NOT EXISTS memory_state (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

INSERT OR IGNORE INTO memory_state (key, value) VALUES ('vector_version', 0);

CREATE TRIGGER IF NOT EXISTS memory_items_vector_insert AFTER INSERT ON memory_items
BEGIN
    UPDATE memory_state SET value = value + 1 WHERE key = 'vector_version';
END;

CREATE TRIGGER IF NOT EXISTS memory_items_vector_update
AFTER UPDATE OF embedding, embedding_model, tombstoned_at_ms, purged ON memory_items
BEGIN
    UPDATE memory_state SET value = value + 1 WHERE key = 'vector_version';
END;

CREATE TRIGGER IF NOT EXISTS memory_items_vector_delete AFTER DELETE ON memory_items
BEGIN
    UPDATE memory_state SET value = value + 1 WHERE key = 'vector_version';
END;
