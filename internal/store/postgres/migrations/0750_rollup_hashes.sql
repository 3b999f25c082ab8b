-- A hash of each rollup segment's bytes (xxHash64, as a signed integer), so that a run that
-- replaces a period rewrites only the segments whose bytes changed
-- (internal/attribution/results/stale.go). Segments written before have none: they count as
-- changed the first time.
ALTER TABLE rollup_groups ADD COLUMN data_hash BIGINT;
ALTER TABLE rollup_tenants ADD COLUMN data_hash BIGINT;
