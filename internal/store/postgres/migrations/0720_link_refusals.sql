-- Link attempts the link API refused because they named an organisation ID instead of one of
-- its location IDs (owned by internal/link, written when the ARM or v1 link PUT/PATCH refuses
-- one). Nothing else of a refused request is stored; the coverage audit lists these as hygiene
-- findings of the organisation, with its locations as the fix (docs/audit.md).
CREATE TABLE link_refusals (
    id         TEXT   PRIMARY KEY, -- time-ordered (store.NewID)
    tenant_id  TEXT   NOT NULL,
    object_id  TEXT   NOT NULL,
    partner_id TEXT   NOT NULL,    -- the refused ID: an organisation's
    action     TEXT   NOT NULL,    -- create | update
    at         BIGINT NOT NULL,    -- Unix ns
    request_id TEXT   NOT NULL
);
CREATE INDEX link_refusals_partner ON link_refusals (partner_id, at);
