-- Policy gate state: the grant ledger and approval tickets (DESIGN.md section 5).
-- Both tables are a durable cache of what the audit log says; the grant
-- table can be rebuilt by replaying the audit log.

CREATE TABLE IF NOT EXISTS grants (
    grant_id TEXT PRIMARY KEY,
    capability TEXT NOT NULL,
    resource_pattern TEXT NOT NULL,
    persona TEXT NOT NULL,
    duration TEXT NOT NULL CHECK (duration IN ('once', 'task', 'session', 'persistent')),
    issued_by TEXT NOT NULL,
    audit_ref TEXT NOT NULL,
    issued_wall_ms INTEGER NOT NULL,
    ttl_s REAL,
    expires_wall_ms INTEGER,
    task_id TEXT,
    revoked_at_ms INTEGER,
    end_cause TEXT
);

CREATE INDEX IF NOT EXISTS grants_by_capability ON grants (capability, persona);

CREATE TABLE IF NOT EXISTS approval_tickets (
    ticket_id TEXT PRIMARY KEY,
    request_json TEXT NOT NULL,
    risk TEXT NOT NULL,
    created_wall_ms INTEGER NOT NULL,
    audit_ref TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'answered')),
    choice TEXT,
    scope TEXT,
    answered_wall_ms INTEGER,
    answer_audit_ref TEXT
);

CREATE INDEX IF NOT EXISTS approval_tickets_by_state ON approval_tickets (state, created_wall_ms);
