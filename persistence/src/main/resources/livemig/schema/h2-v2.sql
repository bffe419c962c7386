-- livemig schema, version 2 (H2): the migration list, a read-side view of the coordinators.
-- One row per migration, written by its coordinator after each persisted change (an upsert
-- that never replaces a newer sequence number with an older one). ended_at_ms is 0 until the
-- migration ended; error is a summary (at most 1000 characters).
CREATE TABLE IF NOT EXISTS livemig_migrations (
    migration_id VARCHAR(255) NOT NULL PRIMARY KEY,
    guest_id VARCHAR(255) NOT NULL,
    source_host VARCHAR(255) NOT NULL,
    destination_host VARCHAR(255) NOT NULL,
    status VARCHAR(32) NOT NULL,
    phase VARCHAR(32) NOT NULL,
    started_at_ms BIGINT NOT NULL,
    ended_at_ms BIGINT NOT NULL,
    downtime_ms BIGINT NOT NULL,
    error_kind VARCHAR(64) NOT NULL,
    failed_phase VARCHAR(32) NOT NULL,
    error VARCHAR(1024) NOT NULL,
    epoch BIGINT NOT NULL,
    seq_nr BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
-- Newest first, paged by (started_at_ms, migration_id).
CREATE INDEX IF NOT EXISTS livemig_migrations_newest_idx ON livemig_migrations (started_at_ms DESC, migration_id DESC);
-- The migrations that have not ended (GET /hosts asks their coordinators).
CREATE INDEX IF NOT EXISTS livemig_migrations_ended_idx ON livemig_migrations (ended_at_ms);
