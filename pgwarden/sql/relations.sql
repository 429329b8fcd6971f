-- Relation kinds and partition trees: what index DDL runs on each relation.

-- name: relations
SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name,
    c.relkind::text AS kind, i.inhparent::bigint AS parent
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND c.relispartition
WHERE c.relkind IN ('r', 'p', 'm', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs')
  AND n.nspname NOT LIKE 'pg\_toast%%' AND n.nspname NOT LIKE 'pg\_temp%%'
ORDER BY n.nspname, c.relname;

-- name: attached_indexes
SELECT i.inhrelid::bigint AS oid, n.nspname AS parent_schema,
    p.relname AS parent_name
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid AND c.relkind = 'i'
JOIN pg_class p ON p.oid = i.inhparent AND p.relkind = 'I'
JOIN pg_namespace n ON n.oid = p.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs');

-- name: partitioned_indexes
SELECT i.indrelid::bigint AS table_oid, ic.relname AS name, am.amname AS method,
    (i.indkey::int2[])[0:i.indnkeyatts - 1]::int[] AS key_attnums,
    i.indpred IS NOT NULL AS partial
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid AND ic.relkind = 'I'
JOIN pg_am am ON am.oid = ic.relam
JOIN pg_namespace n ON n.oid = ic.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs');
