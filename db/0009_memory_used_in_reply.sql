-- When a memory last went into a reply's prompt, for the memory panel
-- ("Last used in a reply: today 14:02" / "Never used yet").
--
-- `last_used_at_ms` cannot say it: it starts at the creation time and moves when
-- a memory is reinforced, because recall ranks by it. NULL here means never used.
-- Adding a nullable column rewrites no row; the migration runs in one
-- transaction after the database was backed up, like every other.

ALTER TABLE memory_items ADD COLUMN used_in_reply_at_ms INTEGER;
