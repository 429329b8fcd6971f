-- Index and query advisor: the target's tables, columns, statistics and statements.

-- name: tables
SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name,
    greatest(c.reltuples, 0)::float8 AS reltuples, c.relpages::bigint AS relpages,
    pg_relation_size(c.oid)::bigint AS size_bytes,
    coalesce(s.n_tup_ins + s.n_tup_upd + s.n_tup_del, 0)::bigint AS writes,
    coalesce(s.n_mod_since_analyze, 0)::bigint AS mod_since_analyze,
    greatest(s.last_analyze, s.last_autoanalyze) AS last_analyzed,
    coalesce(s.n_live_tup, 0)::bigint AS live_rows,
    array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid
          AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'p', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs', 'pg_toast')
  AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pgwarden_%'
ORDER BY n.nspname, c.relname;

-- name: column_stats
-- A partitioned table has only its whole tree's statistics (inherited).
SELECT s.schemaname AS schema, s.tablename AS table, s.attname AS column,
    s.null_frac::float8, s.avg_width, s.n_distinct::float8,
    s.most_common_vals::text::text[] AS mcv, s.most_common_freqs::float8[] AS mcf,
    s.correlation::float8
FROM pg_stats s
WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs')
  AND (NOT s.inherited OR EXISTS (
      SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = s.schemaname AND c.relname = s.tablename AND c.relkind = 'p'));

-- name: live_statements
SELECT queryid, query AS text, sum(calls)::bigint AS calls,
    sum(total_exec_time)::float8 AS total_ms, sum(rows)::bigint AS rows,
    sum(plans)::bigint AS plans, sum(total_plan_time)::float8 AS total_plan_ms,
    sum(shared_blks_hit)::bigint AS shared_blks_hit,
    sum(shared_blks_read)::bigint AS shared_blks_read,
    sum(temp_blks_written)::bigint AS temp_blks_written
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND toplevel AND queryid IS NOT NULL
GROUP BY queryid, query;

-- name: has_hypopg
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg') AS installed,
    EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg') AS available;

-- name: history_statements
SELECT s.queryid, t.query AS text, sum(s.calls)::bigint AS calls,
    sum(s.total_exec_ms)::float8 AS total_ms, sum(s.rows)::bigint AS rows,
    sum(s.plans)::bigint AS plans, sum(s.total_plan_ms)::float8 AS total_plan_ms,
    sum(s.shared_blks_hit)::bigint AS shared_blks_hit,
    sum(s.shared_blks_read)::bigint AS shared_blks_read,
    sum(s.temp_blks_written)::bigint AS temp_blks_written
FROM (
    SELECT dbid, userid, queryid, toplevel, calls, total_exec_ms, rows, plans,
        total_plan_ms, shared_blks_hit, shared_blks_read, temp_blks_written
    FROM pgwarden.statement_hourly
    WHERE target_id = %(target)s AND hour >= %(since)s AND hour < %(packed_until)s
    UNION ALL
    SELECT dbid, userid, queryid, toplevel, calls, total_exec_ms, rows, plans,
        total_plan_ms, shared_blks_hit, shared_blks_read, temp_blks_written
    FROM pgwarden.statement_current
    WHERE target_id = %(target)s AND ts >= greatest(%(since)s, %(packed_until)s)
      AND ts < %(until)s
) s
JOIN pgwarden.statement_text t ON t.target_id = %(target)s AND t.dbid = s.dbid
    AND t.userid = s.userid AND t.queryid = s.queryid AND t.toplevel = s.toplevel
WHERE (%(datname)s::text IS NULL OR t.datname = %(datname)s)
GROUP BY s.queryid, t.query;

-- name: packed_until
SELECT coalesce(max(hour) + interval '1 hour', %(since)s::timestamptz) AS until
FROM pgwarden.statement_hourly
WHERE target_id = %(target)s AND hour >= %(since)s;
