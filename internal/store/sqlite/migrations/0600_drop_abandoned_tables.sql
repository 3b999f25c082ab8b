-- The row-per-record tables of schemas before 0300 (usage) and 0410 (attribution results) are
-- abandoned: usage and results live in segments. `partnerlink migrate` moves any rows an older
-- database still holds into segments (usage.UpgradeLegacy, attribution.UpgradeLegacy) before
-- it applies this migration, so nothing is lost; a fresh schema no longer shows tables that
-- nothing reads.
DROP TABLE usage_records;
DROP TABLE attributions;
DROP TABLE incentives;
