-- Partner identifiers (attribution.md version 2): what a location is known by in other programs
-- (AWS product codes and revenue attribution IDs, Google Cloud solution URNs, marketplace
-- publisher names, operator-defined schemes), with history. value_key is the value trimmed and
-- lower-cased, as tags and publisher names are compared; value keeps the spelling given. One
-- (scheme, value_key) names at most one location at any time: its versions never overlap
-- (internal/directory checks it on every write). Owned by internal/directory.
CREATE TABLE partner_identifiers (
    scheme      TEXT   NOT NULL,
    value_key   TEXT   NOT NULL,
    value       TEXT   NOT NULL,
    location_id TEXT   NOT NULL REFERENCES partner_locations (id),
    valid_from  BIGINT NOT NULL,
    valid_to    BIGINT NOT NULL,
    PRIMARY KEY (scheme, value_key, valid_from)
);
CREATE INDEX partner_identifiers_location ON partner_identifiers (location_id);
