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

-- One row per monitored database (many targets may share a repository).
CREATE TABLE pgwarden.target (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text UNIQUE NOT NULL,
    system_identifier text,
    server_version_num int,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz,
    address text,
    database_oid bigint,
    database_name text
);

-- A target is the database it is (system identifier + database oid), whatever
-- address reaches it; address is where it was last seen, name the one first given.
CREATE UNIQUE INDEX target_identity_idx
    ON pgwarden.target (system_identifier, database_oid)
    WHERE system_identifier IS NOT NULL AND database_oid IS NOT NULL;

-- Move every row of target "gone" to target "keep" and drop "gone". A row of "gone"
-- that would collide with one of "keep" under a unique index is dropped ("keep"
-- wins); of the collector's kept snapshot only the newer one stays.
CREATE FUNCTION pgwarden.merge_target(keep bigint, gone bigint) RETURNS void
LANGUAGE plpgsql AS $merge$
DECLARE
    t record;
    u record;
    newer bigint;
    same text;
BEGIN
    IF keep = gone THEN
        RETURN;
    END IF;
    SELECT s.target_id INTO newer FROM pgwarden.collect_state s
    WHERE s.target_id IN (keep, gone) ORDER BY s.ts DESC, s.target_id LIMIT 1;
    DELETE FROM pgwarden.collect_state s
    WHERE s.target_id IN (keep, gone) AND s.target_id <> newer;
    DELETE FROM pgwarden.collect_last l
    WHERE l.target_id IN (keep, gone) AND l.target_id <> newer;
    FOR t IN
        SELECT c.oid, c.relname
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_catalog.pg_attribute a
          ON a.attrelid = c.oid AND a.attname = 'target_id' AND NOT a.attisdropped
        WHERE n.nspname = 'pgwarden' AND c.relkind IN ('r', 'p')
          AND NOT c.relispartition
        ORDER BY c.relname
    LOOP
        FOR u IN
            SELECT pg_catalog.pg_get_expr(i.indpred, i.indrelid) AS pred,
                   coalesce(array_agg(a.attname::text ORDER BY a.attnum)
                            FILTER (WHERE a.attname <> 'target_id'),
                            '{}') AS cols
            FROM pg_catalog.pg_index i
            JOIN pg_catalog.pg_attribute a
              ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = t.oid AND i.indisunique
            GROUP BY i.indexrelid, i.indpred, i.indrelid
            HAVING bool_or(a.attname = 'target_id')
        LOOP
            SELECT coalesce(string_agg(format(' AND k.%1$I = d.%1$I', c), ''), '')
            INTO same FROM unnest(u.cols) AS c;
            EXECUTE format(
                'DELETE FROM pgwarden.%1$I d WHERE d.target_id = $2 AND (%2$s) '
                'AND EXISTS (SELECT FROM pgwarden.%1$I k '
                'WHERE k.target_id = $1 AND (%2$s)%3$s)',
                t.relname, coalesce(u.pred, 'true'), same
            ) USING keep, gone;
        END LOOP;
        EXECUTE format('UPDATE pgwarden.%I SET target_id = $1 WHERE target_id = $2',
                       t.relname) USING keep, gone;
    END LOOP;
    DELETE FROM pgwarden.target WHERE id = gone;
END
$merge$;

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
-- statements (pgwarden.sqltext.own, decided by text when collected) are summed
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

-- What applications report about themselves (POST /api/ingest/app-metrics and
-- /app-cache): the latest connection pool and cache counters per source.
CREATE TABLE pgwarden.app_metrics (
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    source text NOT NULL,
    pool_size int CHECK (pool_size >= 0),
    pool_in_use int CHECK (pool_in_use >= 0),
    pool_waiting int CHECK (pool_waiting >= 0),
    pool_reported_at timestamptz,
    cache_hits bigint CHECK (cache_hits >= 0),
    cache_misses bigint CHECK (cache_misses >= 0),
    cache_reported_at timestamptz,
    PRIMARY KEY (target_id, source)
);

-- Stored reports (the weekly index health report; kind names the report), listed by
-- `pgwarden report list`. data is the report as JSON; summary its one-line summary.
CREATE TABLE pgwarden.report (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    kind text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    summary text NOT NULL,
    data jsonb NOT NULL
);

CREATE INDEX report_target_kind_idx ON pgwarden.report (target_id, kind, created_at);

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

-- Change control (0011): change requests, votes, deployments, action items and the
-- append-only, hash-chained decision log (pgwarden.ops.ccb.decisions).
CREATE TABLE pgwarden.change_request (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title text NOT NULL,
    description text NOT NULL DEFAULT '',
    owner text NOT NULL,
    window_start timestamptz,
    window_end timestamptz,
    rollback_plan text NOT NULL DEFAULT '',
    migration_sql text,
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'submitted',
        'approved', 'rejected', 'deferred', 'scheduled', 'done', 'rolled_back')),
    risk_class text CHECK (risk_class IN ('C1', 'C2', 'C3', 'C4')),
    risk_reasons jsonb NOT NULL DEFAULT '[]',
    risk_tables jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    submitted_at timestamptz,
    CHECK (window_end IS NULL OR window_start IS NULL OR window_end > window_start)
);

