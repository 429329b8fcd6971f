-- Snapshots of a monitored database (pgwarden/collect); statements of the current
-- database only. Variants *_pgNN apply from that
-- major version on. {pgss} is the schema of the pg_stat_statements extension.

-- name: server
-- The clock to the millisecond: packed history stores times as ms since the hour.
SELECT date_trunc('milliseconds', clock_timestamp()) AS ts,
       pg_postmaster_start_time() AS postmaster_start,
       current_setting('server_version_num')::int AS server_version_num,
       d.oid::bigint AS datid,
       d.datname
FROM pg_database d
WHERE d.datname = current_database();

-- name: system_identifier
SELECT system_identifier::text AS system_identifier FROM pg_control_system();

-- name: statements_extension
SELECT n.nspname AS schema, e.extversion
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pg_stat_statements';

-- name: statements_info
SELECT dealloc AS statements_dealloc, stats_reset FROM {pgss}.pg_stat_statements_info;

-- name: statements
SELECT s.dbid::bigint AS dbid, s.userid::bigint AS userid, s.queryid, s.toplevel,
       s.calls, s.plans, s.rows,
       s.total_exec_time AS total_exec_ms, s.total_plan_time AS total_plan_ms,
       s.shared_blks_hit, s.shared_blks_read, s.shared_blks_dirtied,
       s.shared_blks_written, s.local_blks_hit, s.local_blks_read,
       s.temp_blks_read, s.temp_blks_written,
       s.blk_read_time AS blk_read_ms, s.blk_write_time AS blk_write_ms,
       s.wal_records, s.wal_fpi, s.wal_bytes::bigint AS wal_bytes,
       NULL::bigint AS wal_buffers_full,
       NULL::bigint AS jit_functions, NULL::float8 AS jit_ms,
       NULL::timestamptz AS stats_since
FROM {pgss}.pg_stat_statements(false) s
WHERE s.queryid IS NOT NULL
  AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database());

-- name: statements_pg15
SELECT s.dbid::bigint AS dbid, s.userid::bigint AS userid, s.queryid, s.toplevel,
       s.calls, s.plans, s.rows,
       s.total_exec_time AS total_exec_ms, s.total_plan_time AS total_plan_ms,
       s.shared_blks_hit, s.shared_blks_read, s.shared_blks_dirtied,
       s.shared_blks_written, s.local_blks_hit, s.local_blks_read,
       s.temp_blks_read, s.temp_blks_written,
       s.blk_read_time AS blk_read_ms, s.blk_write_time AS blk_write_ms,
       s.wal_records, s.wal_fpi, s.wal_bytes::bigint AS wal_bytes,
       NULL::bigint AS wal_buffers_full,
       s.jit_functions,
       s.jit_generation_time + s.jit_inlining_time + s.jit_optimization_time
         + s.jit_emission_time AS jit_ms,
       NULL::timestamptz AS stats_since
FROM {pgss}.pg_stat_statements(false) s
WHERE s.queryid IS NOT NULL
  AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database());

-- name: statements_pg17
SELECT s.dbid::bigint AS dbid, s.userid::bigint AS userid, s.queryid, s.toplevel,
       s.calls, s.plans, s.rows,
       s.total_exec_time AS total_exec_ms, s.total_plan_time AS total_plan_ms,
       s.shared_blks_hit, s.shared_blks_read, s.shared_blks_dirtied,
       s.shared_blks_written, s.local_blks_hit, s.local_blks_read,
       s.temp_blks_read, s.temp_blks_written,
       s.shared_blk_read_time + s.local_blk_read_time AS blk_read_ms,
       s.shared_blk_write_time + s.local_blk_write_time AS blk_write_ms,
       s.wal_records, s.wal_fpi, s.wal_bytes::bigint AS wal_bytes,
       NULL::bigint AS wal_buffers_full,
       s.jit_functions,
       s.jit_generation_time + s.jit_inlining_time + s.jit_optimization_time
         + s.jit_emission_time + s.jit_deform_time AS jit_ms,
       s.stats_since
FROM {pgss}.pg_stat_statements(false) s
WHERE s.queryid IS NOT NULL
  AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database());

-- name: statements_pg18
SELECT s.dbid::bigint AS dbid, s.userid::bigint AS userid, s.queryid, s.toplevel,
       s.calls, s.plans, s.rows,
       s.total_exec_time AS total_exec_ms, s.total_plan_time AS total_plan_ms,
       s.shared_blks_hit, s.shared_blks_read, s.shared_blks_dirtied,
       s.shared_blks_written, s.local_blks_hit, s.local_blks_read,
       s.temp_blks_read, s.temp_blks_written,
       s.shared_blk_read_time + s.local_blk_read_time AS blk_read_ms,
       s.shared_blk_write_time + s.local_blk_write_time AS blk_write_ms,
       s.wal_records, s.wal_fpi, s.wal_bytes::bigint AS wal_bytes,
       s.wal_buffers_full,
       s.jit_functions,
       s.jit_generation_time + s.jit_inlining_time + s.jit_optimization_time
         + s.jit_emission_time + s.jit_deform_time AS jit_ms,
       s.stats_since
