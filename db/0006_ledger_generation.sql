-- One counter that every change of the grants table increments in the same
-- transaction (aether_qt/policy/grants.py). A process keeps the grants in memory
-- and compares the counter before each decision: a grant issued or revoked by
-- another process of the same home (a command run while the app is open) is
-- picked up at once instead of at the next start.

CREATE TABLE IF NOT EXISTS ledger_generation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO ledger_generation (id, value) VALUES (1, 0);
