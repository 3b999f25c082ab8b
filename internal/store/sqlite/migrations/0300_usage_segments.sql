-- Usage stored by charge day in columnar segments (internal/usage/segment.go) instead of one
-- row per record: a segment holds up to 65,536 records of one UTC day, sorted by subscription
-- and resource, with every string stored once. docs/usage.md explains the layout and why.
CREATE TABLE usage_segments (
    id        TEXT    PRIMARY KEY,
    day       BIGINT  NOT NULL, -- UTC midnight of every record's charge start, Unix ns
    import_id TEXT    NOT NULL,
    measure   TEXT    NOT NULL, -- billed | effective
    records   BIGINT  NOT NULL,
    min_start BIGINT  NOT NULL,
    max_start BIGINT  NOT NULL,
    min_sub   TEXT    NOT NULL, -- the records' subscriptions lie in [min_sub, max_sub]
    max_sub   TEXT    NOT NULL,
    subs      BLOB    NOT NULL, -- per subscription: records and first charge start (usage.Subscriptions)
    sha256    TEXT    NOT NULL, -- of data: the segment's version in attribution run records
    data      BLOB    NOT NULL
);
CREATE INDEX usage_segments_day ON usage_segments (day, min_sub);
-- A segment's record keys: sorted 24-byte entries (16-byte digest, 8-byte big-endian charge
-- start), split by the first bits of the digest into 2^bits buckets, more bits the more records
-- (a small segment keeps one bucket). Imports read a day's keys to skip records already
-- stored; finding a record by key reads one bucket of each segment, about 1/256 of the keys.
CREATE TABLE usage_keys (
    segment_id TEXT    NOT NULL,
    bits       INTEGER NOT NULL,
    bucket     INTEGER NOT NULL,
    day        BIGINT  NOT NULL,
    data       BLOB    NOT NULL,
    PRIMARY KEY (segment_id, bucket)
);
CREATE INDEX usage_keys_day ON usage_keys (day);
CREATE INDEX usage_keys_bucket ON usage_keys (bits, bucket, day);
