-- The slow query log: slow executions seen in the server log, by activity sampling or
-- reported by applications; normalised text only. Daily partitions on ts are created
-- on demand and dropped for retention.
CREATE TABLE pgwarden.slow_query_log (
    id bigint GENERATED ALWAYS AS IDENTITY,
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    ts timestamptz NOT NULL,
    started_at timestamptz NOT NULL,
    database text,
    username text,
    query text NOT NULL,
    queryid bigint,
    fingerprint text NOT NULL,
    duration_ms double precision NOT NULL CHECK (duration_ms >= 0),
    severity text NOT NULL CHECK (severity IN ('warning', 'critical', 'emergency')),
    caller text,
    application_name text,
    source text NOT NULL CHECK (source IN ('server_log', 'activity', 'application')),
    plan text,
    pid int,
    backend_start timestamptz,
    PRIMARY KEY (id, ts)
) PARTITION BY RANGE (ts);

CREATE INDEX slow_query_log_target_ts_idx ON pgwarden.slow_query_log (target_id, ts);
CREATE INDEX slow_query_log_match_idx
    ON pgwarden.slow_query_log (target_id, fingerprint, started_at);

-- How far each server log file has been read.
CREATE TABLE pgwarden.slow_log_file (
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    path text NOT NULL,
    inode bigint NOT NULL,
    read_bytes bigint NOT NULL DEFAULT 0,
    head_digest text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target_id, path, inode)
);
