-- Statement history, compact (0009): a packed statement sample's interval is its
-- collection cycle's (collect_cycle.ts - prev_ts), so interval_ms holds NULL for
-- it (a NULL array when every sample of the hour is so); measures that are zero in
-- every sample of a packed row are empty arrays, measures NULL in every sample NULL
-- arrays (pgwarden.collect.kinds).
ALTER TABLE pgwarden.statement_history ALTER COLUMN interval_ms DROP NOT NULL;

-- The top-level statements of the last hour of history of each target, summed per
-- database and statement, as of the latest cycle (ts): rewritten by the collector
-- every cycle, so the slowest statements are ranked from one row per statement.
CREATE TABLE pgwarden.statement_window (
    target_id bigint NOT NULL,
    ts timestamptz NOT NULL,
    dbid bigint NOT NULL,
    queryid bigint NOT NULL,
    calls bigint,
    total_ms double precision,
    rows bigint,
    max_interval_mean_ms double precision,
    PRIMARY KEY (target_id, dbid, queryid)
);
