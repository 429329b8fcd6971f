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

-- The previous raw counters, one row per part and key.
CREATE TABLE pgwarden.collect_last (
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    part text NOT NULL,
    key text NOT NULL,
    since timestamptz,
    counters jsonb NOT NULL
);
CREATE INDEX collect_last_part ON pgwarden.collect_last (target_id, part);

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

-- statement: raw samples packed per key and hour (arrays in ts order).
CREATE TABLE pgwarden.statement_history (
    target_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    dbid bigint NOT NULL,
    userid bigint NOT NULL,
    queryid bigint NOT NULL,
    toplevel boolean NOT NULL,
    ts timestamptz[] NOT NULL,
    interval_s double precision[] NOT NULL,
    calls bigint[],
    plans bigint[],
    rows bigint[],
    total_exec_ms double precision[],
    total_plan_ms double precision[],
    shared_blks_hit bigint[],
    shared_blks_read bigint[],
    shared_blks_dirtied bigint[],
    shared_blks_written bigint[],
    local_blks_hit bigint[],
    local_blks_read bigint[],
    temp_blks_read bigint[],
    temp_blks_written bigint[],
    blk_read_ms double precision[],
    blk_write_ms double precision[],
    wal_records bigint[],
    wal_fpi bigint[],
    wal_bytes bigint[],
    wal_buffers_full bigint[],
    jit_functions bigint[],
    jit_ms double precision[],
    PRIMARY KEY (target_id, dbid, userid, queryid, toplevel, hour)
) PARTITION BY RANGE (hour);

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

-- database: raw samples packed per key and hour (arrays in ts order).
CREATE TABLE pgwarden.database_history (
    target_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    datid bigint NOT NULL,
    ts timestamptz[] NOT NULL,
    interval_s double precision[] NOT NULL,
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
    longest_xact_s double precision[],
    PRIMARY KEY (target_id, datid, hour)
) PARTITION BY RANGE (hour);

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

-- table: raw samples packed per key and hour (arrays in ts order).
CREATE TABLE pgwarden.table_history (
    target_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    relid bigint NOT NULL,
    ts timestamptz[] NOT NULL,
    interval_s double precision[] NOT NULL,
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
    reltuples double precision[],
    PRIMARY KEY (target_id, relid, hour)
) PARTITION BY RANGE (hour);

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

-- index: raw samples packed per key and hour (arrays in ts order).
CREATE TABLE pgwarden.index_history (
    target_id bigint NOT NULL,
    hour timestamptz NOT NULL,
    relid bigint NOT NULL,
    ts timestamptz[] NOT NULL,
    interval_s double precision[] NOT NULL,
    idx_scan bigint[],
    idx_tup_read bigint[],
    idx_tup_fetch bigint[],
    idx_blks_read bigint[],
    idx_blks_hit bigint[],
    size_bytes bigint[],
    PRIMARY KEY (target_id, relid, hour)
) PARTITION BY RANGE (hour);

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

