-- Tool calls that wait for an approval ticket (aether_qt/tools.py). The
-- payload of a `write` is the user's own text, kept locally like the
-- conversation itself. A call is handed out at most once (state moves from
-- pending to taken, then done/failed, or to dropped when the answer refuses it).

CREATE TABLE IF NOT EXISTS pending_actions (
    ticket_id TEXT PRIMARY KEY,
    capability TEXT NOT NULL,
    resource TEXT NOT NULL,
    payload TEXT NOT NULL DEFAULT '',
    turn_id TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'taken', 'done', 'failed', 'dropped')),
    result TEXT
);
