-- The cost ledger of the remote tier (aether_qt/engines/router/cost_ledger.py).
-- Money is kept in integer micro-dollars (1 USD = 1 000 000) so sums and cap
-- comparisons are exact; reservations round up, so a rounding never lets a
-- call through that the cap should have stopped.
--
-- A call first reserves its worst case (prompt + max_tokens at the price) in
-- one BEGIN IMMEDIATE transaction that checks the caps; it is then settled at
-- what the server reports, or released when it failed before any usage. The
-- day and month of an entry are those of the ledger's clock when it was
-- reserved: max(wall clock, high-water mark), so moving the clock back never
-- opens a new period.

CREATE TABLE IF NOT EXISTS cost_entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    day TEXT NOT NULL,
    month TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('reserved', 'settled', 'released', 'abandoned')),
    reserved_micros INTEGER NOT NULL CHECK (reserved_micros >= 0),
    -- what counts against the caps: the reservation while open, the actual cost once settled
    charged_micros INTEGER NOT NULL CHECK (charged_micros >= 0),
    prompt_tokens INTEGER NOT NULL CHECK (prompt_tokens >= 0),
    max_tokens INTEGER NOT NULL CHECK (max_tokens >= 0),
    input_tokens INTEGER CHECK (input_tokens >= 0),
    output_tokens INTEGER CHECK (output_tokens >= 0),
    usage_reported INTEGER CHECK (usage_reported IN (0, 1)),
    price_in REAL NOT NULL CHECK (price_in >= 0),
    price_out REAL NOT NULL CHECK (price_out >= 0),
    created_at_ms INTEGER NOT NULL,
    closed_at_ms INTEGER
);

CREATE INDEX IF NOT EXISTS cost_entries_day ON cost_entries (day);
CREATE INDEX IF NOT EXISTS cost_entries_month ON cost_entries (month);
CREATE INDEX IF NOT EXISTS cost_entries_open ON cost_entries (state) WHERE state = 'reserved';

-- One row: the caps (default 1 USD a day, 10 USD a month: never unlimited until
-- the user says otherwise), the clock's high-water mark and the trip.
CREATE TABLE IF NOT EXISTS cost_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    daily_cap_micros INTEGER NOT NULL CHECK (daily_cap_micros >= 0),
    monthly_cap_micros INTEGER NOT NULL CHECK (monthly_cap_micros >= 0),
    high_water_ms INTEGER NOT NULL CHECK (high_water_ms >= 0),
    tripped_period TEXT,
    tripped_reason TEXT NOT NULL DEFAULT '',
    tripped_at_ms INTEGER
);

INSERT OR IGNORE INTO cost_state (id, daily_cap_micros, monthly_cap_micros, high_water_ms)
VALUES (1, 1000000, 10000000, 0);

-- The user's changes (caps set, re-arm) and trips, with the audit row that allowed them.
CREATE TABLE IF NOT EXISTS cost_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('caps', 'rearm', 'trip')),
    detail TEXT NOT NULL,
    audit_id TEXT NOT NULL DEFAULT '',
    at_ms INTEGER NOT NULL
);
