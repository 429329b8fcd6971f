-- Capacity planning (pgwarden/plan): pgwarden's history read back per UTC day, and
-- the target's settings and storage read live. Daily values come from the hourly
-- roll-ups (finished hours) plus the rows of the hour being collected: sizes and
-- connections at their daily maximum, counters summed. No daily table is stored.

-- name: database_daily
SELECT date_trunc('day', ts, 'UTC') AS day, max(ts) AS ts,
       max(size_bytes)::bigint AS size_bytes,
       max(connections)::bigint AS connections,
       max(max_connections)::bigint AS max_connections,
       max(reserved_connections)::bigint AS reserved_connections,
       max(shared_buffers_bytes)::bigint AS shared_buffers_bytes,
       sum(blks_hit)::bigint AS blks_hit, sum(blks_read)::bigint AS blks_read
FROM (
    SELECT hour AS ts, size_bytes, connections, max_connections,
           reserved_connections, shared_buffers_bytes, blks_hit, blks_read
    FROM pgwarden.database_hourly
    WHERE target_id = %(target_id)s AND hour >= %(since)s
    UNION ALL
    SELECT ts, size_bytes, connections, max_connections, reserved_connections,
           shared_buffers_bytes, blks_hit, blks_read
    FROM pgwarden.database_current
    WHERE target_id = %(target_id)s AND ts >= %(since)s
) s
WHERE size_bytes IS NOT NULL
GROUP BY 1
ORDER BY 1;

-- name: database_ends
-- The first and the last database size sample (the two-point fallback).
(SELECT ts, size_bytes FROM (
    SELECT hour AS ts, size_bytes FROM pgwarden.database_hourly
    WHERE target_id = %(target_id)s AND hour >= %(since)s
    UNION ALL
    SELECT ts, size_bytes FROM pgwarden.database_current
    WHERE target_id = %(target_id)s AND ts >= %(since)s
) s WHERE size_bytes IS NOT NULL ORDER BY ts LIMIT 1)
UNION ALL
(SELECT ts, size_bytes FROM (
    SELECT hour AS ts, size_bytes FROM pgwarden.database_hourly
    WHERE target_id = %(target_id)s AND hour >= %(since)s
    UNION ALL
    SELECT ts, size_bytes FROM pgwarden.database_current
    WHERE target_id = %(target_id)s AND ts >= %(since)s
) s WHERE size_bytes IS NOT NULL ORDER BY ts DESC LIMIT 1);

-- name: table_daily
-- Per table and UTC day: size and rows at their maximum, writes summed.
SELECT s.relid, r.schema_name, r.rel_name, date_trunc('day', s.ts, 'UTC') AS day,
       max(s.ts) AS ts, min(s.ts) AS first_ts,
       max(s.total_size_bytes)::bigint AS total_size_bytes,
       max(s.size_bytes)::bigint AS size_bytes,
       max(s.n_live_tup)::bigint AS n_live_tup,
       sum(s.n_tup_ins)::bigint AS n_tup_ins, sum(s.n_tup_upd)::bigint AS n_tup_upd,
       sum(s.n_tup_del)::bigint AS n_tup_del
FROM (
    SELECT relid, hour AS ts, total_size_bytes, size_bytes, n_live_tup, n_tup_ins,
           n_tup_upd, n_tup_del
    FROM pgwarden.table_hourly
    WHERE target_id = %(target_id)s AND hour >= %(since)s
    UNION ALL
    SELECT relid, ts, total_size_bytes, size_bytes, n_live_tup, n_tup_ins,
           n_tup_upd, n_tup_del
    FROM pgwarden.table_current
    WHERE target_id = %(target_id)s AND ts >= %(since)s
) s
JOIN pgwarden.relation r
  ON r.target_id = %(target_id)s AND r.kind = 'table' AND r.relid = s.relid
WHERE s.total_size_bytes IS NOT NULL
GROUP BY s.relid, r.schema_name, r.rel_name, 4
ORDER BY s.relid, 4;

-- name: table_ends
-- The first and the last sample of every table (the two-point fallback).
SELECT DISTINCT ON (s.relid, v.last) s.relid, v.last, s.ts, s.total_size_bytes,
       s.n_live_tup
FROM (
    SELECT relid, hour AS ts, total_size_bytes, n_live_tup
    FROM pgwarden.table_hourly
    WHERE target_id = %(target_id)s AND hour >= %(since)s
    UNION ALL
    SELECT relid, ts, total_size_bytes, n_live_tup
    FROM pgwarden.table_current
    WHERE target_id = %(target_id)s AND ts >= %(since)s
) s
CROSS JOIN (VALUES (false), (true)) AS v(last)
WHERE s.total_size_bytes IS NOT NULL
ORDER BY s.relid, v.last, CASE WHEN v.last THEN s.ts END DESC NULLS LAST, s.ts;

-- name: rate_daily
-- Per UTC day: the highest per-interval statement rate and the statement time.
SELECT date_trunc('day', ts, 'UTC') AS day, max(ts) AS ts,
       max(calls / nullif(interval_s, 0))::float8 AS peak_qps,
       sum(calls)::bigint AS calls, sum(total_exec_ms)::float8 AS total_ms