FROM {pgss}.pg_stat_statements(false) s
WHERE s.queryid IS NOT NULL
  AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database());

-- name: statement_texts
SELECT s.dbid::bigint AS dbid, s.userid::bigint AS userid, s.queryid, s.toplevel,
       d.datname, r.rolname, left(s.query, %s) AS query,
       length(s.query) AS query_length
FROM {pgss}.pg_stat_statements(true) s
LEFT JOIN pg_database d ON d.oid = s.dbid
LEFT JOIN pg_roles r ON r.oid = s.userid
WHERE s.queryid = ANY(%s)
  AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database());

-- name: database
SELECT xact_commit, xact_rollback, blks_read, blks_hit, tup_returned, tup_fetched,
       tup_inserted, tup_updated, tup_deleted, temp_files, temp_bytes, deadlocks,
       pg_database_size(datid) AS size_bytes, stats_reset
FROM pg_stat_database
WHERE datname = current_database();

-- name: activity
SELECT count(*) AS connections,
       count(*) FILTER (WHERE state = 'active') AS conn_active,
       count(*) FILTER (WHERE state = 'idle') AS conn_idle,
       count(*) FILTER (WHERE state LIKE 'idle in transaction%%') AS conn_idle_in_xact,
       count(*) FILTER (WHERE wait_event_type = 'Lock') AS conn_waiting_lock,
       coalesce(extract(epoch FROM max(clock_timestamp() - xact_start)
                FILTER (WHERE pid <> pg_backend_pid())), 0)::float8 AS longest_xact_s,
       coalesce(max(age(backend_xmin))
                FILTER (WHERE pid <> pg_backend_pid()), 0)::bigint AS oldest_xmin_age
FROM pg_stat_activity
WHERE backend_type = 'client backend';

-- name: settings
SELECT current_setting('max_connections')::bigint AS max_connections,
       current_setting('superuser_reserved_connections')::bigint
         AS reserved_connections,
       pg_size_bytes(current_setting('shared_buffers')) AS shared_buffers_bytes;

-- name: settings_pg16
SELECT current_setting('max_connections')::bigint AS max_connections,
       current_setting('superuser_reserved_connections')::bigint
         + current_setting('reserved_connections')::bigint AS reserved_connections,
       pg_size_bytes(current_setting('shared_buffers')) AS shared_buffers_bytes;

-- name: bgwriter
SELECT buffers_clean, maxwritten_clean, buffers_alloc, buffers_backend, stats_reset
FROM pg_stat_bgwriter;

-- name: bgwriter_pg17
SELECT buffers_clean, maxwritten_clean, buffers_alloc,
       NULL::bigint AS buffers_backend, stats_reset
FROM pg_stat_bgwriter;

-- name: checkpointer
SELECT checkpoints_timed, checkpoints_req, buffers_checkpoint AS checkpoint_buffers,
       stats_reset
FROM pg_stat_bgwriter;

-- name: checkpointer_pg17
SELECT num_timed AS checkpoints_timed, num_requested AS checkpoints_req,
       buffers_written AS checkpoint_buffers, stats_reset
FROM pg_stat_checkpointer;

-- name: tables
SELECT t.relid::bigint AS relid, t.schemaname AS schema_name, t.relname AS rel_name,
       NULL::bigint AS table_relid,
       t.seq_scan, t.seq_tup_read, t.idx_scan, t.idx_tup_fetch, t.n_tup_ins,
       t.n_tup_upd, t.n_tup_del, t.n_tup_hot_upd, t.vacuum_count,
       t.autovacuum_count, t.analyze_count, t.autoanalyze_count,
       io.heap_blks_read, io.heap_blks_hit, io.idx_blks_read, io.idx_blks_hit,
       io.toast_blks_read, io.toast_blks_hit,
       t.n_live_tup, t.n_dead_tup, t.n_mod_since_analyze,
       pg_relation_size(t.relid) AS size_bytes,
       pg_total_relation_size(t.relid) AS total_size_bytes,
       c.reltuples::float8 AS reltuples
FROM pg_stat_user_tables t
JOIN pg_statio_user_tables io ON io.relid = t.relid
JOIN pg_class c ON c.oid = t.relid
WHERE t.schemaname NOT IN ('pgwarden', 'pgwarden_jobs');

-- name: indexes
SELECT i.indexrelid::bigint AS relid, i.schemaname AS schema_name,
       i.indexrelname AS rel_name, i.relid::bigint AS table_relid,
       i.idx_scan, i.idx_tup_read, i.idx_tup_fetch,
       io.idx_blks_read, io.idx_blks_hit,
       pg_relation_size(i.indexrelid) AS size_bytes
FROM pg_stat_user_indexes i
JOIN pg_statio_user_indexes io ON io.indexrelid = i.indexrelid
WHERE i.schemaname NOT IN ('pgwarden', 'pgwarden_jobs');
