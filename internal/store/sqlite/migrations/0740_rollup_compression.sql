-- PostgreSQL's 0740 stores rollup segments compressed with LZ4; SQLite stores values as
-- they are, so there is nothing to change here (the version keeps both engines' schemas in
-- step).
SELECT 1;
