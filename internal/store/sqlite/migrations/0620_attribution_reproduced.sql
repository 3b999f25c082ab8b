-- Attribution runs record their inputs instead of their rows (internal/attribution/results):
-- rows are reproduced on demand from the estate snapshot the run saw, its programs and the
-- usage segments it read, through the same rules. Restating a period swaps which run covers it.
--
-- Which run's results hold for records whose charge starts in [period_from, period_to):
-- disjoint intervals, one run each.
CREATE TABLE attribution_coverage (
    period_from BIGINT NOT NULL PRIMARY KEY,
    period_to   BIGINT NOT NULL,
    run_id      TEXT   NOT NULL
);
CREATE INDEX attribution_coverage_run ON attribution_coverage (run_id);
-- A stored run's inputs: the attribution rules' version, its estate snapshot (by SHA-256 of
-- its JSON), its programs (JSON) and the IDs of the usage segments it read (JSON array).
CREATE TABLE attribution_run_inputs (
    run_id          TEXT   PRIMARY KEY,
    rules_version   BIGINT NOT NULL,
    snapshot_sha256 TEXT   NOT NULL,
    programs        TEXT   NOT NULL,
    segment_ids  TEXT   NOT NULL
);
CREATE INDEX attribution_run_inputs_snapshot ON attribution_run_inputs (snapshot_sha256);
-- Estate snapshots (gzip of the JSON), shared by the runs that saw the same estate.
CREATE TABLE attribution_snapshots (
    sha256 TEXT  PRIMARY KEY,
    data   BLOB NOT NULL
);
