-- Post-launch reviews: reads of the history and the launch_review store (pgwarden/ops/review*).

-- name: cycles
-- Successful collection cycles of the period, with the last one before it and the
-- first one after it (so the edges of the period are judged too).
SELECT ts FROM pgwarden.collect_cycle
WHERE target_id = %(target)s
  AND ts >= coalesce((SELECT max(ts) FROM pgwarden.collect_cycle
                      WHERE target_id = %(target)s AND ts < %(start)s), %(start)s)
  AND ts <= coalesce((SELECT min(ts) FROM pgwarden.collect_cycle
                      WHERE target_id = %(target)s AND ts >= %(end)s), %(end)s)
ORDER BY ts;

-- name: first_cycle
-- When pgwarden first collected the target: time before it is not judged.
SELECT min(ts) AS ts FROM pgwarden.collect_cycle WHERE target_id = %(target)s;

-- name: restarts
SELECT from_ts, to_ts FROM pgwarden.collect_gap
WHERE target_id = %(target)s AND part = 'server' AND from_ts IS NOT NULL
  AND reason LIKE 'server restarted%%'
  AND to_ts > %(start)s AND from_ts < %(end)s
ORDER BY to_ts;

-- name: texts
SELECT DISTINCT queryid, query FROM pgwarden.statement_text
WHERE target_id = %(target)s AND toplevel;

-- name: statement_bins
-- Calls and time of each top-level statement over [start, end), grouped by the
-- natural log of the interval mean in bands %(width)s wide: raw intervals from the
-- packed arrays and current rows, hourly roll-ups for the hours no longer kept raw.
WITH raw AS (
    SELECT h.queryid, h.hour + unnest(h.at_ms) * interval '1 millisecond' AS ts,
           unnest(CASE WHEN cardinality(h.calls) < cardinality(h.at_ms)
                       THEN array_fill(coalesce(h.calls[1], 0), ARRAY[cardinality(h.at_ms)])
                       ELSE h.calls END) AS calls,
           unnest(CASE WHEN cardinality(h.total_exec_ms) < cardinality(h.at_ms)
                       THEN array_fill(coalesce(h.total_exec_ms[1], 0), ARRAY[cardinality(h.at_ms)])
                       ELSE h.total_exec_ms END)::float8 AS total_ms
    FROM pgwarden.statement_history h
    WHERE h.target_id = %(target)s AND h.toplevel
      AND h.hour >= date_trunc('hour', %(start)s::timestamptz, 'UTC')
      AND h.hour < %(end)s
      AND h.queryid <> ALL(%(exclude)s::bigint[])
    UNION ALL
    SELECT c.queryid, c.ts, c.calls, c.total_exec_ms
    FROM pgwarden.statement_current c
    WHERE c.target_id = %(target)s AND c.toplevel
      AND c.ts >= %(start)s AND c.ts < %(end)s
      AND c.queryid <> ALL(%(exclude)s::bigint[])
    UNION ALL
    SELECT s.queryid, s.hour, s.calls, s.total_exec_ms
    FROM pgwarden.statement_hourly s
    WHERE s.target_id = %(target)s AND s.toplevel
      AND s.hour >= %(start)s AND s.hour < %(end)s
      AND s.queryid <> ALL(%(exclude)s::bigint[])
      AND NOT EXISTS (
          SELECT 1 FROM pgwarden.statement_history h
          WHERE h.target_id = s.target_id AND h.hour = s.hour AND h.dbid = s.dbid
            AND h.userid = s.userid AND h.queryid = s.queryid AND h.toplevel)
)
SELECT queryid, sum(calls)::bigint AS calls, sum(total_ms)::float8 AS total_ms
FROM raw
WHERE ts >= %(start)s AND ts < %(end)s AND calls > 0 AND total_ms IS NOT NULL
GROUP BY queryid, floor(ln(greatest(total_ms / calls, 1e-6)) / %(width)s)
ORDER BY queryid;

-- name: spread
-- The stddev/mean ratio of each top-level statement of the current database.
SELECT queryid, stddev_exec_time / mean_exec_time AS cv
FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND toplevel AND calls >= 2 AND mean_exec_time > 0 AND queryid IS NOT NULL;

