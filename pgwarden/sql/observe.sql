-- Reads of the repository for the dashboard, the CLI and /metrics (pgwarden/observe).
-- Raw samples are the packed *_history arrays plus the *_current rows of the hour
-- being collected; hourly roll-ups serve the long ranges. A packed sample's time is
-- hour + at_ms milliseconds; its float measures are real (cast to float8 to sum); a
-- measure zero in every sample of a packed row is an empty array, one with the same
-- value in every sample a one-element array (array_fill spells them out).

-- name: relations
SELECT kind, relid, schema_name, rel_name, table_relid
FROM pgwarden.relation
WHERE target_id = %(target_id)s;

-- name: first_cycle
SELECT min(ts) AS ts FROM pgwarden.collect_cycle WHERE target_id = %(target_id)s;

-- name: statement_totals
-- Per statement over [since, until): top-level statements of one database.
-- unnest() in the select list (ProjectSet) is much cheaper than a lateral unnest.
WITH raw AS (
    SELECT h.queryid, h.hour + unnest(h.at_ms) * interval '1 millisecond' AS ts,
           unnest(CASE WHEN cardinality(h.calls) < cardinality(h.at_ms)
                       THEN array_fill(coalesce(h.calls[1], 0), ARRAY[cardinality(h.at_ms)])
                       ELSE h.calls END) AS calls,
           unnest(CASE WHEN cardinality(h.total_exec_ms) < cardinality(h.at_ms)
                       THEN array_fill(coalesce(h.total_exec_ms[1], 0), ARRAY[cardinality(h.at_ms)])
                       ELSE h.total_exec_ms END)::float8 AS total_exec_ms,
           unnest(CASE WHEN cardinality(h.rows) < cardinality(h.at_ms)
                       THEN array_fill(coalesce(h.rows[1], 0), ARRAY[cardinality(h.at_ms)])
                       ELSE h.rows END) AS rows
    FROM pgwarden.statement_history h
    WHERE h.target_id = %(target_id)s AND h.toplevel AND h.dbid = %(dbid)s
      AND h.hour >= date_trunc('hour', %(since)s::timestamptz, 'UTC')
      AND h.hour < %(until)s
    UNION ALL
    SELECT c.queryid, c.ts, c.calls, c.total_exec_ms, c.rows
    FROM pgwarden.statement_current c
    WHERE c.target_id = %(target_id)s AND c.toplevel AND c.dbid = %(dbid)s
      AND c.ts >= %(since)s AND c.ts < %(until)s
)
SELECT queryid,
       sum(calls)::bigint AS calls,
       sum(total_exec_ms)::float8 AS total_ms,
       sum(rows)::bigint AS rows,
       max(total_exec_ms / nullif(calls, 0))::float8 AS max_interval_mean_ms
FROM raw
WHERE ts >= %(since)s AND ts < %(until)s
GROUP BY queryid;

-- name: statement_by_ts
-- Top-level statements of one database summed per interval: the collector's
-- per-cycle totals (statement_total; pgwarden's own statements added back when
-- %(own)s), and for intervals before the first total the packed arrays and current
-- rows without the statement ids excluded (the statements pgwarden sends itself).
WITH first AS (
    SELECT coalesce(min(ts), 'infinity') AS ts
    FROM pgwarden.statement_total
    WHERE target_id = %(target_id)s AND dbid = %(dbid)s
), raw AS (
    SELECT h.hour + unnest(h.at_ms) * interval '1 millisecond' AS ts,
           unnest(CASE WHEN cardinality(h.calls) < cardinality(h.at_ms)
                       THEN array_fill(coalesce(h.calls[1], 0), ARRAY[cardinality(h.at_ms)])
                       ELSE h.calls END) AS calls,
           unnest(CASE WHEN cardinality(h.total_exec_ms) < cardinality(h.at_ms)
                       THEN array_fill(coalesce(h.total_exec_ms[1], 0), ARRAY[cardinality(h.at_ms)])
                       ELSE h.total_exec_ms END)::float8 AS total_exec_ms
    FROM pgwarden.statement_history h
    WHERE h.target_id = %(target_id)s AND h.toplevel AND h.dbid = %(dbid)s
      AND h.hour >= date_trunc('hour', %(since)s::timestamptz, 'UTC')
      AND h.hour < %(until)s AND h.hour < (SELECT ts FROM first)
      AND h.queryid <> ALL(%(exclude)s::bigint[])
    UNION ALL
    SELECT c.ts, c.calls, c.total_exec_ms
    FROM pgwarden.statement_current c
    WHERE c.target_id = %(target_id)s AND c.toplevel AND c.dbid = %(dbid)s
      AND c.queryid <> ALL(%(exclude)s::bigint[])
      AND c.ts >= %(since)s AND c.ts < %(until)s AND c.ts < (SELECT ts FROM first)
)
SELECT ts, sum(calls)::bigint AS calls, sum(total_exec_ms)::float8 AS total_ms
FROM raw
WHERE ts >= %(since)s AND ts < %(until)s AND ts < (SELECT ts FROM first)
GROUP BY ts
UNION ALL
SELECT ts, calls + CASE WHEN %(own)s THEN own_calls ELSE 0 END AS calls,
       total_exec_ms + CASE WHEN %(own)s THEN own_exec_ms ELSE 0 END AS total_ms
