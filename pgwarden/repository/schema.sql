-- The current state of the pgwarden repository schema.
--
-- A fresh `pgwarden init` runs this file and records every migration as applied.
-- Keep it equal to applying migrations/*.sql in order: the migration test compares both.

CREATE SCHEMA pgwarden;

-- Which migrations the repository holds.
CREATE TABLE pgwarden.schema_version (
    version int PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- One row per monitored PostgreSQL server (many targets may share a repository).
CREATE TABLE pgwarden.target (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text UNIQUE NOT NULL,
    system_identifier text,
    server_version_num int,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz
);

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

-- Collector history: snapshots of pg_stat_statements, pg_stat_database, tables and
-- indexes, stored as deltas per interval. Raw samples are packed per hour into arrays
-- (*_history, partitioned by day); hourly roll-ups (*_hourly, partitioned by month).
-- Partitions are created and dropped by pgwarden.collect.partitions.

-- Texts of normalised statements, stored once per statement.
CREATE TABLE pgwarden.statement_text (
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    dbid bigint NOT NULL,
    userid bigint NOT NULL,
    queryid bigint NOT NULL,
    toplevel boolean NOT NULL,
    datname text,
    rolname text,
    query text NOT NULL,
    query_length int NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target_id, dbid, userid, queryid, toplevel)
);

-- Names of the tables and indexes whose samples are kept.
CREATE TABLE pgwarden.relation (
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('table', 'index')),
    relid bigint NOT NULL,
    schema_name text NOT NULL,
    rel_name text NOT NULL,
    table_relid bigint,
    first_seen timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target_id, kind, relid)
);

-- The previous snapshot of each target, so a restarted collector continues.
CREATE TABLE pgwarden.collect_state (
    target_id bigint PRIMARY KEY REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    ts timestamptz NOT NULL,
    postmaster_start timestamptz NOT NULL,
    markers jsonb NOT NULL
);

-- The previous raw counters, one row per part and key; a running collector keeps
-- them in memory and rewrites only the entries that moved.
CREATE TABLE pgwarden.collect_last (
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    part text NOT NULL,
    key text NOT NULL,
    since timestamptz,
    counters jsonb NOT NULL,
    PRIMARY KEY (target_id, part, key)
);

-- One row per collection cycle.
CREATE TABLE pgwarden.collect_cycle (
    target_id bigint NOT NULL,
    ts timestamptz NOT NULL,
    prev_ts timestamptz,
    duration_ms double precision NOT NULL,
    statements int NOT NULL,
    new_texts int NOT NULL,
    dealloc bigint,
    disabled jsonb NOT NULL,
    PRIMARY KEY (target_id, ts)
) PARTITION BY RANGE (ts);

-- Intervals without deltas (reset, restart, missing snapshot) and why.
CREATE TABLE pgwarden.collect_gap (
    target_id bigint NOT NULL,
    part text NOT NULL,
    from_ts timestamptz,
    to_ts timestamptz NOT NULL,
    reason text NOT NULL
) PARTITION BY RANGE (to_ts);
CREATE INDEX collect_gap_target ON pgwarden.collect_gap (target_id, to_ts);

-- Per-interval totals of the top-level statements of each database, one row per
-- cycle, so the charts need not unpack every statement's arrays. pgwarden's own
-- statements (pgwarden.observe.own, decided by text when collected) are summed
-- apart. Partitioned by month like the roll-ups.
CREATE TABLE pgwarden.statement_total (
    target_id bigint NOT NULL,
    ts timestamptz NOT NULL,
    dbid bigint NOT NULL,
    interval_s double precision NOT NULL,
    calls bigint NOT NULL,
    total_exec_ms double precision NOT NULL,
    rows bigint NOT NULL,
    shared_blks_hit bigint NOT NULL,
    shared_blks_read bigint NOT NULL,
    own_calls bigint NOT NULL,
    own_exec_ms double precision NOT NULL,
    PRIMARY KEY (target_id, dbid, ts)
) PARTITION BY RANGE (ts);

-- statement: samples of the hour being collected, one row per interval.
CREATE TABLE pgwarden.statement_current (
    target_id bigint NOT NULL,
    ts timestamptz NOT NULL,
    interval_s double precision NOT NULL,
    dbid bigint NOT NULL,
    userid bigint NOT NULL,
    queryid bigint NOT NULL,
    toplevel boolean NOT NULL,
    calls bigint,
    plans bigint,
    rows bigint,
    total_exec_ms double precision,
    total_plan_ms double precision,
    shared_blks_hit bigint,
    shared_blks_read bigint,
    shared_blks_dirtied bigint,
    shared_blks_written bigint,
    local_blks_hit bigint,
    local_blks_read bigint,
    temp_blks_read bigint,
    temp_blks_written bigint,
    blk_read_ms double precision,
    blk_write_ms double precision,
    wal_records bigint,
    wal_fpi bigint,
    wal_bytes bigint,
    wal_buffers_full bigint,
    jit_functions bigint,
    jit_ms double precision
);
CREATE INDEX statement_current_ts ON pgwarden.statement_current (target_id, ts);

-- statement: raw samples packed per key and hour (arrays in time order):
-- at_ms = ms since the hour, interval_ms = interval length in ms, float measures real.
CREATE TABLE pgwarden.statement_history (
    target_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    dbid bigint NOT NULL,
    userid bigint NOT NULL,
    queryid bigint NOT NULL,
    toplevel boolean NOT NULL,
    at_ms int[] NOT NULL,
    interval_ms int[] NOT NULL,
    calls bigint[],
    plans bigint[],
    rows bigint[],
    total_exec_ms real[],
    total_plan_ms real[],
    shared_blks_hit bigint[],
    shared_blks_read bigint[],
    shared_blks_dirtied bigint[],
    shared_blks_written bigint[],
    local_blks_hit bigint[],
    local_blks_read bigint[],
    temp_blks_read bigint[],
    temp_blks_written bigint[],
    blk_read_ms real[],
    blk_write_ms real[],
    wal_records bigint[],
    wal_fpi bigint[],
    wal_bytes bigint[],
    wal_buffers_full bigint[],
    jit_functions bigint[],
    jit_ms real[],
    PRIMARY KEY (target_id, dbid, userid, queryid, toplevel, hour)
) PARTITION BY RANGE (hour);
-- compressed inline (partitions: toast_tuple_target = 128)
ALTER TABLE pgwarden.statement_history
    ALTER COLUMN at_ms SET STORAGE MAIN,
    ALTER COLUMN interval_ms SET STORAGE MAIN,
    ALTER COLUMN calls SET STORAGE MAIN,
    ALTER COLUMN plans SET STORAGE MAIN,
    ALTER COLUMN rows SET STORAGE MAIN,
    ALTER COLUMN total_exec_ms SET STORAGE MAIN,
    ALTER COLUMN total_plan_ms SET STORAGE MAIN,
    ALTER COLUMN shared_blks_hit SET STORAGE MAIN,
    ALTER COLUMN shared_blks_read SET STORAGE MAIN,
    ALTER COLUMN shared_blks_dirtied SET STORAGE MAIN,
    ALTER COLUMN shared_blks_written SET STORAGE MAIN,
    ALTER COLUMN local_blks_hit SET STORAGE MAIN,
    ALTER COLUMN local_blks_read SET STORAGE MAIN,
    ALTER COLUMN temp_blks_read SET STORAGE MAIN,
    ALTER COLUMN temp_blks_written SET STORAGE MAIN,
    ALTER COLUMN blk_read_ms SET STORAGE MAIN,
    ALTER COLUMN blk_write_ms SET STORAGE MAIN,
    ALTER COLUMN wal_records SET STORAGE MAIN,
    ALTER COLUMN wal_fpi SET STORAGE MAIN,
    ALTER COLUMN wal_bytes SET STORAGE MAIN,
    ALTER COLUMN wal_buffers_full SET STORAGE MAIN,
    ALTER COLUMN jit_functions SET STORAGE MAIN,
    ALTER COLUMN jit_ms SET STORAGE MAIN;

-- statement: hourly roll-ups (counters summed, gauges at their maximum).
CREATE TABLE pgwarden.statement_hourly (
    target_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    dbid bigint NOT NULL,
    userid bigint NOT NULL,
    queryid bigint NOT NULL,
    toplevel boolean NOT NULL,
    samples int NOT NULL,
    interval_s double precision NOT NULL,
    calls bigint,
    plans bigint,
    rows bigint,
    total_exec_ms double precision,
    total_plan_ms double precision,
    shared_blks_hit bigint,
    shared_blks_read bigint,
    shared_blks_dirtied bigint,
    shared_blks_written bigint,
    local_blks_hit bigint,
    local_blks_read bigint,
    temp_blks_read bigint,
    temp_blks_written bigint,
    blk_read_ms double precision,
    blk_write_ms double precision,
    wal_records bigint,
    wal_fpi bigint,
    wal_bytes bigint,
    wal_buffers_full bigint,
    jit_functions bigint,
    jit_ms double precision,
    PRIMARY KEY (target_id, dbid, userid, queryid, toplevel, hour)
) PARTITION BY RANGE (hour);

-- database: samples of the hour being collected, one row per interval.
CREATE TABLE pgwarden.database_current (
    target_id bigint NOT NULL,
    ts timestamptz NOT NULL,
    interval_s double precision NOT NULL,
    datid bigint NOT NULL,
    xact_commit bigint,
    xact_rollback bigint,
    blks_read bigint,
    blks_hit bigint,
    tup_returned bigint,
    tup_fetched bigint,
    tup_inserted bigint,
    tup_updated bigint,
    tup_deleted bigint,
    temp_files bigint,
    temp_bytes bigint,
    deadlocks bigint,
    statements_dealloc bigint,
    checkpoints_timed bigint,
    checkpoints_req bigint,
    checkpoint_buffers bigint,
    buffers_clean bigint,
    maxwritten_clean bigint,
    buffers_backend bigint,
    buffers_alloc bigint,
    size_bytes bigint,
    connections bigint,
    conn_active bigint,
    conn_idle bigint,
    conn_idle_in_xact bigint,
    conn_waiting_lock bigint,
    oldest_xmin_age bigint,
    max_connections bigint,
    reserved_connections bigint,
    shared_buffers_bytes bigint,
    longest_xact_s double precision
);
CREATE INDEX database_current_ts ON pgwarden.database_current (target_id, ts);

-- database: raw samples packed per key and hour (arrays in time order):
-- at_ms = ms since the hour, interval_ms = interval length in ms, float measures real.
CREATE TABLE pgwarden.database_history (
    target_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    datid bigint NOT NULL,
    at_ms int[] NOT NULL,
    interval_ms int[] NOT NULL,
    xact_commit bigint[],
    xact_rollback bigint[],
    blks_read bigint[],
    blks_hit bigint[],
    tup_returned bigint[],
    tup_fetched bigint[],
    tup_inserted bigint[],
    tup_updated bigint[],
    tup_deleted bigint[],
    temp_files bigint[],
    temp_bytes bigint[],
    deadlocks bigint[],
    statements_dealloc bigint[],
    checkpoints_timed bigint[],
    checkpoints_req bigint[],
    checkpoint_buffers bigint[],
    buffers_clean bigint[],
    maxwritten_clean bigint[],
    buffers_backend bigint[],
    buffers_alloc bigint[],
    size_bytes bigint[],
    connections bigint[],
    conn_active bigint[],
    conn_idle bigint[],
    conn_idle_in_xact bigint[],
    conn_waiting_lock bigint[],
    oldest_xmin_age bigint[],
    max_connections bigint[],
    reserved_connections bigint[],
    shared_buffers_bytes bigint[],
    longest_xact_s real[],
    PRIMARY KEY (target_id, datid, hour)
) PARTITION BY RANGE (hour);
-- compressed inline (partitions: toast_tuple_target = 128)
ALTER TABLE pgwarden.database_history
    ALTER COLUMN at_ms SET STORAGE MAIN,
    ALTER COLUMN interval_ms SET STORAGE MAIN,
    ALTER COLUMN xact_commit SET STORAGE MAIN,
    ALTER COLUMN xact_rollback SET STORAGE MAIN,
    ALTER COLUMN blks_read SET STORAGE MAIN,
    ALTER COLUMN blks_hit SET STORAGE MAIN,
    ALTER COLUMN tup_returned SET STORAGE MAIN,
    ALTER COLUMN tup_fetched SET STORAGE MAIN,
    ALTER COLUMN tup_inserted SET STORAGE MAIN,
    ALTER COLUMN tup_updated SET STORAGE MAIN,
    ALTER COLUMN tup_deleted SET STORAGE MAIN,
    ALTER COLUMN temp_files SET STORAGE MAIN,
    ALTER COLUMN temp_bytes SET STORAGE MAIN,
    ALTER COLUMN deadlocks SET STORAGE MAIN,
    ALTER COLUMN statements_dealloc SET STORAGE MAIN,
    ALTER COLUMN checkpoints_timed SET STORAGE MAIN,
    ALTER COLUMN checkpoints_req SET STORAGE MAIN,
    ALTER COLUMN checkpoint_buffers SET STORAGE MAIN,
    ALTER COLUMN buffers_clean SET STORAGE MAIN,
    ALTER COLUMN maxwritten_clean SET STORAGE MAIN,
    ALTER COLUMN buffers_backend SET STORAGE MAIN,
    ALTER COLUMN buffers_alloc SET STORAGE MAIN,
    ALTER COLUMN size_bytes SET STORAGE MAIN,
    ALTER COLUMN connections SET STORAGE MAIN,
    ALTER COLUMN conn_active SET STORAGE MAIN,
    ALTER COLUMN conn_idle SET STORAGE MAIN,
    ALTER COLUMN conn_idle_in_xact SET STORAGE MAIN,
    ALTER COLUMN conn_waiting_lock SET STORAGE MAIN,
    ALTER COLUMN oldest_xmin_age SET STORAGE MAIN,
    ALTER COLUMN max_connections SET STORAGE MAIN,
    ALTER COLUMN reserved_connections SET STORAGE MAIN,
    ALTER COLUMN shared_buffers_bytes SET STORAGE MAIN,
    ALTER COLUMN longest_xact_s SET STORAGE MAIN;

-- database: hourly roll-ups (counters summed, gauges at their maximum).
CREATE TABLE pgwarden.database_hourly (
    target_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    datid bigint NOT NULL,
    samples int NOT NULL,
    interval_s double precision NOT NULL,
    xact_commit bigint,
    xact_rollback bigint,
    blks_read bigint,
    blks_hit bigint,
    tup_returned bigint,
    tup_fetched bigint,
    tup_inserted bigint,
    tup_updated bigint,
    tup_deleted bigint,
    temp_files bigint,
    temp_bytes bigint,
    deadlocks bigint,
    statements_dealloc bigint,
    checkpoints_timed bigint,
    checkpoints_req bigint,
    checkpoint_buffers bigint,
    buffers_clean bigint,
    maxwritten_clean bigint,
    buffers_backend bigint,
    buffers_alloc bigint,
    size_bytes bigint,
    connections bigint,
    conn_active bigint,
    conn_idle bigint,
    conn_idle_in_xact bigint,
    conn_waiting_lock bigint,
    oldest_xmin_age bigint,
    max_connections bigint,
    reserved_connections bigint,
    shared_buffers_bytes bigint,
    longest_xact_s double precision,
    PRIMARY KEY (target_id, datid, hour)
) PARTITION BY RANGE (hour);

-- table: samples of the hour being collected, one row per interval.
CREATE TABLE pgwarden.table_current (
    target_id bigint NOT NULL,
    ts timestamptz NOT NULL,
    interval_s double precision NOT NULL,
    relid bigint NOT NULL,
    seq_scan bigint,
    seq_tup_read bigint,
    idx_scan bigint,
    idx_tup_fetch bigint,
    n_tup_ins bigint,
    n_tup_upd bigint,
    n_tup_del bigint,
    n_tup_hot_upd bigint,
    vacuum_count bigint,
    autovacuum_count bigint,
    analyze_count bigint,
    autoanalyze_count bigint,
    heap_blks_read bigint,
    heap_blks_hit bigint,
    idx_blks_read bigint,
    idx_blks_hit bigint,
    toast_blks_read bigint,
    toast_blks_hit bigint,
    n_live_tup bigint,
    n_dead_tup bigint,
    n_mod_since_analyze bigint,
    size_bytes bigint,
    total_size_bytes bigint,
    reltuples double precision
);
CREATE INDEX table_current_ts ON pgwarden.table_current (target_id, ts);

-- table: raw samples packed per key and hour (arrays in time order):
-- at_ms = ms since the hour, interval_ms = interval length in ms, float measures real.
CREATE TABLE pgwarden.table_history (
    target_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    relid bigint NOT NULL,
    at_ms int[] NOT NULL,
    interval_ms int[] NOT NULL,
    seq_scan bigint[],
    seq_tup_read bigint[],
    idx_scan bigint[],
    idx_tup_fetch bigint[],
    n_tup_ins bigint[],
    n_tup_upd bigint[],
    n_tup_del bigint[],
    n_tup_hot_upd bigint[],
    vacuum_count bigint[],
    autovacuum_count bigint[],
    analyze_count bigint[],
    autoanalyze_count bigint[],
    heap_blks_read bigint[],
    heap_blks_hit bigint[],
    idx_blks_read bigint[],
    idx_blks_hit bigint[],
    toast_blks_read bigint[],
    toast_blks_hit bigint[],
    n_live_tup bigint[],
    n_dead_tup bigint[],
    n_mod_since_analyze bigint[],
    size_bytes bigint[],
    total_size_bytes bigint[],
    reltuples real[],
    PRIMARY KEY (target_id, relid, hour)
) PARTITION BY RANGE (hour);
-- compressed inline (partitions: toast_tuple_target = 128)
ALTER TABLE pgwarden.table_history
    ALTER COLUMN at_ms SET STORAGE MAIN,
    ALTER COLUMN interval_ms SET STORAGE MAIN,
    ALTER COLUMN seq_scan SET STORAGE MAIN,
    ALTER COLUMN seq_tup_read SET STORAGE MAIN,
    ALTER COLUMN idx_scan SET STORAGE MAIN,
    ALTER COLUMN idx_tup_fetch SET STORAGE MAIN,
    ALTER COLUMN n_tup_ins SET STORAGE MAIN,
    ALTER COLUMN n_tup_upd SET STORAGE MAIN,
    ALTER COLUMN n_tup_del SET STORAGE MAIN,
    ALTER COLUMN n_tup_hot_upd SET STORAGE MAIN,
    ALTER COLUMN vacuum_count SET STORAGE MAIN,
    ALTER COLUMN autovacuum_count SET STORAGE MAIN,
    ALTER COLUMN analyze_count SET STORAGE MAIN,
    ALTER COLUMN autoanalyze_count SET STORAGE MAIN,
    ALTER COLUMN heap_blks_read SET STORAGE MAIN,
    ALTER COLUMN heap_blks_hit SET STORAGE MAIN,
    ALTER COLUMN idx_blks_read SET STORAGE MAIN,
    ALTER COLUMN idx_blks_hit SET STORAGE MAIN,
    ALTER COLUMN toast_blks_read SET STORAGE MAIN,
    ALTER COLUMN toast_blks_hit SET STORAGE MAIN,
    ALTER COLUMN n_live_tup SET STORAGE MAIN,
    ALTER COLUMN n_dead_tup SET STORAGE MAIN,
    ALTER COLUMN n_mod_since_analyze SET STORAGE MAIN,
    ALTER COLUMN size_bytes SET STORAGE MAIN,
    ALTER COLUMN total_size_bytes SET STORAGE MAIN,
    ALTER COLUMN reltuples SET STORAGE MAIN;

-- table: hourly roll-ups (counters summed, gauges at their maximum).
CREATE TABLE pgwarden.table_hourly (
    target_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    relid bigint NOT NULL,
    samples int NOT NULL,
    interval_s double precision NOT NULL,
    seq_scan bigint,
    seq_tup_read bigint,
    idx_scan bigint,
    idx_tup_fetch bigint,
    n_tup_ins bigint,
    n_tup_upd bigint,
    n_tup_del bigint,
    n_tup_hot_upd bigint,
    vacuum_count bigint,
    autovacuum_count bigint,
    analyze_count bigint,
    autoanalyze_count bigint,
    heap_blks_read bigint,
    heap_blks_hit bigint,
    idx_blks_read bigint,
    idx_blks_hit bigint,
    toast_blks_read bigint,
    toast_blks_hit bigint,
    n_live_tup bigint,
    n_dead_tup bigint,
    n_mod_since_analyze bigint,
    size_bytes bigint,
    total_size_bytes bigint,
    reltuples double precision,
    PRIMARY KEY (target_id, relid, hour)
) PARTITION BY RANGE (hour);

-- index: samples of the hour being collected, one row per interval.
CREATE TABLE pgwarden.index_current (
    target_id bigint NOT NULL,
    ts timestamptz NOT NULL,
    interval_s double precision NOT NULL,
    relid bigint NOT NULL,
    idx_scan bigint,
    idx_tup_read bigint,
    idx_tup_fetch bigint,
    idx_blks_read bigint,
    idx_blks_hit bigint,
    size_bytes bigint
);
CREATE INDEX index_current_ts ON pgwarden.index_current (target_id, ts);

-- index: raw samples packed per key and hour (arrays in time order):
-- at_ms = ms since the hour, interval_ms = interval length in ms, float measures real.
CREATE TABLE pgwarden.index_history (
    target_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    relid bigint NOT NULL,
    at_ms int[] NOT NULL,
    interval_ms int[] NOT NULL,
    idx_scan bigint[],
    idx_tup_read bigint[],
    idx_tup_fetch bigint[],
    idx_blks_read bigint[],
    idx_blks_hit bigint[],
    size_bytes bigint[],
    PRIMARY KEY (target_id, relid, hour)
) PARTITION BY RANGE (hour);
-- compressed inline (partitions: toast_tuple_target = 128)
ALTER TABLE pgwarden.index_history
    ALTER COLUMN at_ms SET STORAGE MAIN,
    ALTER COLUMN interval_ms SET STORAGE MAIN,
    ALTER COLUMN idx_scan SET STORAGE MAIN,
    ALTER COLUMN idx_tup_read SET STORAGE MAIN,
    ALTER COLUMN idx_tup_fetch SET STORAGE MAIN,
    ALTER COLUMN idx_blks_read SET STORAGE MAIN,
    ALTER COLUMN idx_blks_hit SET STORAGE MAIN,
    ALTER COLUMN size_bytes SET STORAGE MAIN;

-- index: hourly roll-ups (counters summed, gauges at their maximum).
CREATE TABLE pgwarden.index_hourly (
    target_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    relid bigint NOT NULL,
    samples int NOT NULL,
    interval_s double precision NOT NULL,
    idx_scan bigint,
    idx_tup_read bigint,
    idx_tup_fetch bigint,
    idx_blks_read bigint,
    idx_blks_hit bigint,
    size_bytes bigint,
    PRIMARY KEY (target_id, relid, hour)
) PARTITION BY RANGE (hour);


-- Alerts: one row per occurrence of a rule's condition, from pending to resolved.
-- At most one open (not resolved) alert per target and fingerprint.
CREATE TABLE pgwarden.alert (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    fingerprint text NOT NULL,
    rule text NOT NULL,
    severity text NOT NULL
        CHECK (severity IN ('info', 'warning', 'critical', 'emergency')),
    state text NOT NULL
        CHECK (state IN ('pending', 'firing', 'acknowledged', 'resolved')),
    labels jsonb NOT NULL DEFAULT '{}',
    value double precision,
    summary text NOT NULL,
    description text NOT NULL,
    runbook text NOT NULL,
    group_key text NOT NULL,
    started_at timestamptz NOT NULL,
    fired_at timestamptz,
    acked_at timestamptz,
    acked_by text,
    resolved_at timestamptz,
    resolved_by text,
    last_seen_at timestamptz NOT NULL,
    last_notified_at timestamptz,
    notifications int NOT NULL DEFAULT 0,
    escalation_level int NOT NULL DEFAULT 0,
    escalated_at timestamptz,
    muted_by text
);

CREATE UNIQUE INDEX alert_open_idx ON pgwarden.alert (target_id, fingerprint)
    WHERE state <> 'resolved';
CREATE INDEX alert_fired_idx ON pgwarden.alert (target_id, fired_at);

-- Time-boxed silences: alerts matching rule (NULL: any) and labels are not notified.
CREATE TABLE pgwarden.alert_silence (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_id bigint REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    rule text,
    labels jsonb NOT NULL DEFAULT '{}',
    starts_at timestamptz NOT NULL,
    ends_at timestamptz NOT NULL CHECK (ends_at > starts_at),
    comment text NOT NULL CHECK (comment <> ''),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Every delivery attempt series of a notification to a channel, failed or not.
CREATE TABLE pgwarden.alert_notification (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    alert_id bigint NOT NULL REFERENCES pgwarden.alert (id) ON DELETE CASCADE,
    ts timestamptz NOT NULL,
    kind text NOT NULL
        CHECK (kind IN ('firing', 'repeat', 'escalation', 'resolved')),
    level int NOT NULL DEFAULT 0,
    recipient text,
    channel text NOT NULL,
    ok boolean NOT NULL,
    attempts int NOT NULL,
    error text
);

CREATE INDEX alert_notification_alert_idx ON pgwarden.alert_notification (alert_id, ts);
