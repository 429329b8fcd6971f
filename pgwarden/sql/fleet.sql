-- The registry of the targets the workers serve (pgwarden/fleet/registry.py).
-- A registered target is a row of pgwarden.target with a connection string.

-- name: registered
SELECT id, name, group_name, address, database_name, system_identifier, dsn,
       password_env, interval_s, paused, status, status_reason, status_at,
       discovered_from
FROM pgwarden.target
WHERE dsn IS NOT NULL
  AND (%(group)s::text IS NULL OR group_name = %(group)s)
ORDER BY name;

-- name: listing
-- The registry with each target's last cycle and its cycles of the last hour.
SELECT t.id, t.name, t.group_name, t.address, t.database_name, t.system_identifier,
       t.dsn, t.password_env, t.interval_s, t.paused, t.status, t.status_reason,
       t.status_at, t.discovered_from,
       c.last_collected_at, coalesce(c.cycles_last_hour, 0) AS cycles_last_hour
FROM pgwarden.target t
LEFT JOIN LATERAL (
    SELECT max(cc.ts) AS last_collected_at,
           count(*) FILTER (WHERE cc.ts > now() - interval '1 hour')
               AS cycles_last_hour
    FROM pgwarden.collect_cycle cc
    WHERE cc.target_id = t.id
) c ON true
WHERE t.dsn IS NOT NULL
  AND (%(group)s::text IS NULL OR t.group_name = %(group)s)
ORDER BY t.name;

-- name: name_owner
SELECT id FROM pgwarden.target WHERE name = %(name)s;

-- name: enrol
UPDATE pgwarden.target
SET name = %(name)s,
    dsn = %(dsn)s,
    group_name = %(group)s,
    password_env = %(password_env)s,
    interval_s = %(interval_s)s,
    discovered_from = %(discovered_from)s,
    discover_exclude = %(discover_exclude)s,
    paused = false
WHERE id = %(id)s
RETURNING id, name;

-- name: set_paused
UPDATE pgwarden.target SET paused = %(paused)s
WHERE name = %(name)s AND dsn IS NOT NULL
RETURNING id;

-- name: unregister
-- The target leaves the fleet; its history stays, and discovered_from too, so that
-- rediscovery does not add it back.
UPDATE pgwarden.target
SET dsn = NULL, group_name = NULL, password_env = NULL, interval_s = NULL,
    paused = false, status = NULL, status_reason = NULL, status_at = NULL
WHERE name = %(name)s AND dsn IS NOT NULL
RETURNING id;

-- name: record_status
UPDATE pgwarden.target
SET status = CASE WHEN %(ok)s THEN 'ok' ELSE 'failing' END,
    status_reason = CASE WHEN %(ok)s THEN NULL ELSE %(reason)s END,
    status_at = now()
WHERE id = %(id)s;

-- name: discovered_servers
-- The servers discovery added targets from, with the group and password source
-- their targets were given.
SELECT DISTINCT ON (discovered_from) discovered_from, group_name, password_env,
       discover_exclude
FROM pgwarden.target
WHERE discovered_from IS NOT NULL AND dsn IS NOT NULL
ORDER BY discovered_from, id;

-- name: databases
-- The databases of a server this role may connect to, templates left out.
SELECT d.datname::text AS datname, d.oid::bigint AS oid
FROM pg_catalog.pg_database d
WHERE NOT d.datistemplate AND d.datallowconn
  AND pg_catalog.has_database_privilege(d.datname, 'CONNECT')
ORDER BY d.datname;

-- name: removed
-- Targets discovered and then removed from the fleet: rediscovery leaves them out.
SELECT id FROM pgwarden.target WHERE dsn IS NULL AND discovered_from IS NOT NULL;

-- name: planner_join
-- A fleet worker's membership of its queue's planners: a shared session lock,
-- released with the connection when the worker dies.
SELECT pg_advisory_lock_shared(%(key)s);

-- name: planner_members
-- The workers planning a fleet queue: the holders of its membership lock.
SELECT count(*)::int AS members
FROM pg_catalog.pg_locks
WHERE locktype = 'advisory' AND granted AND mode = 'ShareLock'
  AND database = (SELECT oid FROM pg_catalog.pg_database
                  WHERE datname = pg_catalog.current_database())
  AND classid = %(high)s::bigint::oid AND objid = %(low)s::bigint::oid
  AND objsubid = 1;

-- name: planner_take
-- One share of a fleet queue's planning: a session lock, released when its worker
-- dies or lets it go.
SELECT pg_try_advisory_lock(%(key)s) AS held;

-- name: planner_release
SELECT pg_advisory_unlock(%(key)s) AS released;
