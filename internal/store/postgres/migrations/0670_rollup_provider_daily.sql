-- Attributed consumption per day, location, association and provider (attribution.md version 2:
-- reports by association type and by provider). Written by every run next to rollup_daily,
-- whose key has no provider: an AWS account and a Google project may share an ID.
CREATE TABLE rollup_provider_daily (
    day              BIGINT NOT NULL, -- UTC midnight, Unix ns
    location_id      TEXT   NOT NULL,
    org_id           TEXT   NOT NULL,
    association      TEXT   NOT NULL,
    provider         TEXT   NOT NULL,
    currency         TEXT   NOT NULL,
    amount_nanos     BIGINT NOT NULL,
    org_amount_nanos BIGINT NOT NULL,
    records          BIGINT NOT NULL,
    PRIMARY KEY (day, location_id, association, provider, currency)
);

-- The data-quality warnings of a run (version 2: tag values that name no location), as JSON.
ALTER TABLE attribution_runs ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]';
