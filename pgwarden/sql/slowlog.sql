-- Queries of the slow query log (pgwarden/slowlog).

-- name: ensure_target
INSERT INTO pgwarden.target (name) VALUES (%s)
ON CONFLICT (name) DO UPDATE SET last_seen = now()
RETURNING id;

-- name: lock_target
SELECT pg_advisory_xact_lock(hashtext('pgwarden.slow_query_log'), %s::int);

-- name: partitions
SELECT c.relname AS name
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'pgwarden.slow_query_log'::regclass
ORDER BY 1;

-- name: find_running
SELECT id, ts, started_at, duration_ms, source, caller, application_name, plan,
       queryid, username, pid, backend_start
FROM pgwarden.slow_query_log
WHERE target_id = %(target_id)s AND fingerprint = %(fingerprint)s
  AND source = 'activity' AND started_at = %(started_at)s
  AND pid = %(pid)s AND backend_start IS NOT DISTINCT FROM %(backend_start)s
LIMIT 1
FOR UPDATE;

-- name: find_same_execution
SELECT id, ts, started_at, duration_ms, source, caller, application_name, plan,
       queryid, username, pid, backend_start
FROM pgwarden.slow_query_log
WHERE target_id = %(target_id)s AND fingerprint = %(fingerprint)s
  AND database IS NOT DISTINCT FROM %(database)s
  AND source <> %(source)s AND source <> 'statements'
  AND started_at BETWEEN %(started_at)s - %(tolerance)s
                     AND %(started_at)s + %(tolerance)s
  AND (pid IS NULL OR %(pid)s::int IS NULL OR pid = %(pid)s::int)
ORDER BY abs(extract(epoch FROM started_at - %(started_at)s))
LIMIT 1
FOR UPDATE;

-- name: insert
INSERT INTO pgwarden.slow_query_log (
    target_id, ts, started_at, database, username, query, queryid, fingerprint,
    duration_ms, severity, caller, application_name, source, plan, pid, backend_start
) VALUES (
    %(target_id)s, %(ts)s, %(started_at)s, %(database)s, %(username)s, %(query)s,
    %(queryid)s, %(fingerprint)s, %(duration_ms)s, %(severity)s, %(caller)s,
    %(application_name)s, %(source)s, %(plan)s, %(pid)s, %(backend_start)s
);

-- name: update
UPDATE pgwarden.slow_query_log
SET ts = %(ts)s, started_at = %(started_at)s, duration_ms = %(duration_ms)s,
    severity = %(severity)s, source = %(source)s, caller = %(caller)s,
    application_name = %(application_name)s, plan = %(plan)s,
    queryid = %(queryid)s, username = %(username)s, pid = %(pid)s,
    backend_start = %(backend_start)s
WHERE id = %(id)s AND ts = %(old_ts)s;

-- name: file_state
SELECT read_bytes, head_digest
FROM pgwarden.slow_log_file
WHERE target_id = %s AND path = %s AND inode = %s;

-- name: save_file_state
INSERT INTO pgwarden.slow_log_file (target_id, path, inode, read_bytes, head_digest)
VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (target_id, path, inode) DO UPDATE
SET read_bytes = EXCLUDED.read_bytes, head_digest = EXCLUDED.head_digest,
    updated_at = now();

-- name: recent
SELECT s.ts, t.name AS target, s.database, s.username, s.severity, s.duration_ms,
       s.source, s.caller, s.application_name, s.queryid, s.fingerprint, s.query,
       s.plan, s.exactness, s.executions
FROM pgwarden.slow_query_log s
JOIN pgwarden.target t ON t.id = s.target_id
WHERE s.ts >= %(since)s AND s.duration_ms >= %(min_ms)s
  AND (%(target_id)s::bigint IS NULL OR s.target_id = %(target_id)s::bigint)
ORDER BY s.ts DESC
LIMIT %(limit)s;

-- name: per_minute
-- A derived 'mean' row (source statements) stands for its executions.
SELECT date_trunc('minute', ts) AS minute, severity, sum(executions)::bigint AS count
FROM pgwarden.slow_query_log
WHERE target_id = %s AND ts >= %s
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: active_statements
-- Statements of client backends running longer than the threshold (target server).
SELECT pid, backend_start, query_start, clock_timestamp() AS sampled_at,
       datname, usename, application_name, query, query_id
FROM pg_stat_activity
WHERE state = 'active'
  AND backend_type = 'client backend'
  AND pid <> pg_backend_pid()
  AND application_name IS DISTINCT FROM %(own_application)s
  AND query_start < clock_timestamp() - make_interval(secs => %(threshold_ms)s / 1000.0);

-- name: log_settings
-- superuser-only settings (data_directory, log_directory) are absent for a role
-- without pg_read_all_settings
SELECT name, setting
FROM pg_settings
WHERE name IN ('data_directory', 'log_directory', 'log_destination',
               'logging_collector', 'port');

-- name: log_functions
SELECT current_user AS role,
       has_function_privilege('pg_catalog.pg_ls_logdir()', 'EXECUTE') AS can_list,
       has_function_privilege(
           'pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)', 'EXECUTE'
       ) AS can_read;

-- name: ls_logdir
SELECT name, size, modification
FROM pg_catalog.pg_ls_logdir()
WHERE right(name, 5) = '.json' OR right(name, 4) = '.csv'
ORDER BY modification, name;

-- name: read_log_file
SELECT pg_catalog.pg_read_binary_file(%s, %s, %s, true) AS data;
