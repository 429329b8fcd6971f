-- The target's catalog as the workload reader needs it beyond the columns:
-- views (read through), text columns' collations (LIKE prefix), HOT updates.

-- name: views
SELECT n.nspname AS schema, c.relname AS name,
    left(pg_get_viewdef(c.oid), 200001) AS definition,
    array(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid
          AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'v'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                  AND d.objid = c.oid AND d.deptype = 'e')  -- an extension's own
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs', 'pg_toast')
  AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pgwarden_%'
ORDER BY n.nspname, c.relname;

-- name: column_collations
SELECT n.nspname AS schema, c.relname AS table, a.attname::text AS column,
    CASE WHEN a.attcollation = 100 THEN d.c_default
         ELSE coalesce(co.collprovider = 'c' AND co.collcollate IN ('C', 'POSIX'), false)
    END AS collate_c
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_collation co ON co.oid = a.attcollation
CROSS JOIN (
    SELECT coalesce(to_jsonb(db) ->> 'datlocprovider', 'c') = 'c'
           AND db.datcollate IN ('C', 'POSIX') AS c_default
    FROM pg_database db WHERE db.datname = current_database()
) d
WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attcollation <> 0
  AND c.relkind IN ('r', 'p', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs', 'pg_toast')
  AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pgwarden_%'
ORDER BY n.nspname, c.relname, a.attnum;

-- name: hot_updates
SELECT schemaname AS schema, relname AS table,
    n_tup_upd::float8 AS updates, n_tup_hot_upd::float8 AS hot
FROM pg_stat_user_tables
WHERE n_tup_upd > 0
  AND schemaname NOT IN ('pgwarden', 'pgwarden_jobs') AND schemaname NOT LIKE 'pgwarden_%'
ORDER BY schemaname, relname;
