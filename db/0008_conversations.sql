-- The user's conversations (aether_qt/storage/conversations.py): what the
-- transcript showed, kept so a restart, "New conversation" and search find it
-- again. Encrypted with the rest of aether.db. A conversation row appears with
-- its first message; its title is the first user message, shortened, until the
-- user renames it (titled_by_user = 1). The conversation shown at start is the
-- one opened last (opened_at_ms).
--
-- Deleting a conversation deletes its messages (ON DELETE CASCADE, and the store
-- deletes them itself first) and their words leave the FTS index through the
-- delete trigger, in the same transaction.

CREATE TABLE IF NOT EXISTS conversations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    titled_by_user INTEGER NOT NULL DEFAULT 0 CHECK (titled_by_user IN (0, 1)),
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    opened_at_ms INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS conversations_updated ON conversations (updated_at_ms);
CREATE INDEX IF NOT EXISTS conversations_opened ON conversations (opened_at_ms);

-- `seq` is an explicit INTEGER PRIMARY KEY: the FTS rowid, and the order of a
-- conversation's messages. `turn_id` ties both messages of one turn together
-- (never shown to the user); `outcome` and `route` are how the turn ended and
-- where its answer came from, as the transcript showed them; `taint` the
-- provenance tags of the untrusted content the reply holds or was written from,
-- a JSON list (never shown), so a conversation continued after a restart
-- keeps its taint while those exchanges are in the model's window.
CREATE TABLE IF NOT EXISTS conversation_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    text TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    turn_id TEXT NOT NULL DEFAULT '',
    outcome TEXT NOT NULL DEFAULT '',
    route TEXT NOT NULL DEFAULT '',
    taint TEXT NOT NULL DEFAULT ''
);

CREATE INDEX IF NOT EXISTS conversation_messages_order ON conversation_messages (conversation_id, seq);

CREATE VIRTUAL TABLE IF NOT EXISTS conversation_fts USING fts5(
    text,
    content = 'conversation_messages',
    content_rowid = 'seq',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER IF NOT EXISTS conversation_messages_fts_insert AFTER INSERT ON conversation_messages
BEGIN
    INSERT INTO conversation_fts (rowid, text) VALUES (new.seq, new.text);
END;

CREATE TRIGGER IF NOT EXISTS conversation_messages_fts_delete AFTER DELETE ON conversation_messages
BEGIN
    INSERT INTO conversation_fts (conversation_fts, rowid, text) VALUES ('delete', old.seq, old.text);
END;

-- One trigger with both steps in order (see 0005: two AFTER UPDATE triggers have no order).
CREATE TRIGGER IF NOT EXISTS conversation_messages_fts_update AFTER UPDATE OF text ON conversation_messages
BEGIN
    INSERT INTO conversation_fts (conversation_fts, rowid, text) VALUES ('delete', old.seq, old.text);
    INSERT INTO conversation_fts (rowid, text) VALUES (new.seq, new.text);
END;
