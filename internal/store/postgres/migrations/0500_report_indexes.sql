-- Covering indexes for the partner report (internal/report): its two grouped reads of a
-- location's rollup follow these column orders, so the engine neither sorts nor visits the
-- table. Organisation reports use rollup_daily_org (fewer indexes to maintain on every run).
CREATE INDEX rollup_daily_report_day ON rollup_daily (location_id, day, association, currency, amount_nanos, org_amount_nanos, records);
CREATE INDEX rollup_daily_report_group ON rollup_daily (location_id, association, tenant_id, subscription_id, service, admin_role, currency, day, amount_nanos, org_amount_nanos);
