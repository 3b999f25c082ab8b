-- Core schema: the whole domain with history. Conventions (see docs/architecture.md):
--  * instants are BIGINT Unix nanoseconds (UTC); windows are [valid_from, valid_to) with
--    valid_from = -9223372036854775808 for "since always" and valid_to = 9223372036854775807
--    for "still valid";
--  * money is BIGINT nano-units (1e-9 of the currency unit), never DECIMAL or float; the input
--    text is kept beside it for audit;
--  * keys are natural IDs or random text IDs, never sequences (distributed PostgreSQL-compatible
--    databases handle those badly);
--  * *_key columns hold the lower-cased form of an ARM ID for case-insensitive matching, the
--    plain column keeps the original spelling.

CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- Partner directory -------------------------------------------------------------------------
CREATE TABLE partner_orgs (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE partner_org_tenants (
    org_id    TEXT NOT NULL REFERENCES partner_orgs (id),
    tenant_id TEXT NOT NULL,
    PRIMARY KEY (org_id, tenant_id)
);
CREATE INDEX partner_org_tenants_tenant ON partner_org_tenants (tenant_id);
CREATE TABLE partner_locations (
    id      TEXT PRIMARY KEY,
    org_id  TEXT NOT NULL REFERENCES partner_orgs (id),
    name    TEXT NOT NULL,
    country TEXT NOT NULL DEFAULT ''
);
CREATE INDEX partner_locations_org ON partner_locations (org_id);
CREATE TABLE partner_location_active (
    location_id TEXT   NOT NULL REFERENCES partner_locations (id),
    valid_from  BIGINT NOT NULL,
    valid_to    BIGINT NOT NULL,
    PRIMARY KEY (location_id, valid_from)
);

-- Customer estate ---------------------------------------------------------------------------
CREATE TABLE tenants (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT ''
);
CREATE TABLE management_groups (
    tenant_id  TEXT   NOT NULL,
    id         TEXT   NOT NULL,
    parent_id  TEXT   NOT NULL DEFAULT '',
    valid_from BIGINT NOT NULL,
    valid_to   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id, valid_from)
);
CREATE TABLE subscriptions (
    id                  TEXT   NOT NULL,
    tenant_id           TEXT   NOT NULL,
    name                TEXT   NOT NULL DEFAULT '',
    offer               TEXT   NOT NULL,
    management_group_id TEXT   NOT NULL DEFAULT '',
    csp_location_id     TEXT   NOT NULL DEFAULT '',
    valid_from          BIGINT NOT NULL,
    valid_to            BIGINT NOT NULL,
    PRIMARY KEY (id, valid_from)
);
CREATE INDEX subscriptions_tenant ON subscriptions (tenant_id);
CREATE TABLE subscription_dpor (
    subscription_id TEXT   NOT NULL,
    location_id     TEXT   NOT NULL,
    valid_from      BIGINT NOT NULL,
    valid_to        BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, valid_from)
);
CREATE TABLE principals (
    tenant_id      TEXT   NOT NULL,
    object_id      TEXT   NOT NULL,
    type           TEXT   NOT NULL,
    display_name   TEXT   NOT NULL DEFAULT '',
    home_tenant_id TEXT   NOT NULL DEFAULT '',
    valid_from     BIGINT NOT NULL,
    valid_to       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, object_id, valid_from)
);
CREATE TABLE group_memberships (
    tenant_id  TEXT   NOT NULL,
    member_id  TEXT   NOT NULL,
    group_id   TEXT   NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_to   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, member_id, group_id, valid_from)
);
CREATE INDEX group_memberships_group ON group_memberships (tenant_id, group_id);

-- Access ------------------------------------------------------------------------------------
CREATE TABLE role_definitions (
    id          TEXT   NOT NULL,
    role_name   TEXT   NOT NULL,
    role_type   TEXT   NOT NULL DEFAULT 'CustomRole',
    permissions TEXT   NOT NULL DEFAULT '[]', -- JSON array of {actions, notActions, dataActions, notDataActions}
    valid_from  BIGINT NOT NULL,
    valid_to    BIGINT NOT NULL,
    PRIMARY KEY (id, valid_from)
);
CREATE INDEX role_definitions_name ON role_definitions (role_name);
-- Operator overrides of the eligibility table, by role name.
CREATE TABLE role_eligibility_overrides (
    role_name TEXT    PRIMARY KEY,
    eligible  BOOLEAN NOT NULL,
    set_by    TEXT    NOT NULL DEFAULT '',
    set_at    BIGINT  NOT NULL
);
CREATE TABLE role_assignments (
    id                 TEXT   NOT NULL,
    tenant_id          TEXT   NOT NULL,
    principal_id       TEXT   NOT NULL,
    role_definition_id TEXT   NOT NULL,
    scope              TEXT   NOT NULL,
    scope_key          TEXT   NOT NULL,
    kind               TEXT   NOT NULL, -- active | eligible
    valid_from         BIGINT NOT NULL,
    valid_to           BIGINT NOT NULL,
    PRIMARY KEY (id, valid_from)
);
CREATE INDEX role_assignments_tenant ON role_assignments (tenant_id, valid_from);
CREATE INDEX role_assignments_principal ON role_assignments (tenant_id, principal_id);
CREATE TABLE pim_activations (
    assignment_id TEXT   NOT NULL,
    valid_from    BIGINT NOT NULL,
    valid_to      BIGINT NOT NULL,
    PRIMARY KEY (assignment_id, valid_from)
);
CREATE TABLE delegations (
    id                 TEXT   NOT NULL,
    customer_tenant_id TEXT   NOT NULL,
    scope              TEXT   NOT NULL,
    scope_key          TEXT   NOT NULL,
    managing_tenant_id TEXT   NOT NULL,
    valid_from         BIGINT NOT NULL,
    valid_to           BIGINT NOT NULL,
    PRIMARY KEY (id, valid_from)
);
CREATE TABLE delegation_authorizations (
    delegation_id      TEXT   NOT NULL,
    principal_id       TEXT   NOT NULL,
    role_definition_id TEXT   NOT NULL,
    valid_from         BIGINT NOT NULL,
    valid_to           BIGINT NOT NULL,
    PRIMARY KEY (delegation_id, principal_id, role_definition_id, valid_from)
);

