-- Rollup segments (internal/attribution/results/rollups.go) are stored compressed with LZ4
-- instead of PostgreSQL's default pglz: every run writes about 440 MB of them at the bench
-- scale, most of them compressible, and pglz took about 8 of the server's 16 CPU seconds of a
-- run there (bench/RESULTS.md, 2026-12-07). Values written before keep pglz and read as
-- before. A server built without LZ4 keeps pglz: the change is skipped, not failed.
DO $$
BEGIN
    ALTER TABLE rollup_groups ALTER COLUMN data SET COMPRESSION lz4;
    ALTER TABLE rollup_tenants ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'PostgreSQL without LZ4: rollup segments stay compressed with pglz';
END $$;
