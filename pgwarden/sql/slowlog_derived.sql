-- Slow queries derived from pg_stat_statements deltas (pgwarden/slowlog/derived.py).

-- name: interval_statements
-- The interval's top-level statements of the target's database whose time could
-- reach the threshold, with their texts (repository).
SELECT s.dbid, s.userid, s.queryid, s.calls, s.total_exec_ms, s.total_plan_ms,
       x.datname, x.rolname, x.query
FROM pgwarden.statement_current s
JOIN pgwarden.target t ON t.id = s.target_id
LEFT JOIN pgwarden.statement_text x
       ON x.target_id = s.target_id AND x.dbid = s.dbid AND x.userid = s.userid
      AND x.queryid = s.queryid AND x.toplevel = s.toplevel
WHERE s.target_id = %(target_id)s AND s.ts = %(ts)s AND s.toplevel
  AND s.calls > 0
  AND coalesce(s.total_exec_ms, 0) + coalesce(s.total_plan_ms, 0) >= %(min_ms)s
  AND (t.database_oid IS NULL OR s.dbid = t.database_oid)
ORDER BY s.queryid, s.userid
LIMIT %(limit)s;

-- name: sightings
-- Executions the other sources recorded as ending in the interval (repository).
SELECT queryid, fingerprint, database, duration_ms, source
FROM pgwarden.slow_query_log
WHERE target_id = %(target_id)s AND ts > %(prev_ts)s AND ts <= %(ts)s
  AND source <> 'statements';

-- name: forget
-- A cycle's derived rows, replaced when the same cycle is derived again.
DELETE FROM pgwarden.slow_query_log
WHERE target_id = %(target_id)s AND ts = %(ts)s AND source = 'statements';

-- name: insert
INSERT INTO pgwarden.slow_query_log (
    target_id, ts, started_at, database, username, query, queryid, fingerprint,
    duration_ms, severity, caller, source, exactness, executions
) VALUES (
    %(target_id)s, %(ts)s, %(started_at)s, %(database)s, %(username)s, %(query)s,
    %(queryid)s, %(fingerprint)s, %(duration_ms)s, %(severity)s, %(caller)s,
    'statements', %(exactness)s, %(executions)s
);

-- name: maxima
-- The slowest call of each top-level statement of this database since its min/max
-- were last reset (target, PostgreSQL 17+).
SELECT userid::bigint AS userid, queryid, max_exec_time AS max_exec_ms,
       minmax_stats_since
FROM {pgss}.pg_stat_statements(false)
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND toplevel AND queryid IS NOT NULL;

-- name: reset_minmax
-- Reset only min/max of this database's statements (the counters are untouched).
SELECT {pgss}.pg_stat_statements_reset(
    0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0, true
);

-- name: may_reset_minmax
SELECT has_function_privilege(%s, 'EXECUTE') AS allowed;
