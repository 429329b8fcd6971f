-- Which target a connection reaches (pgwarden/repository/targets.py).

-- name: identity
-- What the database is: the server's system identifier (when this role may read it)
-- and the database; one small read per resolution.
SELECT (SELECT d.oid::bigint FROM pg_catalog.pg_database d
        WHERE d.datname = pg_catalog.current_database()) AS database_oid,
       pg_catalog.current_database() AS database_name,
       pg_catalog.current_setting('server_version_num')::int AS server_version_num,
       CASE WHEN pg_catalog.has_function_privilege(
                     'pg_catalog.pg_control_system()', 'EXECUTE')
            THEN (SELECT system_identifier::text FROM pg_catalog.pg_control_system())
       END AS system_identifier;

-- name: lock
-- Serialise resolutions: two first sights of one database make one row.
SELECT pg_advisory_xact_lock(hashtext('pgwarden.target'));

-- name: by_identity
SELECT id, name FROM pgwarden.target
WHERE system_identifier = %(system_identifier)s AND database_oid = %(database_oid)s;

-- name: adoptable
-- Rows of this database written before its identity was known: same server and
-- database name, or (server never read) the same address; oldest first. A row
-- registered by name alone has its address as name.
SELECT id, name FROM pgwarden.target
WHERE database_oid IS NULL
  AND ((system_identifier = %(system_identifier)s
        AND coalesce(database_name,
                     substring(coalesce(address, name) FROM ':[0-9,]+/(.*)$'))
            = %(database_name)s)
       OR (system_identifier IS NULL AND coalesce(address, name) = %(address)s))
ORDER BY first_seen, id;

-- name: by_address
-- The identity cannot be read: the address is all there is.
SELECT id, name FROM pgwarden.target
WHERE coalesce(address, name) = %(address)s
  AND (database_oid IS NULL OR database_oid = %(database_oid)s)
ORDER BY first_seen, id
LIMIT 1;

-- name: seen
UPDATE pgwarden.target
SET address = %(address)s,
    system_identifier = coalesce(%(system_identifier)s, system_identifier),
    database_oid = CASE WHEN %(system_identifier)s::text IS NULL THEN database_oid
                        ELSE %(database_oid)s END,
    database_name = %(database_name)s,
    server_version_num = %(server_version_num)s,
    last_seen = now()
WHERE id = %(id)s
RETURNING id, name;

-- name: name_taken
SELECT 1 FROM pgwarden.target WHERE name = %s;

-- name: insert
INSERT INTO pgwarden.target (name, address, system_identifier, database_oid,
                             database_name, server_version_num, last_seen)
VALUES (%(name)s, %(address)s, %(system_identifier)s,
        CASE WHEN %(system_identifier)s::text IS NULL THEN NULL
             ELSE %(database_oid)s END,
        %(database_name)s, %(server_version_num)s, now())
RETURNING id, name;

-- name: merge
-- Move every row of target "gone" to target "keep", then drop "gone".
SELECT pgwarden.merge_target(%s, %s);