FROM pgwarden.statement_total
WHERE target_id = %(target_id)s AND ts >= %(since)s
GROUP BY 1
ORDER BY 1;

-- name: peak_rate
-- The highest per-interval statement rate (one collection interval, 60 s by
-- default), and the mean statement time over the whole window.
SELECT (SELECT ts FROM pgwarden.statement_total
        WHERE target_id = %(target_id)s AND ts >= %(since)s AND interval_s > 0
        ORDER BY calls / interval_s DESC LIMIT 1) AS peak_ts,
       max(calls / nullif(interval_s, 0))::float8 AS peak_qps,
       (sum(total_exec_ms) / nullif(sum(calls), 0))::float8 AS mean_ms,
       sum(calls)::bigint AS calls, sum(interval_s)::float8 AS seconds
FROM pgwarden.statement_total
WHERE target_id = %(target_id)s AND ts >= %(since)s;

-- name: first_sample
SELECT min(ts) AS ts FROM pgwarden.collect_cycle WHERE target_id = %(target_id)s;

-- name: history_samples
-- How many database size samples the history holds (roll-ups count each of theirs).
SELECT coalesce(sum(n), 0)::bigint AS samples FROM (
    SELECT sum(samples) AS n FROM pgwarden.database_hourly
    WHERE target_id = %(target_id)s AND hour >= %(since)s AND size_bytes IS NOT NULL
    UNION ALL
    SELECT count(*) FROM pgwarden.database_current
    WHERE target_id = %(target_id)s AND ts >= %(since)s AND size_bytes IS NOT NULL
) s;

-- name: settings
-- The target's memory and connection settings, in bytes.
SELECT current_setting('max_connections')::bigint AS max_connections,
       current_setting('superuser_reserved_connections')::bigint
         AS reserved_connections,
       pg_size_bytes(current_setting('shared_buffers')) AS shared_buffers_bytes,
       pg_size_bytes(current_setting('work_mem')) AS work_mem_bytes,
       pg_size_bytes(current_setting('maintenance_work_mem'))
         AS maintenance_work_mem_bytes,
       pg_size_bytes(current_setting('effective_cache_size'))
         AS effective_cache_size_bytes,
       current_setting('block_size')::bigint AS block_size,
       pg_database_size(current_database()) AS database_bytes,
       (SELECT stats_reset FROM pg_stat_database
        WHERE datname = current_database()) AS stats_reset,
       EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_buffercache')
         AS has_buffercache;

-- name: storage
-- Heap, index and TOAST bytes of every user table, and its columns.
SELECT c.oid::bigint AS relid, n.nspname AS schema_name, c.relname AS rel_name,
       pg_relation_size(c.oid) AS heap_bytes,
       pg_indexes_size(c.oid) AS index_bytes,
       pg_total_relation_size(c.oid) AS total_bytes,
       greatest(c.reltuples, 0)::float8 AS reltuples,
       coalesce(s.n_live_tup, 0)::bigint AS n_live_tup,
       coalesce(s.n_tup_ins, 0)::bigint AS n_tup_ins,
       coalesce(s.n_tup_del, 0)::bigint AS n_tup_del,
       ARRAY(SELECT a.attname::text FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum) AS columns
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pgwarden(_|$)'
  AND n.nspname NOT LIKE 'pg_toast%%' AND n.nspname NOT LIKE 'pg_temp%%'
ORDER BY total_bytes DESC;

-- name: buffercache
-- The working set: shared buffers holding data, and those used more than once.
SELECT count(*) FILTER (WHERE relfilenode IS NOT NULL)::bigint AS used_buffers,
       count(*) FILTER (WHERE usagecount >= 2)::bigint AS hot_buffers,
       count(*)::bigint AS buffers
FROM {schema}.pg_buffercache;

-- name: buffercache_schema
SELECT n.nspname AS schema
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pg_buffercache';

-- name: creation_columns
-- The timestamp columns of the given tables, with their defaults: the candidates
-- for each row's creation time (pgwarden/plan/evidence.py picks one per table).
SELECT a.attrelid::bigint AS relid, a.attname::text AS column_name,
       a.atttypid = 'timestamptz'::regtype AS with_time_zone,
       pg_get_expr(d.adbin, d.adrelid) AS default_expr
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid::bigint = ANY(%(relids)s) AND a.attnum > 0 AND NOT a.attisdropped
  AND a.atttypid IN ('timestamp'::regtype, 'timestamptz'::regtype)
ORDER BY a.attrelid, a.attnum;

-- name: created_per_day
-- Rows per UTC day of one table's creation-time column (given as a UTC timestamp)
-- in a block sample of the table's pages (all of them for a small table); rows
-- older than the window are counted on the day before it, today's not at all.
-- The table and the column are filled in with psycopg.sql.Identifier.
SELECT greatest(({created})::date, %(before)s::date) AS day, count(*)::bigint AS n
FROM {table} TABLESAMPLE SYSTEM (%(pct)s) REPEATABLE (0)
WHERE {created} < %(until)s
GROUP BY 1
ORDER BY 1;
