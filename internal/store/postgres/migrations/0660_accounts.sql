-- Accounts of providers other than Azure (attribution.md version 2, RESALE): an AWS member or
-- management account, a Google Cloud billing subaccount or project, with the locations that
-- resold it over time. account_key is the ID trimmed and lower-cased (IDs compare within their
-- provider case-insensitively); id keeps the spelling given. Owned by internal/account.
CREATE TABLE accounts (
    provider           TEXT NOT NULL,
    account_key        TEXT NOT NULL,
    id                 TEXT NOT NULL,
    kind               TEXT NOT NULL,
    name               TEXT NOT NULL,
    billing_account_id TEXT NOT NULL,
    PRIMARY KEY (provider, account_key)
);

-- A location resold the account over [valid_from, valid_to). Windows of one location on one
-- account never overlap; several locations may resell one account at the same time.
CREATE TABLE account_resale (
    provider    TEXT   NOT NULL,
    account_key TEXT   NOT NULL,
    location_id TEXT   NOT NULL REFERENCES partner_locations (id),
    valid_from  BIGINT NOT NULL,
    valid_to    BIGINT NOT NULL,
    PRIMARY KEY (provider, account_key, location_id, valid_from)
);