CREATE TABLE pgwarden.ccb_vote (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id bigint NOT NULL REFERENCES pgwarden.change_request (id),
    voter text NOT NULL,
    vote text NOT NULL CHECK (vote IN ('approve', 'reject', 'abstain')),
    comment text NOT NULL DEFAULT '',
    ts timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX ccb_vote_request_idx ON pgwarden.ccb_vote (request_id, id);

CREATE TABLE pgwarden.ccb_deployment (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id bigint NOT NULL REFERENCES pgwarden.change_request (id),
    deployed_at timestamptz NOT NULL,
    outcome text NOT NULL CHECK (outcome IN ('success', 'rolled-back', 'hotfix')),
    restored_at timestamptz,
    note text NOT NULL DEFAULT '',
    recorded_by text NOT NULL
);

CREATE INDEX ccb_deployment_time_idx ON pgwarden.ccb_deployment (deployed_at);

CREATE TABLE pgwarden.ccb_action_item (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id bigint REFERENCES pgwarden.change_request (id),
    title text NOT NULL,
    owner text NOT NULL,
    due date NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    done_at timestamptz
);

CREATE TABLE pgwarden.ccb_decision_log (
    seq bigint PRIMARY KEY CHECK (seq > 0),
    ts timestamptz NOT NULL,
    request_id bigint,
    kind text NOT NULL,
    actor text NOT NULL,
    detail jsonb NOT NULL,
    prev_hash text NOT NULL,
    hash text NOT NULL UNIQUE
);

CREATE FUNCTION pgwarden.ccb_decision_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'pgwarden.ccb_decision_log is append-only (% refused)', TG_OP;
END;
$$;

CREATE TRIGGER ccb_decision_log_append_only
    BEFORE UPDATE OR DELETE ON pgwarden.ccb_decision_log
    FOR EACH ROW EXECUTE FUNCTION pgwarden.ccb_decision_log_append_only();

CREATE TRIGGER ccb_decision_log_no_truncate
    BEFORE TRUNCATE ON pgwarden.ccb_decision_log
    FOR EACH STATEMENT EXECUTE FUNCTION pgwarden.ccb_decision_log_append_only();

-- Release rehearsal (0012): each `pgwarden rehearse run` with its verdict, timings
-- and the full report (pgwarden.ops.rehearse.report).
CREATE TABLE pgwarden.rehearsal (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    title text NOT NULL,
    change_request_id bigint
        REFERENCES pgwarden.change_request (id) ON DELETE SET NULL,
    verdict text NOT NULL CHECK (verdict IN ('go', 'no-go')),
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    window_minutes double precision NOT NULL CHECK (window_minutes > 0),
    release_s double precision NOT NULL,
    rollback_s double precision NOT NULL,
    report jsonb NOT NULL,
    CHECK (finished_at >= started_at)
);

CREATE INDEX rehearsal_target_idx ON pgwarden.rehearsal (target_id, started_at);
CREATE INDEX rehearsal_change_request_idx ON pgwarden.rehearsal (change_request_id);

-- Post-launch reviews (0013): the launch date of each target, and its reviews --
-- daily in the first week, weekly to day 30, then monthly (pgwarden.ops.review.schedule).
-- A review's due_at is the end of its period plus reviews.grace_hours (NULL: generated
-- on demand for a period outside the schedule); generated_at is its first generation.
CREATE TABLE pgwarden.launch (
    target_id bigint PRIMARY KEY REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    launch_date date NOT NULL,
    timezone text NOT NULL,
    source text NOT NULL CHECK (source IN ('command', 'setting')),
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pgwarden.launch_review (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('day', 'week', 'month')),
    seq int CHECK (seq > 0),
    period_start timestamptz NOT NULL,
    period_end timestamptz NOT NULL,
    due_at timestamptz,
    generated_at timestamptz NOT NULL,
    regenerated_at timestamptz,
    trigger text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
    summary text NOT NULL,
    metrics jsonb NOT NULL,
    markdown text NOT NULL,
    CHECK (period_end > period_start),
    UNIQUE (target_id, kind, period_start, period_end)
);

CREATE INDEX launch_review_period_idx
    ON pgwarden.launch_review (target_id, period_end);

-- Parameter values (0014): how often a statement compared a categorical column with
-- each of its most common values, per UTC day (pgwarden.slowlog.param_values).
-- Only values pg_stats already lists for a low-cardinality column are ever kept.
CREATE TABLE pgwarden.parameter_value (
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    day date NOT NULL,
    fingerprint text NOT NULL,
    queryid bigint,
    schema_name text NOT NULL,
    relname text NOT NULL,
    attname text NOT NULL,
    value text NOT NULL,
    calls bigint NOT NULL CHECK (calls > 0),
    first_seen timestamptz NOT NULL,
    last_seen timestamptz NOT NULL,
    PRIMARY KEY (target_id, fingerprint, relname, attname, value, day)
);