FROM pgwarden.statement_total
WHERE target_id = %(target_id)s AND dbid = %(dbid)s
  AND ts >= %(since)s AND ts < %(until)s
ORDER BY ts;

-- name: statement_by_hour
SELECT hour AS ts, sum(calls)::bigint AS calls, sum(total_exec_ms)::float8 AS total_ms
FROM pgwarden.statement_hourly
WHERE target_id = %(target_id)s AND toplevel AND dbid = %(dbid)s
  AND hour >= %(since)s AND hour < %(until)s
  AND queryid <> ALL(%(exclude)s::bigint[])
GROUP BY hour
ORDER BY hour;

-- name: index_totals
-- Scans per index since %(since)s: finished hours plus the hour being collected.
SELECT relid, sum(idx_scan)::bigint AS scans, sum(idx_tup_read)::bigint AS tup_read,
       sum(idx_tup_fetch)::bigint AS tup_fetch
FROM (
    SELECT relid, idx_scan, idx_tup_read, idx_tup_fetch
    FROM pgwarden.index_hourly
    WHERE target_id = %(target_id)s AND hour >= %(since)s
    UNION ALL
    SELECT relid, idx_scan, idx_tup_read, idx_tup_fetch
    FROM pgwarden.index_current
    WHERE target_id = %(target_id)s AND ts >= %(since)s
) s
GROUP BY relid;

-- name: table_first_size
-- The earliest total size of each table at or after %(since)s (raw samples): only
-- the first two packed hours of each table are read (one index scan per table).
SELECT DISTINCT ON (relid) relid, ts, total_size_bytes
FROM (
    SELECT r.relid, f.hour + u.at_ms * interval '1 millisecond' AS ts,
           u.total_size_bytes
    FROM pgwarden.relation r
    CROSS JOIN LATERAL (
        SELECT h.hour, h.at_ms,
               CASE WHEN cardinality(h.total_size_bytes) < cardinality(h.at_ms)
                       THEN array_fill(coalesce(h.total_size_bytes[1], 0), ARRAY[cardinality(h.at_ms)])
                       ELSE h.total_size_bytes END AS total_size_bytes
        FROM pgwarden.table_history h
        WHERE h.target_id = r.target_id AND h.relid = r.relid
          AND h.hour >= date_trunc('hour', %(since)s::timestamptz, 'UTC')
        ORDER BY h.hour
        LIMIT 2
    ) f
    CROSS JOIN LATERAL unnest(f.at_ms, f.total_size_bytes) AS u(at_ms, total_size_bytes)
    WHERE r.target_id = %(target_id)s AND r.kind = 'table'
    UNION ALL
    SELECT relid, ts, total_size_bytes
    FROM pgwarden.table_current
    WHERE target_id = %(target_id)s
) s
WHERE ts >= %(since)s AND total_size_bytes IS NOT NULL
ORDER BY relid, ts;

-- name: table_size_by_ts
SELECT ts, sum(total_size_bytes)::bigint AS total_size_bytes
FROM (
    SELECT h.hour + u.at_ms * interval '1 millisecond' AS ts, u.total_size_bytes
    FROM pgwarden.table_history h,
         unnest(h.at_ms, CASE WHEN cardinality(h.total_size_bytes) < cardinality(h.at_ms)
                       THEN array_fill(coalesce(h.total_size_bytes[1], 0), ARRAY[cardinality(h.at_ms)])
                       ELSE h.total_size_bytes END)
           AS u(at_ms, total_size_bytes)
    WHERE h.target_id = %(target_id)s
      AND h.hour >= date_trunc('hour', %(since)s::timestamptz, 'UTC')
      AND h.hour < %(until)s
    UNION ALL
    SELECT ts, total_size_bytes
    FROM pgwarden.table_current
    WHERE target_id = %(target_id)s
) s
WHERE ts >= %(since)s AND ts < %(until)s
GROUP BY ts
ORDER BY ts;

