-- The SQL formulation (internal/sqlref) extended to attribution.md version 2: the provider of
-- each record and the names it normalises (a data team normalises provider names when it
-- loads FOCUS), its billing account, and its tags exploded into rows (as a warehouse explodes
-- the FOCUS Tags map).
ALTER TABLE sqlref_usage ADD COLUMN provider_id TEXT NOT NULL DEFAULT 'microsoft';
ALTER TABLE sqlref_usage ADD COLUMN publisher_id TEXT NOT NULL DEFAULT '';
ALTER TABLE sqlref_usage ADD COLUMN host_provider TEXT NOT NULL DEFAULT '';
ALTER TABLE sqlref_usage ADD COLUMN host_provider_id TEXT NOT NULL DEFAULT '';
ALTER TABLE sqlref_usage ADD COLUMN billing_account_id TEXT NOT NULL DEFAULT '';

CREATE TABLE sqlref_usage_tags (
    record_key   TEXT   NOT NULL,
    charge_start BIGINT NOT NULL,
    tag_key      TEXT   NOT NULL,
    tag_value    TEXT   NOT NULL,
    PRIMARY KEY (record_key, charge_start, tag_key)
);
