-- Each run reads the previous run of the same period to record the difference in totals.
CREATE INDEX attribution_runs_period ON attribution_runs (period_from, period_to, finished_at);