-- name: table_size_by_hour
SELECT hour AS ts, sum(total_size_bytes)::bigint AS total_size_bytes
FROM pgwarden.table_hourly
WHERE target_id = %(target_id)s AND hour >= %(since)s AND hour < %(until)s
GROUP BY hour
ORDER BY hour;

-- name: slow_by_query
-- The longest recorded execution and the most frequent caller of each statement.
SELECT queryid, max(duration_ms)::float8 AS max_ms,
       mode() WITHIN GROUP (ORDER BY caller) AS caller
FROM pgwarden.slow_query_log
WHERE target_id = %(target_id)s AND ts >= %(since)s AND queryid IS NOT NULL
GROUP BY queryid;

-- name: slow_of_query
SELECT ts, duration_ms, severity, source, caller
FROM pgwarden.slow_query_log
WHERE target_id = %(target_id)s AND queryid = %(queryid)s
  AND ts >= %(since)s AND ts < %(until)s
ORDER BY ts DESC
LIMIT 50;

-- name: live_database
-- The target read directly, when no history has been collected yet.
SELECT d.oid::bigint AS datid, s.blks_hit, s.blks_read, s.xact_commit, s.xact_rollback
FROM pg_stat_database s JOIN pg_database d ON d.oid = s.datid
WHERE d.datname = current_database();

-- name: live_activity
SELECT count(*) AS connections,
       count(*) FILTER (WHERE state = 'active') AS conn_active,
       count(*) FILTER (WHERE state = 'idle') AS conn_idle,
       count(*) FILTER (WHERE state LIKE 'idle in transaction%%') AS conn_idle_in_xact,
       count(*) FILTER (WHERE wait_event_type = 'Lock') AS conn_waiting_lock,
       current_setting('max_connections')::bigint AS max_connections,
       current_setting('superuser_reserved_connections')::bigint
         AS reserved_connections
FROM pg_stat_activity
WHERE backend_type = 'client backend';

-- name: interval_total
-- The collector's totals of one interval (top-level statements of one database).
SELECT calls, total_exec_ms, own_calls, own_exec_ms
FROM pgwarden.statement_total
WHERE target_id = %(target_id)s AND dbid = %(dbid)s AND ts = %(ts)s;

-- name: statement_window
-- The collector's sums per statement of the window ending with the cycle at %(ts)s
-- (top-level statements of one database); no rows if it was not written for %(ts)s.
SELECT queryid, calls, total_ms, rows, max_interval_mean_ms
FROM pgwarden.statement_window
WHERE target_id = %(target_id)s AND dbid = %(dbid)s AND ts = %(ts)s;

-- name: index_hours
-- Scans per index in the rolled-up hours [%(since)s, %(until)s).
SELECT relid, sum(idx_scan)::bigint AS scans, sum(idx_tup_read)::bigint AS tup_read,
       sum(idx_tup_fetch)::bigint AS tup_fetch
FROM pgwarden.index_hourly
WHERE target_id = %(target_id)s AND hour >= %(since)s AND hour < %(until)s
GROUP BY relid;

-- name: index_recent
-- Scans per index since %(since)s in the hours from %(after)s on: roll-ups and the
-- hour being collected.
SELECT relid, sum(idx_scan)::bigint AS scans, sum(idx_tup_read)::bigint AS tup_read,
       sum(idx_tup_fetch)::bigint AS tup_fetch
FROM (
    SELECT relid, idx_scan, idx_tup_read, idx_tup_fetch
    FROM pgwarden.index_hourly
    WHERE target_id = %(target_id)s AND hour >= %(since)s AND hour >= %(after)s
    UNION ALL
    SELECT relid, idx_scan, idx_tup_read, idx_tup_fetch
    FROM pgwarden.index_current
    WHERE target_id = %(target_id)s AND ts >= %(since)s
) s
GROUP BY relid;

-- name: texts
-- A statement's top-level text first: a nested one may be pgwarden's EXPLAIN of it.
SELECT queryid, query FROM pgwarden.statement_text
WHERE target_id = %(target_id)s
ORDER BY queryid, toplevel DESC;
