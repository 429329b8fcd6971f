-- Partitioning advice (pgwarden/plan/partitions/advice.py): the target's large tables
-- read live, and the workload's statements read from pgwarden's history.

-- name: tables
-- User tables that are not partitions, with sizes, rows and write counters; visible:
-- an unqualified name finds the table on the search path.
SELECT c.oid::bigint AS relid, n.nspname AS schema_name, c.relname AS rel_name,
       c.relkind = 'p' AS partitioned, pg_table_is_visible(c.oid) AS visible,
       greatest(coalesce(s.n_live_tup, 0), c.reltuples, 0)::bigint AS rows,
       pg_relation_size(c.oid) AS heap_bytes,
       pg_indexes_size(c.oid) AS index_bytes,
       pg_total_relation_size(c.oid) AS total_bytes,
       coalesce(s.n_tup_ins, 0)::bigint AS n_tup_ins,
       coalesce(s.n_tup_upd, 0)::bigint AS n_tup_upd,
       coalesce(s.n_tup_del, 0)::bigint AS n_tup_del
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pgwarden(_|$)'
  AND n.nspname !~ '^pg_(toast|temp)'
ORDER BY total_bytes DESC, c.oid;

-- name: columns
-- Columns of one table with their types and statistics (pg_stats, when analysed).
SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       a.attnotnull AS not_null,
       a.attidentity <> '' AS identity,
       t.typcategory = 'D' AS is_time,
       st.correlation::float8 AS correlation, st.n_distinct::float8 AS n_distinct,
       st.most_common_vals::text AS most_common_vals,
       st.most_common_freqs::float8[] AS most_common_freqs,
       CASE WHEN t.typcategory = 'D' AND st.histogram_bounds IS NOT NULL
            THEN (st.histogram_bounds::text::timestamptz[])[1] END AS first_value,
       CASE WHEN t.typcategory = 'D' AND st.histogram_bounds IS NOT NULL
            THEN (st.histogram_bounds::text::timestamptz[])[
                 array_length(st.histogram_bounds::text::timestamptz[], 1)] END
         AS last_value
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_stats st
  ON st.schemaname = %(schema)s AND st.tablename = %(table)s
 AND st.attname = a.attname AND NOT st.inherited
WHERE a.attrelid = %(relid)s AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum;

-- name: constraints
-- Primary key, unique and foreign keys of one table, and foreign keys pointing at it
-- (own = false).
SELECT con.conname AS name, con.contype AS type,
       cl.relname AS table_name, ns.nspname AS schema_name,
       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n
             ORDER BY k.i) AS columns,
       ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n
             ORDER BY k.i) AS ref_columns,
       con.conrelid = %(relid)s AS own,
       con.contype = 'f' AND con.confrelid = %(relid)s AS refers_here,
       pg_get_constraintdef(con.oid) AS definition,
       ARRAY(SELECT a.attname::text FROM pg_attribute a
             WHERE a.attrelid = con.conrelid AND a.attnum > 0
               AND NOT a.attisdropped) AS table_columns
FROM pg_constraint con
JOIN pg_class cl ON cl.oid = con.conrelid
JOIN pg_namespace ns ON ns.oid = cl.relnamespace
WHERE (con.conrelid = %(relid)s AND con.contype IN ('p', 'u', 'f'))
   OR (con.confrelid = %(relid)s AND con.contype = 'f')
ORDER BY con.contype, con.conname;

-- name: indexes
-- Indexes of one table that are not backing a constraint.
SELECT ic.relname AS name, i.indisunique AS is_unique,
       pg_get_indexdef(i.indexrelid) AS definition,
       quote_ident(n.nspname) || '.' || quote_ident(tc.relname) AS qualified
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_class tc ON tc.oid = i.indrelid
JOIN pg_namespace n ON n.oid = tc.relnamespace
WHERE i.indrelid = %(relid)s
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY ic.relname;

-- name: partman
-- pg_partman's schema and version when installed.
SELECT n.nspname AS schema, e.extversion AS version
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE e.extname = 'pg_partman';

-- name: memory
SELECT pg_size_bytes(current_setting('shared_buffers')) AS shared_buffers_bytes;

-- name: statements
-- Statement texts of one target with their calls in the history window (repository).
SELECT t.queryid, t.query, coalesce(sum(c.calls), 0)::bigint AS calls
FROM pgwarden.statement_text t
LEFT JOIN (
    SELECT dbid, userid, queryid, toplevel, calls FROM pgwarden.statement_hourly
    WHERE target_id = %(target_id)s AND hour >= %(since)s
    UNION ALL
    SELECT dbid, userid, queryid, toplevel, calls FROM pgwarden.statement_current
    WHERE target_id = %(target_id)s AND ts >= %(since)s
) c USING (dbid, userid, queryid, toplevel)
WHERE t.target_id = %(target_id)s
GROUP BY t.queryid, t.query;
