-- Rollups at the grains the reports read (internal/attribution/results/rollups.go), replacing
-- rollup_daily's row per (day, location, association, tenant, subscription, service, role,
-- currency): about one row per usage record at the bench scale, into a table with five
-- indexes. rollup_daily stays, emptied by the upgrade on open (results.UpgradeLegacy).
CREATE TABLE rollup_days (
    day              BIGINT NOT NULL, -- UTC midnight, Unix ns
    location_id      TEXT   NOT NULL,
    org_id           TEXT   NOT NULL,
    association      TEXT   NOT NULL,
    currency         TEXT   NOT NULL,
    amount_nanos     BIGINT NOT NULL, -- every row of the location
    org_amount_nanos BIGINT NOT NULL, -- rows with duplicate_at_org = false only
    records          BIGINT NOT NULL,
    PRIMARY KEY (day, location_id, association, currency)
);
CREATE INDEX rollup_days_location ON rollup_days (location_id, day);
CREATE INDEX rollup_days_org ON rollup_days (org_id, day);
-- Per day and location, a rollup segment (docs/formats.md) of its sums per association,
-- tenant, subscription, service, admin role and currency.
CREATE TABLE rollup_groups (
    day         BIGINT NOT NULL,
    location_id TEXT   NOT NULL,
    org_id      TEXT   NOT NULL,
    data        BYTEA  NOT NULL,
    PRIMARY KEY (location_id, day)
);
CREATE INDEX rollup_groups_org ON rollup_groups (org_id, day);
CREATE INDEX rollup_groups_day ON rollup_groups (day);
-- Per day and customer tenant, a rollup segment of its sums per location, association, admin
-- role and currency.
CREATE TABLE rollup_tenants (
    day       BIGINT NOT NULL,
    tenant_id TEXT   NOT NULL,
    data      BYTEA  NOT NULL,
    PRIMARY KEY (tenant_id, day)
);
CREATE INDEX rollup_tenants_day ON rollup_tenants (day);
