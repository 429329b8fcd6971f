-- Maintenance runs (pgwarden maintain): one row per operation on a table or one of
-- its indexes. A run is recorded as running before it starts and finished in place;
-- a running run whose worker died is later marked failed ("worker died").
CREATE TABLE pgwarden.maintenance_runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    schema_name text NOT NULL,
    table_name text NOT NULL,
    table_oid bigint,
    index_name text,
    operation text NOT NULL CHECK (operation IN ('analyze', 'vacuum', 'vacuum_freeze',
                                                 'vacuum_full', 'repack', 'reindex')),
    trigger text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
    status text NOT NULL CHECK (status IN ('running', 'ok', 'skipped', 'timeout',
                                           'failed', 'cancelled')),
    reason text,
    error text,
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    duration_ms double precision,
    attempts int NOT NULL DEFAULT 0,
    live_rows_before bigint,
    dead_rows_before bigint,
    size_before bigint,
    live_rows_after bigint,
    dead_rows_after bigint,
    size_after bigint,
    backend_pid int,
    worker text,
    heartbeat_at timestamptz
);

CREATE INDEX maintenance_runs_started_idx
    ON pgwarden.maintenance_runs (target_id, started_at);
CREATE INDEX maintenance_runs_running_idx
    ON pgwarden.maintenance_runs (target_id) WHERE status = 'running';
