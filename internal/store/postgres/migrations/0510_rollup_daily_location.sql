-- rollup_daily_location (location_id, day) is a prefix of rollup_daily_report_day (0500), which
-- serves every query it served. Each of the table's B-trees costs every run that writes or
-- restates rollups (measured at a tenth of the bench scale: 492,095 rollup rows took about 20 s
-- to insert and as long to delete on SQLite with six).
DROP INDEX rollup_daily_location;
