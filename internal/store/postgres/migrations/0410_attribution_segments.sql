-- Attribution results in segments (internal/attribution/results.go) instead of a row per
-- attribution and incentive: at about 17 rows per usage record, a month of the bench scale is
-- 168 million rows, which row tables with their indexes take tens of minutes and gigabytes to
-- write. A segment holds the rows of one run for the records of one usage segment (at most
-- one UTC day), with those records. Reports of rows sort them by record key when they read.
CREATE TABLE attribution_segments (
    id          TEXT   PRIMARY KEY,
    run_id      TEXT   NOT NULL,
    day         BIGINT NOT NULL, -- UTC midnight of every record's charge start, Unix ns
    min_start   BIGINT NOT NULL,
    max_start   BIGINT NOT NULL,
    records     BIGINT NOT NULL,
    attributions BIGINT NOT NULL,
    incentives  BIGINT NOT NULL,
    data        BYTEA  NOT NULL
);
CREATE INDEX attribution_segments_day ON attribution_segments (day);
-- Incentive totals per day, as rollup_daily holds attribution totals, for the reports.
CREATE TABLE rollup_incentives_daily (
    day          BIGINT NOT NULL,
    location_id  TEXT   NOT NULL,
    org_id       TEXT   NOT NULL,
    program      TEXT   NOT NULL,
    currency     TEXT   NOT NULL,
    amount_nanos BIGINT NOT NULL,
    records      BIGINT NOT NULL,
    PRIMARY KEY (day, location_id, program, currency)
);
CREATE INDEX rollup_incentives_daily_org ON rollup_incentives_daily (org_id, day);
CREATE INDEX rollup_incentives_daily_location ON rollup_incentives_daily (location_id, day);
ALTER TABLE attribution_segments ALTER COLUMN data SET STORAGE EXTERNAL;
