-- Sharded attribution runs (internal/attribution/results/shards.go): each shard of a group
-- stores its rollups per day as a part, and records itself when done; the last shard adds the
-- parts up into the period's run in one transaction and deletes them.
CREATE TABLE attribution_shard_parts (
    group_id TEXT   NOT NULL,
    shard    BIGINT NOT NULL,
    day      BIGINT NOT NULL,
    data     BYTEA  NOT NULL,
    PRIMARY KEY (group_id, shard, day)
);
CREATE INDEX attribution_shard_parts_day ON attribution_shard_parts (group_id, day);
CREATE TABLE attribution_shards (
    group_id        TEXT   NOT NULL,
    shard           BIGINT NOT NULL,
    shards          BIGINT NOT NULL,
    period_from     BIGINT NOT NULL,
    period_to       BIGINT NOT NULL,
    snapshot_sha256 TEXT   NOT NULL,
    segment_ids  TEXT   NOT NULL,
    sources         TEXT   NOT NULL,
    stats           TEXT   NOT NULL,
    started_at      BIGINT NOT NULL,
    PRIMARY KEY (group_id, shard)
);
