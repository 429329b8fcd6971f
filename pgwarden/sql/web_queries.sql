-- The dashboard's Queries page: statements over a range, one statement's plans.

-- name: statement_range
-- Per statement over [since, until): top-level statements of one database with
-- their shared blocks. Whole hours from the roll-ups; the partial first hour from
-- its packed samples; the hours not packed yet from the current samples.
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
                       ELSE h.rows END) AS rows,
           unnest(CASE WHEN cardinality(h.shared_blks_hit) < cardinality(h.at_ms)
                       THEN array_fill(coalesce(h.shared_blks_hit[1], 0), ARRAY[cardinality(h.at_ms)])
                       ELSE h.shared_blks_hit END) AS blks_hit,
           unnest(CASE WHEN cardinality(h.shared_blks_read) < cardinality(h.at_ms)
                       THEN array_fill(coalesce(h.shared_blks_read[1], 0), ARRAY[cardinality(h.at_ms)])
                       ELSE h.shared_blks_read END) AS blks_read
    FROM pgwarden.statement_history h
    WHERE h.target_id = %(target_id)s AND h.toplevel AND h.dbid = %(dbid)s
      AND h.hour = date_trunc('hour', %(since)s::timestamptz, 'UTC')
), parts AS (
    SELECT queryid, calls, total_exec_ms, rows, blks_hit, blks_read
    FROM raw
    WHERE ts >= %(since)s AND ts < %(until)s
    UNION ALL
    SELECT queryid, calls, total_exec_ms, rows, shared_blks_hit, shared_blks_read
    FROM pgwarden.statement_hourly
    WHERE target_id = %(target_id)s AND toplevel AND dbid = %(dbid)s
      AND hour > date_trunc('hour', %(since)s::timestamptz, 'UTC') AND hour < %(until)s
    UNION ALL
    SELECT queryid, calls, total_exec_ms, rows, shared_blks_hit, shared_blks_read
    FROM pgwarden.statement_current
    WHERE target_id = %(target_id)s AND toplevel AND dbid = %(dbid)s
      AND ts >= %(since)s AND ts < %(until)s
)
SELECT queryid,
       sum(calls)::bigint AS calls,
       sum(total_exec_ms)::float8 AS total_ms,
       sum(rows)::bigint AS rows,
       sum(blks_hit)::bigint AS blks_hit,
       sum(blks_read)::bigint AS blks_read,
       max(total_exec_ms / nullif(calls, 0))::float8 AS max_interval_mean_ms
FROM parts
GROUP BY queryid;

-- name: logged_plans
-- The auto_explain plans the slow query log keeps for one statement, newest first.
SELECT ts, duration_ms, caller, source, plan
FROM pgwarden.slow_query_log
WHERE target_id = %(target_id)s AND queryid = %(queryid)s AND plan IS NOT NULL
  AND ts >= %(since)s AND ts < %(until)s
ORDER BY ts DESC
LIMIT %(limit)s;

-- name: observed_values
-- The most frequent observed value of each column a statement compared.
SELECT DISTINCT ON (relname, attname) relname, attname, value
FROM (
    SELECT relname, attname, value, sum(calls) AS calls
    FROM pgwarden.parameter_value
    WHERE target_id = %(target_id)s AND queryid = %(queryid)s
    GROUP BY relname, attname, value
) v
ORDER BY relname, attname, calls DESC, value;

-- name: spread
-- The stddev/mean ratio of one top-level statement of the current database.
SELECT stddev_exec_time / mean_exec_time AS cv
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND toplevel AND queryid = %(queryid)s AND calls >= 2 AND mean_exec_time > 0
ORDER BY calls DESC
LIMIT 1;
