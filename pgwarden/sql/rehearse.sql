-- Release rehearsal: pre-flight reads of the target, measures on the clone, and the
-- rehearsal record in the repository.

-- name: sessions
-- Client sessions of the server other than this one, with their ages in seconds.
SELECT pid, datname, usename, application_name, state,
       coalesce(extract(epoch FROM clock_timestamp() - xact_start), 0)::float8
         AS xact_s,
       coalesce(extract(epoch FROM clock_timestamp() - query_start), 0)::float8
         AS query_s,
       coalesce(extract(epoch FROM clock_timestamp() - state_change), 0)::float8
         AS state_s,
       coalesce(blocking, '{}') AS blocking_pids,
       left(query, 120) AS query
FROM pg_stat_activity
CROSS JOIN LATERAL pg_blocking_pids(pid) AS blocking
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid();

-- name: invalid_indexes
SELECT format('%I.%I', n.nspname, c.relname) AS index_name,
       format('%I.%I', n.nspname, t.relname) AS table_name
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_class t ON t.oid = i.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT i.indisvalid
ORDER BY 1;

-- name: database
SELECT current_database() AS datname,
       pg_database_size(current_database())::bigint AS bytes,
       pg_is_in_recovery() AS standby;

-- name: statements_extension
SELECT extversion,
       current_setting('pg_stat_statements.track', true) AS track
FROM pg_extension WHERE extname = 'pg_stat_statements';

-- name: statements_count
SELECT count(*)::bigint AS statements FROM pg_stat_statements;

-- name: has_repository
SELECT to_regclass('pgwarden.schema_version') IS NOT NULL AS present,
       to_regclass('pgwarden.change_request') IS NOT NULL AS board,
       to_regclass('pgwarden.rehearsal') IS NOT NULL AS rehearsal;

-- name: active_alerts
SELECT a.rule, a.severity, a.state, a.summary
FROM pgwarden.alert a
JOIN pgwarden.target t ON t.id = a.target_id
WHERE t.name = %(target)s AND a.state IN ('firing', 'acknowledged')
ORDER BY a.fired_at;

-- name: target_known
SELECT id FROM pgwarden.target WHERE name = %(target)s;

-- name: change_request
SELECT id, title, status FROM pgwarden.change_request WHERE id = %(id)s;

-- name: other_sessions
SELECT count(*)::int AS sessions
FROM pg_stat_activity
WHERE datname = %(datname)s AND pid <> pg_backend_pid();

-- name: database_exists
SELECT 1 AS present FROM pg_database WHERE datname = %(datname)s;

-- name: identity
-- What the connected database is, whatever the DSN says: its oid, name and comment
-- (the rehearsal marker lives in the comment).
SELECT d.oid::bigint AS oid, d.datname,
       pg_catalog.shobj_description(d.oid, 'pg_database') AS comment
FROM pg_catalog.pg_database d
WHERE d.datname = pg_catalog.current_database();

-- name: system_identifier
-- The server's identity; a copy of its data directory (a standby, a restored base
-- backup) shares it.
SELECT system_identifier::text AS system_identifier
FROM pg_catalog.pg_control_system();

-- name: database_oid
-- A clone by name, before pgwarden drops it: still the one it created?
SELECT d.oid::bigint AS oid FROM pg_catalog.pg_database d WHERE d.datname = %(datname)s;

-- name: relations
-- Tables, materialised views and indexes of the clone: a changed relfilenode after
-- a step means the step rewrote the relation.
SELECT c.oid::bigint AS oid, c.relfilenode::bigint AS relfilenode, c.relkind::text,
       format('%I.%I', n.nspname, c.relname) AS name,
       pg_relation_size(c.oid)::bigint AS bytes,
       CASE WHEN c.relkind IN ('r', 'm') THEN pg_total_relation_size(c.oid) END::bigint
         AS total_bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm', 'i')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp)';

-- name: locks
-- Relation locks held or awaited by the given backends in this database.
SELECT l.pid, l.mode, l.granted, l.relation::bigint AS oid,
       CASE WHEN c.oid IS NULL THEN l.relation::text
            ELSE format('%%I.%%I', n.nspname, c.relname) END AS name,
       c.relkind::text AS relkind
FROM pg_locks l
LEFT JOIN pg_class c ON c.oid = l.relation
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.locktype = 'relation'
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.pid = ANY(%(pids)s)
  AND coalesce(n.nspname, '') NOT IN ('pg_catalog', 'information_schema')
  AND coalesce(n.nspname, '') !~ '^pg_toast';

-- name: locks_except
-- Relation locks of every other backend in this database except the given ones.
SELECT l.pid, l.mode, l.granted, l.relation::bigint AS oid,
       CASE WHEN c.oid IS NULL THEN l.relation::text
            ELSE format('%%I.%%I', n.nspname, c.relname) END AS name,
       c.relkind::text AS relkind
FROM pg_locks l
LEFT JOIN pg_class c ON c.oid = l.relation
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE l.locktype = 'relation'
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.pid <> pg_backend_pid() AND NOT l.pid = ANY(%(pids)s)
  AND coalesce(n.nspname, '') NOT IN ('pg_catalog', 'information_schema')
  AND coalesce(n.nspname, '') !~ '^pg_toast';

-- name: backends
SELECT coalesce(array_agg(pid), '{}') AS pids FROM pg_stat_activity
WHERE datname = current_database();

-- name: wal_lsn
SELECT pg_current_wal_insert_lsn()::text AS lsn;

-- name: wal_diff
SELECT pg_wal_lsn_diff(%(after)s::pg_lsn, %(before)s::pg_lsn)::bigint AS bytes;

-- name: schema_shape
-- The user-visible schema as text lines: the rollback should bring it back.
SELECT format('%s %I.%I', c.relkind, n.nspname, c.relname) AS object,
       CASE WHEN c.relkind = 'i' THEN pg_get_indexdef(c.oid)
            ELSE coalesce((SELECT string_agg(format('%I %s%s', a.attname,
                                   format_type(a.atttypid, a.atttypmod),
                                   CASE WHEN a.attnotnull THEN ' not null' END),
                                   ', ' ORDER BY a.attnum)
                           FROM pg_attribute a
                           WHERE a.attrelid = c.oid AND a.attnum > 0
                             AND NOT a.attisdropped), '')
       END AS detail
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'i', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs')
  AND n.nspname !~ '^pg_(toast|temp)'
UNION ALL
SELECT format('constraint %I on %s', con.conname, con.conrelid::regclass),
       pg_get_constraintdef(con.oid)
FROM pg_constraint con
JOIN pg_namespace n ON n.oid = con.connamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs')
ORDER BY 1, 2;

-- name: insert_rehearsal
INSERT INTO pgwarden.rehearsal (
    target_id, title, change_request_id, verdict, started_at, finished_at,
    window_minutes, release_s, rollback_s, report)
VALUES (%(target_id)s, %(title)s, %(change_request_id)s, %(verdict)s,
        %(started_at)s, %(finished_at)s, %(window_minutes)s, %(release_s)s,
        %(rollback_s)s, %(report)s)
RETURNING id;

-- name: list_rehearsals
SELECT r.id, t.name AS target, r.title, r.change_request_id, r.verdict,
       r.started_at, r.release_s, r.rollback_s, r.window_minutes
FROM pgwarden.rehearsal r
JOIN pgwarden.target t ON t.id = r.target_id
ORDER BY r.id DESC
LIMIT %(limit)s;

-- name: get_rehearsal
SELECT id, report FROM pgwarden.rehearsal WHERE id = %(id)s;
