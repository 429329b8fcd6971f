-- Index advisor, candidate kinds beyond plain B-trees: column types, function
-- volatility (only IMMUTABLE functions can be indexed) and installed extensions.

-- name: column_types
SELECT n.nspname AS schema, c.relname AS table, a.attname AS column,
    a.atttypid::regtype::text AS type, t.typcategory AS category, t.typtype AS typtype
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
WHERE c.relkind IN ('r', 'p', 'm') AND a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs', 'pg_toast')
  AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pgwarden_%';

-- name: functions
SELECT p.proname AS name, p.proargtypes::oid[]::regtype[]::text[] AS args,
    p.provolatile AS volatile
FROM pg_proc p
WHERE p.proname = ANY(%s) AND p.prokind = 'f';

-- name: mutable_operators
SELECT o.oprname AS name, o.oprleft::regtype::text AS left_type,
    o.oprright::regtype::text AS right_type, p.provolatile AS volatile
FROM pg_operator o
JOIN pg_proc p ON p.oid = o.oprcode
WHERE p.provolatile <> 'i';

-- name: extensions
SELECT e.extname AS name FROM pg_extension e;
