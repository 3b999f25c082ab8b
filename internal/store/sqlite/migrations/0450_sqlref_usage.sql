-- The SQL formulation of the rules (internal/sqlref) reads usage as a plain table, the way a
-- data team's warehouse holds it. partnerlink itself stores usage in segments (0300); the
-- formulation's callers fill this table from them with sqlref.LoadUsage before running it.
CREATE TABLE sqlref_usage (
    record_key             TEXT   NOT NULL,
    charge_start           BIGINT NOT NULL,
    charge_end             BIGINT NOT NULL,
    subscription_id        TEXT   NOT NULL,
    resource_id            TEXT   NOT NULL,
    resource_key           TEXT   NOT NULL,
    service                TEXT   NOT NULL DEFAULT '',
    service_category       TEXT   NOT NULL DEFAULT '',
    charge_category        TEXT   NOT NULL,
    pricing_category       TEXT   NOT NULL DEFAULT '',
    commitment_discount_id TEXT   NOT NULL DEFAULT '',
    provider               TEXT   NOT NULL DEFAULT '',
    publisher              TEXT   NOT NULL DEFAULT '',
    currency               TEXT   NOT NULL,
    cost_nanos             BIGINT NOT NULL,
    cost_raw               TEXT   NOT NULL,
    measure                TEXT   NOT NULL,
    import_id              TEXT   NOT NULL,
    PRIMARY KEY (record_key, charge_start)
);
CREATE INDEX sqlref_usage_period ON sqlref_usage (charge_start, subscription_id);
