-- Distributed load runs (0021): one row per shard of a `pgwarden load run
-- --distributed N`. The coordinator writes the shard's spec (scenario text included,
-- never a password) and the agreed start on the repository's clock, and queues a
-- load_shard job; the worker that takes the job claims the row, writes a heartbeat
-- and its last second's progress while it runs, then its result (encoded
-- HdrHistograms, counts, errors, per-second totals, generator CPU) or the reason
-- it failed. A shard not picked up in time, or whose heartbeat stops, is marked
-- lost by the coordinator; the rows are deleted when the run is merged.
CREATE TABLE pgwarden.load_shard (
    run_id uuid NOT NULL,
    shard integer NOT NULL CHECK (shard >= 0),
    shards integer NOT NULL CHECK (shards > shard),
    target text NOT NULL,
    spec jsonb NOT NULL,
    start_at timestamptz NOT NULL,
    window_end timestamptz NOT NULL,
    job_id bigint,
    status text NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'done', 'failed', 'lost')),
    worker text,
    picked_at timestamptz,
    heartbeat_at timestamptz,
    late_s double precision,
    progress jsonb,
    result jsonb,
    reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, shard)
);

CREATE INDEX load_shard_created_idx ON pgwarden.load_shard (created_at);
