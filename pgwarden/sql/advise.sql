-- Catalog reads of index health and bloat (pgwarden/advise). Every read is of the
-- catalog or the statistics views; pgwarden's own schema is left out.

-- name: bloat_tables
SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name,
       c.relpages::bigint AS relpages, c.reltuples::float8 AS reltuples,
       pg_relation_size(c.oid) AS size_bytes,
       coalesce((SELECT o.option_value::int
                 FROM pg_options_to_table(c.reloptions) o
                 WHERE o.option_name = 'fillfactor'), 100) AS fillfactor,
       coalesce(pg_relation_size(nullif(c.reltoastrelid, 0)), 0) AS toast_bytes,
       current_setting('block_size')::int AS block_size
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs')
  AND n.nspname NOT LIKE 'pg\_toast%%' AND n.nspname NOT LIKE 'pg\_temp%%'
  AND (%(tables)s::bigint[] IS NULL OR c.oid::bigint = ANY(%(tables)s::bigint[]))
ORDER BY n.nspname, c.relname;

-- name: table_columns
SELECT a.attrelid::bigint AS oid, a.attname, t.typname, t.typlen::int AS typlen,
       t.typalign::text AS typalign, s.avg_width, s.null_frac, s.n_distinct
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_stats s ON s.schemaname = n.nspname AND s.tablename = c.relname
     AND s.attname = a.attname AND NOT s.inherited
WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs')
  AND n.nspname NOT LIKE 'pg\_toast%%' AND n.nspname NOT LIKE 'pg\_temp%%'
  AND (%(tables)s::bigint[] IS NULL OR c.oid::bigint = ANY(%(tables)s::bigint[]))
ORDER BY a.attrelid, a.attnum;

-- name: bloat_indexes
SELECT i.indexrelid::bigint AS oid, n.nspname AS schema, tc.relname AS table,
       ic.relname AS name, i.indrelid::bigint AS table_oid,
       ic.relpages::bigint AS relpages, ic.reltuples::float8 AS reltuples,
       tc.reltuples::float8 AS table_reltuples,
       pg_relation_size(i.indexrelid) AS size_bytes,
       coalesce((SELECT o.option_value::int
                 FROM pg_options_to_table(ic.reloptions) o
                 WHERE o.option_name = 'fillfactor'), 90) AS fillfactor,
       i.indisunique AS unique, i.indpred IS NOT NULL AS partial,
       coalesce((SELECT o.option_value::bool
                 FROM pg_options_to_table(ic.reloptions) o
                 WHERE o.option_name = 'deduplicate_items'), true) AS deduplicate,
       current_setting('block_size')::int AS block_size
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_namespace n ON n.oid = tc.relnamespace
JOIN pg_am am ON am.oid = ic.relam
WHERE am.amname = 'btree' AND i.indisvalid AND tc.relkind IN ('r', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs')
  AND n.nspname NOT LIKE 'pg\_toast%%' AND n.nspname NOT LIKE 'pg\_temp%%'
  AND (%(tables)s::bigint[] IS NULL OR i.indrelid::bigint = ANY(%(tables)s::bigint[]))
ORDER BY n.nspname, tc.relname, ic.relname;

-- name: index_columns
-- A plain column's statistics are the table's; an expression's are the index's.
SELECT i.indexrelid::bigint AS oid, a.attname, t.typname, t.typlen::int AS typlen,
       t.typalign::text AS typalign, a.attnum > i.indnkeyatts AS included,
       coalesce(ts.avg_width, xs.avg_width) AS avg_width,
       coalesce(ts.null_frac, xs.null_frac) AS null_frac,
       coalesce(ts.n_distinct, xs.n_distinct) AS n_distinct
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_namespace n ON n.oid = tc.relnamespace
JOIN pg_am am ON am.oid = ic.relam
JOIN pg_attribute a ON a.attrelid = i.indexrelid AND a.attnum > 0
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attribute ta ON ta.attrelid = i.indrelid
     AND ta.attnum = i.indkey[a.attnum - 1] AND i.indkey[a.attnum - 1] <> 0
LEFT JOIN pg_stats ts ON ts.schemaname = n.nspname AND ts.tablename = tc.relname
     AND ts.attname = ta.attname AND NOT ts.inherited
LEFT JOIN pg_stats xs ON i.indkey[a.attnum - 1] = 0 AND xs.schemaname = n.nspname
     AND xs.tablename = ic.relname AND xs.attname = a.attname
WHERE am.amname = 'btree' AND i.indisvalid AND tc.relkind IN ('r', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs')
  AND n.nspname NOT LIKE 'pg\_toast%%' AND n.nspname NOT LIKE 'pg\_temp%%'
  AND (%(tables)s::bigint[] IS NULL OR i.indrelid::bigint = ANY(%(tables)s::bigint[]))
ORDER BY i.indexrelid, a.attnum;

-- name: index_catalog
SELECT i.indexrelid::bigint AS oid, n.nspname AS schema, tc.relname AS table,
       ic.relname AS name, i.indrelid::bigint AS table_oid, am.amname AS method,
       i.indisunique AS is_unique, i.indisprimary AS is_primary,
       i.indisvalid AS is_valid, i.indisready AS is_ready,
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
               AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))
           AS backs_constraint,
       (SELECT k.conname FROM pg_constraint k WHERE k.conindid = i.indexrelid
        AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x') LIMIT 1)
           AS constraint_name,
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
               AND k.contype = 'f') AS referenced_by_fk,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
             FROM generate_series(1, i.indnkeyatts) k ORDER BY k) AS keys,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
             FROM generate_series(i.indnkeyatts + 1, i.indnatts) k ORDER BY k)
           AS include,
       (i.indkey::int2[])[0:i.indnkeyatts - 1]::int[] AS key_attnums,
       ARRAY(SELECT unnest(i.indclass::oid[])::bigint) AS opclasses,
       ARRAY(SELECT unnest(i.indcollation::oid[])::bigint) AS collations,
       ARRAY(SELECT unnest(i.indoption::int2[])::int) AS options,
       pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
       pg_get_indexdef(i.indexrelid) AS definition,
       pg_relation_size(i.indexrelid) AS size_bytes,
       ls.null_frac AS lead_null_frac,
       coalesce(s.idx_scan, 0) AS idx_scan,
       coalesce(s.idx_tup_read, 0) AS idx_tup_read,
       coalesce(s.idx_tup_fetch, 0) AS idx_tup_fetch,
       NULL::timestamptz AS last_idx_scan
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_namespace n ON n.oid = tc.relnamespace
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
LEFT JOIN pg_attribute la ON la.attrelid = i.indrelid AND la.attnum = i.indkey[0]
     AND i.indkey[0] <> 0
