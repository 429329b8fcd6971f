-- Reads of `pgwarden doctor`. Each works for a role without any predefined role:
-- settings hidden from it (shared_preload_libraries before pg_read_all_settings) are
-- simply absent from the result.

-- name: identity
SELECT current_user AS role, r.rolsuper AS superuser, current_database() AS dbname
FROM pg_roles r
WHERE r.rolname = current_user;

-- name: settings
SELECT name, setting
FROM pg_settings
WHERE name = ANY(%s);

-- name: platform_settings
SELECT name
FROM pg_settings
WHERE name ~ '^(rds|aurora|cloudsql|alloydb|azure|neon)\.';

-- name: role_memberships
SELECT r.rolname AS name, pg_has_role(current_user, r.oid, 'USAGE') AS member
FROM pg_roles r
WHERE r.rolname = ANY(%s);

-- name: extensions
SELECT coalesce(e.extname, a.name) AS name,
       a.name IS NOT NULL AS available,
       e.extversion AS installed_version,
       n.nspname AS schema
FROM pg_extension e
JOIN pg_namespace n ON n.oid = e.extnamespace
FULL JOIN pg_available_extensions a ON a.name = e.extname
WHERE coalesce(e.extname, a.name) = ANY(%s);

-- name: read_pg_stat_statements
SELECT 1 FROM {schema}.pg_stat_statements LIMIT 1;

-- name: maintenance
-- Tables of this database the role may not VACUUM or ANALYZE: before PostgreSQL 17
-- only their owner, the database owner and superusers may.
SELECT count(*) AS tables,
       count(*) FILTER (
           WHERE NOT (pg_has_role(c.relowner, 'USAGE') OR pg_has_role(d.datdba, 'USAGE'))
       ) AS denied
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_database d ON d.datname = current_database()
WHERE c.relkind IN ('r', 'm', 'p')
  AND n.nspname <> 'information_schema'
  AND n.nspname !~ '^pg_';

-- name: maintenance_pg17
-- From PostgreSQL 17 the MAINTAIN privilege (or pg_maintain) allows it too.
SELECT count(*) AS tables,
       count(*) FILTER (
           WHERE NOT (has_table_privilege(c.oid, 'MAINTAIN')
                      OR pg_has_role(d.datdba, 'USAGE'))
       ) AS denied
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_database d ON d.datname = current_database()
WHERE c.relkind IN ('r', 'm', 'p')
  AND n.nspname <> 'information_schema'
  AND n.nspname !~ '^pg_';