CREATE INDEX parameter_value_day_idx ON pgwarden.parameter_value (target_id, day);

-- Audit log (0016): what an admin did from the dashboard or the API to a target
-- (cancel or terminate a backend, run EXPLAIN, start a job): who, when, what.
CREATE TABLE pgwarden.audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    target_id bigint REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    role text NOT NULL,
    actor text,
    action text NOT NULL,
    subject text,
    outcome text NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_at_idx ON pgwarden.audit_log (target_id, at);

-- Fleet (0017): a target registered for the workers to serve. A registered target
-- has a connection string (dsn, never with a password: the password comes from the
-- environment variable named in password_env, or from libpq's password file or
-- service file); targets only seen by a one-off command keep dsn NULL. The status
-- is the outcome of the last cycle a worker ran for it. A discovered target keeps
-- the server it came from (its DSN without password) and the patterns discovery
-- left out, so the worker runs discovery again; removed from the fleet, it keeps
-- discovered_from and is not added back by that rediscovery.
ALTER TABLE pgwarden.target
    ADD COLUMN group_name text,
    ADD COLUMN dsn text,
    ADD COLUMN password_env text
        CHECK (password_env ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
    ADD COLUMN interval_s integer CHECK (interval_s > 0),
    ADD COLUMN paused boolean NOT NULL DEFAULT false,
    ADD COLUMN discovered_from text,
    ADD COLUMN discover_exclude text[],
    ADD COLUMN status text CHECK (status IN ('ok', 'failing')),
    ADD COLUMN status_reason text,
    ADD COLUMN status_at timestamptz;

CREATE INDEX target_registered_idx
    ON pgwarden.target (group_name, name) WHERE dsn IS NOT NULL;

-- Slow queries (0018): derived from pg_stat_statements between two cycles; see
-- migrations/0018_slow_query_statements.sql for exactness and executions.
ALTER TABLE pgwarden.slow_query_log
    DROP CONSTRAINT slow_query_log_source_check,
    ADD CONSTRAINT slow_query_log_source_check
        CHECK (source IN ('server_log', 'activity', 'application', 'statements')),
    ADD COLUMN exactness text CHECK (exactness IN ('exact', 'mean', 'max')),
    ADD COLUMN executions integer NOT NULL DEFAULT 1 CHECK (executions >= 1);

-- Errors by class per minute (0019): the server log's ERROR/FATAL/PANIC records and
-- applications' reports; see migrations/0019_error_counts.sql.
CREATE TABLE pgwarden.error_count (
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    minute timestamptz NOT NULL,
    source text NOT NULL CHECK (source IN ('server_log', 'application')),
    origin text NOT NULL DEFAULT '',
    class text NOT NULL CHECK (class ~ '^[a-z][a-z0-9_]{0,62}$'),
    errors bigint NOT NULL CHECK (errors >= 0),
    PRIMARY KEY (target_id, minute, source, origin, class)
);

CREATE TABLE pgwarden.error_calls (
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    minute timestamptz NOT NULL,
    origin text NOT NULL,
    calls bigint NOT NULL CHECK (calls >= 0),
    PRIMARY KEY (target_id, minute, origin)
);

-- When each source was read (the server log) or reported (an application): from
-- first_at to last_at its silence means no errors, before and after it means
-- "not recorded".
CREATE TABLE pgwarden.error_source (
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    source text NOT NULL CHECK (source IN ('server_log', 'application')),
    origin text NOT NULL DEFAULT '',
    first_at timestamptz NOT NULL,
    last_at timestamptz NOT NULL,
    PRIMARY KEY (target_id, source, origin)
);

-- Business measures (0020): adoption, satisfaction and support tickets recorded by
-- people or systems, one reading per target, measure and time; an action item may
-- follow a measure. See migrations/0020_business_measures.sql.
CREATE TABLE pgwarden.business_measure (
    target_id bigint NOT NULL REFERENCES pgwarden.target (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (name IN ('active_users', 'active_tenants', 'csat',
        'nps', 'tickets_opened', 'tickets_closed', 'tickets_open')),
    recorded_at timestamptz NOT NULL,
    value double precision NOT NULL CHECK (value BETWEEN -1e15 AND 1e15),
    responses integer CHECK (responses > 0),
    source text NOT NULL CHECK (source IN ('cli', 'csv', 'api')),
    recorded_by text NOT NULL,
    entered_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target_id, name, recorded_at)
);

ALTER TABLE pgwarden.ccb_action_item
    ADD COLUMN measure text CHECK (measure IN ('active_users', 'active_tenants',
        'csat', 'nps', 'tickets_opened', 'tickets_closed', 'tickets_open'));

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
