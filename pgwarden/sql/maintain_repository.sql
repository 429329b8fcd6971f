-- The maintenance history in the repository schema (pgwarden/maintain).

-- name: target_id
SELECT id FROM pgwarden.target WHERE name = %s;

-- name: add_target
INSERT INTO pgwarden.target (name) VALUES (%s)
ON CONFLICT (name) DO UPDATE SET last_seen = pgwarden.target.last_seen
RETURNING id;

-- name: insert_run
INSERT INTO pgwarden.maintenance_runs (
    target_id, schema_name, table_name, table_oid, index_name, operation, trigger,
    status, reason, error, started_at, finished_at, duration_ms, attempts,
    live_rows_before, dead_rows_before, size_before, backend_pid, worker,
    heartbeat_at)
VALUES (%(target_id)s, %(schema_name)s, %(table_name)s, %(table_oid)s,
        %(index_name)s, %(operation)s, %(trigger)s, %(status)s, %(reason)s,
        %(error)s, %(started_at)s, %(finished_at)s, %(duration_ms)s, %(attempts)s,
        %(live_rows_before)s, %(dead_rows_before)s, %(size_before)s,
        %(backend_pid)s, %(worker)s, %(started_at)s)
RETURNING id;

-- name: finish_run
UPDATE pgwarden.maintenance_runs
SET status = %(status)s, reason = %(reason)s, error = %(error)s,
    finished_at = %(finished_at)s, duration_ms = %(duration_ms)s,
    attempts = %(attempts)s, live_rows_after = %(live_rows_after)s,
    dead_rows_after = %(dead_rows_after)s, size_after = %(size_after)s
WHERE id = %(id)s AND status = 'running';

-- name: heartbeat
UPDATE pgwarden.maintenance_runs SET heartbeat_at = now()
WHERE id = %s AND status = 'running';

-- name: running
SELECT * FROM pgwarden.maintenance_runs
WHERE target_id = %s AND status = 'running'
ORDER BY started_at;

-- name: mark_failed
UPDATE pgwarden.maintenance_runs
SET status = 'failed', reason = %(reason)s, finished_at = now(),
    duration_ms = extract(epoch FROM now() - started_at) * 1000
WHERE id = %(id)s AND status = 'running';

-- name: last_ok
SELECT schema_name, table_name, coalesce(index_name, '') AS index_name, operation,
       max(finished_at) AS finished_at
FROM pgwarden.maintenance_runs
WHERE target_id = %s AND status = 'ok'
GROUP BY 1, 2, 3, 4;

-- name: history
SELECT * FROM pgwarden.maintenance_runs
WHERE target_id = %s AND started_at >= %s
ORDER BY started_at, id;