-- name: database_sums
SELECT sum(blks_hit)::bigint AS blks_hit, sum(blks_read)::bigint AS blks_read,
       sum(xact_commit)::bigint AS xact_commit,
       sum(xact_rollback)::bigint AS xact_rollback,
       sum(deadlocks)::bigint AS deadlocks, sum(temp_files)::bigint AS temp_files
FROM (
    SELECT blks_hit, blks_read, xact_commit, xact_rollback, deadlocks, temp_files
    FROM pgwarden.database_hourly
    WHERE target_id = %(target)s AND hour >= %(start)s AND hour < %(end)s
    UNION ALL
    SELECT blks_hit, blks_read, xact_commit, xact_rollback, deadlocks, temp_files
    FROM pgwarden.database_current
    WHERE target_id = %(target)s AND ts >= %(start)s AND ts < %(end)s
) d;

-- name: slow_counts
-- Slow executions logged in the period, pgwarden's own sessions left out.
SELECT coalesce(sum(executions) FILTER (WHERE duration_ms >= %(slo_ms)s), 0)::bigint
           AS over_slo,
       coalesce(sum(executions) FILTER (WHERE duration_ms >= %(log_ms)s), 0)::bigint
           AS over_log
FROM pgwarden.slow_query_log
WHERE target_id = %(target)s AND ts >= %(start)s AND ts < %(end)s
  AND coalesce(application_name, '') NOT LIKE 'pgwarden%%';

-- name: maintenance_runs
SELECT operation, status, trigger, schema_name, table_name, index_name, started_at,
       error
FROM pgwarden.maintenance_runs
WHERE target_id = %(target)s AND started_at >= %(start)s AND started_at < %(end)s
ORDER BY started_at;

-- name: alerts
SELECT id, rule, severity, state, fired_at, acked_at, resolved_at
FROM pgwarden.alert
WHERE target_id = %(target)s AND fired_at >= %(start)s AND fired_at < %(end)s
ORDER BY fired_at;

-- name: get_launch
SELECT launch_date, timezone, source, recorded_by, recorded_at
FROM pgwarden.launch WHERE target_id = %(target)s;

-- name: set_launch
INSERT INTO pgwarden.launch (target_id, launch_date, timezone, source, recorded_by)
VALUES (%(target)s, %(launch_date)s, %(timezone)s, %(source)s, %(by)s)
ON CONFLICT (target_id) DO UPDATE
SET launch_date = excluded.launch_date, timezone = excluded.timezone,
    source = excluded.source, recorded_by = excluded.recorded_by,
    recorded_at = now()
RETURNING launch_date, timezone, source, recorded_by, recorded_at;

-- name: generated
SELECT id, kind, period_start, period_end, generated_at
FROM pgwarden.launch_review WHERE target_id = %(target)s;

-- name: save_review
-- A review; generating the same period again replaces its content but keeps when
-- it was first generated (what counts for on time).
INSERT INTO pgwarden.launch_review (target_id, kind, seq, period_start, period_end,
    due_at, generated_at, trigger, summary, metrics, markdown)
VALUES (%(target)s, %(kind)s, %(seq)s, %(start)s, %(end)s, %(due_at)s,
        %(generated_at)s, %(trigger)s, %(summary)s, %(metrics)s, %(markdown)s)
ON CONFLICT (target_id, kind, period_start, period_end) DO UPDATE
SET regenerated_at = excluded.generated_at, summary = excluded.summary,
    metrics = excluded.metrics, markdown = excluded.markdown
RETURNING id, generated_at, regenerated_at;

-- name: previous_review
SELECT metrics FROM pgwarden.launch_review
WHERE target_id = %(target)s AND period_end <= %(start)s
ORDER BY period_end DESC, id DESC LIMIT 1;

-- name: list_reviews
SELECT r.id, t.name AS target, r.kind, r.seq, r.period_start, r.period_end,
       r.due_at, r.generated_at, r.trigger, r.summary
FROM pgwarden.launch_review r JOIN pgwarden.target t ON t.id = r.target_id
ORDER BY r.period_start DESC, r.id DESC LIMIT %(limit)s;

-- name: get_review
SELECT r.id, t.name AS target, r.kind, r.seq, r.period_start, r.period_end,
       r.due_at, r.generated_at, r.regenerated_at, r.trigger, r.summary, r.metrics,
       r.markdown
FROM pgwarden.launch_review r JOIN pgwarden.target t ON t.id = r.target_id
WHERE r.id = %(id)s;