LEFT JOIN pg_stats ls ON ls.schemaname = n.nspname AND ls.tablename = tc.relname
     AND ls.attname = la.attname AND NOT ls.inherited
WHERE ic.relkind = 'i' AND tc.relkind IN ('r', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs')
  AND n.nspname NOT LIKE 'pg\_toast%%' AND n.nspname NOT LIKE 'pg\_temp%%'
ORDER BY n.nspname, tc.relname, ic.relname;

-- name: index_catalog_pg16
SELECT i.indexrelid::bigint AS oid, n.nspname AS schema, tc.relname AS table,
       ic.relname AS name, i.indrelid::bigint AS table_oid, am.amname AS method,
       i.indisunique AS is_unique, i.indisprimary AS is_primary,
       i.indisvalid AS is_valid, i.indisready AS is_ready,
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
               AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))
           AS backs_constraint,
       (SELECT k.conname FROM pg_constraint k WHERE k.conindid = i.indexrelid
        AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x') LIMIT 1)
           AS constraint_name,
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
               AND k.contype = 'f') AS referenced_by_fk,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
             FROM generate_series(1, i.indnkeyatts) k ORDER BY k) AS keys,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
             FROM generate_series(i.indnkeyatts + 1, i.indnatts) k ORDER BY k)
           AS include,
       (i.indkey::int2[])[0:i.indnkeyatts - 1]::int[] AS key_attnums,
       ARRAY(SELECT unnest(i.indclass::oid[])::bigint) AS opclasses,
       ARRAY(SELECT unnest(i.indcollation::oid[])::bigint) AS collations,
       ARRAY(SELECT unnest(i.indoption::int2[])::int) AS options,
       pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
       pg_get_indexdef(i.indexrelid) AS definition,
       pg_relation_size(i.indexrelid) AS size_bytes,
       ls.null_frac AS lead_null_frac,
       coalesce(s.idx_scan, 0) AS idx_scan,
       coalesce(s.idx_tup_read, 0) AS idx_tup_read,
       coalesce(s.idx_tup_fetch, 0) AS idx_tup_fetch,
       s.last_idx_scan
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_namespace n ON n.oid = tc.relnamespace
JOIN pg_am am ON am.oid = ic.relam
LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = i.indexrelid
LEFT JOIN pg_attribute la ON la.attrelid = i.indrelid AND la.attnum = i.indkey[0]
     AND i.indkey[0] <> 0
LEFT JOIN pg_stats ls ON ls.schemaname = n.nspname AND ls.tablename = tc.relname
     AND ls.attname = la.attname AND NOT ls.inherited
WHERE ic.relkind = 'i' AND tc.relkind IN ('r', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs')
  AND n.nspname NOT LIKE 'pg\_toast%%' AND n.nspname NOT LIKE 'pg\_temp%%'
ORDER BY n.nspname, tc.relname, ic.relname;

-- name: table_catalog
SELECT c.oid::bigint AS oid, n.nspname AS schema, c.relname AS name,
       c.relkind::text AS relkind, pg_relation_size(c.oid) AS size_bytes,
       pg_total_relation_size(c.oid) AS total_bytes, c.reltuples::float8 AS reltuples,
       EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid
               AND k.contype = 'p') AS has_primary_key,
       EXISTS (SELECT 1 FROM pg_index x WHERE x.indrelid = c.oid AND x.indisunique
               AND x.indisvalid AND x.indpred IS NULL AND x.indexprs IS NULL)
           AS has_unique,
       coalesce(s.seq_scan, 0) AS seq_scan, coalesce(s.seq_tup_read, 0) AS seq_tup_read,
       coalesce(s.idx_scan, 0) AS idx_scan, coalesce(s.n_live_tup, 0) AS n_live_tup
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE (c.relkind = 'p' OR (c.relkind = 'r' AND NOT c.relispartition))
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs')
  AND n.nspname NOT LIKE 'pg\_toast%%' AND n.nspname NOT LIKE 'pg\_temp%%'
ORDER BY n.nspname, c.relname;

-- name: foreign_keys
SELECT k.conname AS name, k.conrelid::bigint AS table_oid, n.nspname AS schema,
       c.relname AS table, k.conkey::int[] AS attnums,
       ARRAY(SELECT quote_ident(a.attname::text)
             FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum
             ORDER BY u.ord) AS columns,
       k.confrelid::regclass::text AS referenced,
       pg_relation_size(k.conrelid) AS size_bytes, c.reltuples::float8 AS reltuples
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype = 'f' AND c.relkind IN ('r', 'p')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs')
ORDER BY n.nspname, c.relname, k.conname;

-- name: stats_reset
SELECT stats_reset FROM pg_stat_database WHERE datname = current_database();

-- name: in_recovery
SELECT pg_is_in_recovery() AS in_recovery;
