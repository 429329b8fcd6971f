-- Reads of the maintained server (pgwarden/maintain).

-- name: tables
-- A table another maintenance run holds (advisory lock "MNTN", its oid) may have an
-- exclusive lock queued: its size comes from pg_class so the read does not queue.
WITH held AS (
    SELECT objid AS relid FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 1
      AND classid = %s::bigint::oid
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
)
SELECT t.relid::bigint AS oid, t.schemaname AS schema, t.relname AS name,
       t.n_live_tup AS live_rows, t.n_dead_tup AS dead_rows,
       t.n_mod_since_analyze AS mod_since_analyze,
       t.n_tup_upd AS updates, t.n_tup_del AS deletes,
       c.reltuples::float8 AS reltuples,
       CASE WHEN h.relid IS NULL THEN pg_relation_size(t.relid)
            ELSE c.relpages::bigint * current_setting('block_size')::int
       END AS size_bytes,
       age(c.relfrozenxid)::bigint AS xid_age,
       t.last_analyze, t.last_autoanalyze, t.last_vacuum, t.last_autovacuum,
       h.relid IS NOT NULL AS held
FROM pg_stat_user_tables t
JOIN pg_class c ON c.oid = t.relid
LEFT JOIN held h ON h.relid = t.relid
WHERE t.schemaname NOT IN ('pgwarden', 'pgwarden_jobs') AND c.relkind = 'r';

-- name: indexes
WITH held AS (
    SELECT objid AS relid FROM pg_locks
    WHERE locktype = 'advisory' AND granted AND objsubid = 1
      AND classid = %s::bigint::oid
      AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
)
SELECT i.indexrelid::bigint AS oid, i.schemaname AS schema, i.indexrelname AS name,
       i.relid::bigint AS table_oid, i.relname AS table,
       CASE WHEN h.relid IS NULL THEN pg_relation_size(i.indexrelid)
            ELSE c.relpages::bigint * current_setting('block_size')::int
       END AS size_bytes,
       a.amname AS method
FROM pg_stat_user_indexes i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am a ON a.oid = c.relam
JOIN pg_index x ON x.indexrelid = i.indexrelid
LEFT JOIN held h ON h.relid = i.relid
WHERE i.schemaname NOT IN ('pgwarden', 'pgwarden_jobs') AND x.indisvalid;

-- name: settings
SELECT current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max_age,
       array(SELECT extname::text FROM pg_extension) AS extensions,
       (SELECT n.nspname FROM pg_extension e JOIN pg_namespace n
          ON n.oid = e.extnamespace WHERE e.extname = 'pgstattuple') AS pgstattuple;

-- name: table_bloat
-- pgstattuple_approx: dead tuples and free space as a share of the table.
SELECT (dead_tuple_percent + approx_free_percent)::float8 AS pct
FROM {schema}.pgstattuple_approx(%s::regclass);

-- name: index_bloat
-- pgstatindex: leaf density against the B-tree's fill factor (90 by default).
SELECT greatest(0, 100 - avg_leaf_density * 100 / %s)::float8 AS pct,
       leaf_pages
FROM {schema}.pgstatindex(%s::regclass);

-- name: relation
SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name,
       coalesce(s.n_live_tup, 0) AS live_rows, coalesce(s.n_dead_tup, 0) AS dead_rows,
       pg_total_relation_size(c.oid) AS size_bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.oid = %s;

-- name: may_maintain
-- Before PostgreSQL 17 only the owner, the database owner or a superuser may. The
-- name of the oid: the statement names the table, the plan knew its oid.
SELECT pg_has_role(c.relowner, 'USAGE') OR pg_has_role(d.datdba, 'USAGE')
       AS allowed, pg_get_userbyid(c.relowner) AS owner, current_user AS role,
       n.nspname::text AS schema_name, c.relname::text AS table_name
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_database d ON d.datname = current_database()
WHERE c.oid = %s;

-- name: may_maintain_pg17
SELECT has_table_privilege(c.oid, 'MAINTAIN') OR pg_has_role(d.datdba, 'USAGE')
       AS allowed, pg_get_userbyid(c.relowner) AS owner, current_user AS role,
       n.nspname::text AS schema_name, c.relname::text AS table_name
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_database d ON d.datname = current_database()
WHERE c.oid = %s;

-- name: try_lock
SELECT pg_try_advisory_lock(%s) AS locked;

-- name: unlock
SELECT pg_advisory_unlock(%s) AS unlocked;

-- name: lock_holders
-- Backends holding maintenance table locks (session advisory locks, bigint keys).
SELECT pid, (classid::bigint << 32) | objid::bigint AS key
FROM pg_locks
WHERE locktype = 'advisory' AND granted AND objsubid = 1
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND classid = %s::bigint::oid;

-- name: progress_vacuum
SELECT phase, heap_blks_total AS total, heap_blks_scanned AS done,
       'heap blocks' AS unit
FROM pg_stat_progress_vacuum WHERE pid = %s;

-- name: progress_cluster
SELECT phase, heap_blks_total AS total, heap_blks_scanned AS done,
       'heap blocks' AS unit
FROM pg_stat_progress_cluster WHERE pid = %s;

-- name: progress_analyze
SELECT phase, sample_blks_total AS total, sample_blks_scanned AS done,
       'sample blocks' AS unit
FROM pg_stat_progress_analyze WHERE pid = %s;

-- name: progress_create_index
SELECT phase, blocks_total AS total, blocks_done AS done, 'blocks' AS unit
FROM pg_stat_progress_create_index WHERE pid = %s;

-- name: blockers
-- Who holds what the maintenance backend waits for.
SELECT a.pid, a.application_name, a.state, left(a.query, 120) AS query
FROM pg_stat_activity a
WHERE a.pid = ANY(pg_blocking_pids(%s));

-- name: cancel
SELECT pg_cancel_backend(%s) AS cancelled;

-- name: invalid_copies
-- Invalid indexes a failed REINDEX CONCURRENTLY left (named <index>_ccnew...).
SELECT c.relname AS name
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid AND n.nspname = %s
  AND starts_with(c.relname, %s || '_ccnew');

-- name: index_size
-- By name: REINDEX CONCURRENTLY swaps in a new index (and oid) under the old name.
SELECT pg_relation_size(to_regclass(%s)) AS size_bytes;
