-- Each usage segment's consumption added up per subscription, charge period, currency and
-- provider (internal/usage/summary.go), written with the segment: the coverage audit reads
-- these instead of the segments' rows. Segments imported before have none; their rows are
-- read as before.
CREATE TABLE usage_summaries (
    segment_id TEXT   PRIMARY KEY,
    day        BIGINT NOT NULL, -- the segment's
    data       BYTEA  NOT NULL
);
-- Compact already, as the segments are: TOAST compression would spend the server's CPU.
ALTER TABLE usage_summaries ALTER COLUMN data SET STORAGE EXTERNAL;