-- Links -------------------------------------------------------------------------------------
-- The current ARM-visible record per principal (version = etag).
CREATE TABLE links (
    tenant_id    TEXT   NOT NULL,
    object_id    TEXT   NOT NULL,
    location_id  TEXT   NOT NULL,
    version      BIGINT NOT NULL,
    state        TEXT   NOT NULL, -- Active | Deleted
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, object_id)
);
CREATE INDEX links_location ON links (location_id);
-- Windows in which a principal was linked to a location: what attribution reads.
CREATE TABLE link_spans (
    tenant_id   TEXT   NOT NULL,
    object_id   TEXT   NOT NULL,
    location_id TEXT   NOT NULL,
    valid_from  BIGINT NOT NULL,
    valid_to    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, object_id, valid_from)
);
CREATE INDEX link_spans_location ON link_spans (location_id);
-- Append-only audit of every change.
CREATE TABLE link_history (
    id              TEXT   PRIMARY KEY,
    tenant_id       TEXT   NOT NULL,
    object_id       TEXT   NOT NULL,
    action          TEXT   NOT NULL, -- create | update | delete | backfill
    from_partner_id TEXT   NOT NULL DEFAULT '',
    to_partner_id   TEXT   NOT NULL DEFAULT '',
    version         BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    by_object_id    TEXT   NOT NULL DEFAULT '',
    request_id      TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX link_history_principal ON link_history (tenant_id, object_id, at);

-- CUA ---------------------------------------------------------------------------------------
CREATE TABLE tracking_ids (
    guid        TEXT PRIMARY KEY,
    location_id TEXT NOT NULL
);
CREATE TABLE deployments (
    resource_id   TEXT   NOT NULL,
    resource_key  TEXT   NOT NULL,
    tracking_guid TEXT   NOT NULL,
    at            BIGINT NOT NULL,
    PRIMARY KEY (resource_key, tracking_guid, at)
);

-- Events and webhooks (transactional outbox) --------------------------------------------------
CREATE TABLE events (
    id          TEXT   PRIMARY KEY, -- time-ordered random ID
    tenant_id   TEXT   NOT NULL,
    type        TEXT   NOT NULL,
    occurred_at BIGINT NOT NULL,
    payload     TEXT   NOT NULL -- JSON
);
CREATE INDEX events_tenant ON events (tenant_id, id);
CREATE TABLE webhooks (
    id         TEXT    PRIMARY KEY,
    tenant_id  TEXT    NOT NULL,
    url        TEXT    NOT NULL,
    secret     TEXT    NOT NULL,
    active     BOOLEAN NOT NULL,
    created_at BIGINT  NOT NULL
);
CREATE INDEX webhooks_tenant ON webhooks (tenant_id);
CREATE TABLE webhook_deliveries (
    id              TEXT   PRIMARY KEY, -- the delivery ID receivers de-duplicate on
    webhook_id      TEXT   NOT NULL,
    event_id        TEXT   NOT NULL,
    status          TEXT   NOT NULL, -- pending | delivered | failed
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT   NOT NULL DEFAULT '',
    delivered_at    BIGINT NOT NULL DEFAULT 0,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);

-- Auth --------------------------------------------------------------------------------------
CREATE TABLE signing_keys (
    id          TEXT   PRIMARY KEY,
    algorithm   TEXT   NOT NULL,
    private_pem TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Imports (estate, Azure exports, usage) ----------------------------------------------------
CREATE TABLE imports (
    id             TEXT   PRIMARY KEY,
    kind           TEXT   NOT NULL, -- estate | azure-role-assignments | ... | usage
    file_name      TEXT   NOT NULL DEFAULT '',
    file_hash      TEXT   NOT NULL DEFAULT '',
    rows_read      BIGINT NOT NULL DEFAULT 0,
    rows_added     BIGINT NOT NULL DEFAULT 0,
    rows_duplicate BIGINT NOT NULL DEFAULT 0,
    rows_rejected  BIGINT NOT NULL DEFAULT 0,
    summary        TEXT   NOT NULL DEFAULT '{}', -- JSON: per-kind created/changed/closed counts etc.
    started_at     BIGINT NOT NULL,
    finished_at    BIGINT NOT NULL DEFAULT 0,
    status         TEXT   NOT NULL -- running | done | failed
);

-- Usage -------------------------------------------------------------------------------------
-- Range-partitioned by charge_start (monthly partitions are created on import; the default
-- partition catches anything else). The key includes charge_start because PostgreSQL requires
-- the partition key in every unique constraint; a record key always comes with the same start.
CREATE TABLE usage_records (
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
    measure                TEXT   NOT NULL, -- billed | effective
    import_id              TEXT   NOT NULL,
    PRIMARY KEY (record_key, charge_start)
) PARTITION BY RANGE (charge_start);
CREATE TABLE usage_records_default PARTITION OF usage_records DEFAULT;
CREATE INDEX usage_records_period ON usage_records (charge_start, subscription_id);

-- Attribution results -----------------------------------------------------------------------
CREATE TABLE attribution_runs (
    id               TEXT   PRIMARY KEY,
    period_from      BIGINT NOT NULL,
    period_to        BIGINT NOT NULL,
    started_at       BIGINT NOT NULL,
    finished_at      BIGINT NOT NULL DEFAULT 0,
    requested_by     TEXT   NOT NULL DEFAULT '',
    inputs_hash      TEXT   NOT NULL DEFAULT '',
    programs_version TEXT   NOT NULL DEFAULT '',
    attribution_rows BIGINT NOT NULL DEFAULT 0,
    incentive_rows   BIGINT NOT NULL DEFAULT 0,
    totals           TEXT   NOT NULL DEFAULT '{}', -- JSON: per location, association, currency
    diff             TEXT   NOT NULL DEFAULT '{}', -- JSON: change of totals against the previous run
    status           TEXT   NOT NULL
);
CREATE TABLE attributions (
    record_key       TEXT    NOT NULL,
    location_id      TEXT    NOT NULL,
    association      TEXT    NOT NULL, -- PAL | CSP | DPOR | CUA
    org_id           TEXT    NOT NULL,
    charge_start     BIGINT  NOT NULL,
    charge_end       BIGINT  NOT NULL,
    tenant_id        TEXT    NOT NULL,
    subscription_id  TEXT    NOT NULL,
    resource_id      TEXT    NOT NULL,
    service          TEXT    NOT NULL,
    currency         TEXT    NOT NULL,
    cost_nanos       BIGINT  NOT NULL,
    coverage_nanos   BIGINT  NOT NULL, -- coverage × 1e9, half-even
    amount_nanos     BIGINT  NOT NULL,
    admin_role       TEXT    NOT NULL DEFAULT '',
    duplicate_at_org BOOLEAN NOT NULL,
    run_id           TEXT    NOT NULL,
    PRIMARY KEY (record_key, location_id, association)
);
CREATE INDEX attributions_period ON attributions (charge_start);
CREATE INDEX attributions_location ON attributions (location_id, charge_start);
CREATE TABLE incentives (
    record_key      TEXT   NOT NULL,
    location_id     TEXT   NOT NULL,
    program         TEXT   NOT NULL, -- PEC | PAL
    org_id          TEXT   NOT NULL,
    program_version TEXT   NOT NULL,
    charge_start    BIGINT NOT NULL,
    currency        TEXT   NOT NULL,
    amount_nanos    BIGINT NOT NULL,
    run_id          TEXT   NOT NULL,
    PRIMARY KEY (record_key, location_id, program)
);
CREATE INDEX incentives_period ON incentives (charge_start);
CREATE INDEX incentives_location ON incentives (location_id, charge_start);
-- Daily rollups written by each run, for fast reports.
CREATE TABLE rollup_daily (
    day             BIGINT NOT NULL, -- UTC midnight, Unix ns
    location_id     TEXT   NOT NULL,
    org_id          TEXT   NOT NULL,
    association     TEXT   NOT NULL,
    tenant_id       TEXT   NOT NULL,
    subscription_id TEXT   NOT NULL,
    service         TEXT   NOT NULL,
    admin_role      TEXT   NOT NULL,
    currency        TEXT   NOT NULL,
    amount_nanos    BIGINT NOT NULL, -- every row of the location
    org_amount_nanos BIGINT NOT NULL, -- rows with duplicate_at_org = false only
    records         BIGINT NOT NULL,
    PRIMARY KEY (day, location_id, association, tenant_id, subscription_id, service, admin_role, currency)
);
CREATE INDEX rollup_daily_location ON rollup_daily (location_id, day);
CREATE INDEX rollup_daily_org ON rollup_daily (org_id, day);
CREATE INDEX rollup_daily_tenant ON rollup_daily (tenant_id, day);
