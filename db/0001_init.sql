-- 0001: application settings (typed JSON values, see aether_qt/storage/settings.py).
CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
