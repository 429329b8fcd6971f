-- Queries of the parameter value histogram (pgwarden/slowlog/param_values.py,
-- pgwarden/advise/indexes/observed.py).

-- name: column_stats
-- The columns of one relation with what pg_stats shows of them (target). The
-- relation visible on the search path wins a name clash; a partitioned table's
-- statistics are its inherited ones.
WITH rel AS (
    SELECT c.oid, c.relname, n.nspname, c.reltuples, c.relkind
    FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relname = %(relname)s AND c.relkind IN ('r', 'p', 'm')
      AND (%(schema)s::text IS NULL OR n.nspname = %(schema)s::text)
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs')
    ORDER BY pg_table_is_visible(c.oid) DESC, n.nspname
    LIMIT 1
)
SELECT rel.nspname AS schema, rel.relname AS relname, rel.reltuples::float8 AS reltuples,
       a.attname AS column, s.n_distinct::float8 AS n_distinct,
       s.null_frac::float8 AS null_frac,
       s.most_common_vals::text::text[] AS mcv
FROM rel
JOIN pg_attribute a ON a.attrelid = rel.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_stats s ON s.schemaname = rel.nspname AND s.tablename = rel.relname
    AND s.attname = a.attname AND s.inherited = (rel.relkind = 'p')
ORDER BY a.attnum;

-- name: upsert
INSERT INTO pgwarden.parameter_value AS p
    (target_id, day, fingerprint, queryid, schema_name, relname, attname, value,
     calls, first_seen, last_seen)
VALUES (%(target_id)s, %(day)s, %(fingerprint)s, %(queryid)s, %(schema)s,
        %(relname)s, %(attname)s, %(value)s, %(calls)s, %(first_seen)s,
        %(last_seen)s)
ON CONFLICT (target_id, fingerprint, relname, attname, value, day) DO UPDATE SET
    calls = p.calls + excluded.calls,
    queryid = coalesce(excluded.queryid, p.queryid),
    first_seen = least(p.first_seen, excluded.first_seen),
    last_seen = greatest(p.last_seen, excluded.last_seen);

-- name: retention
DELETE FROM pgwarden.parameter_value WHERE day < %(before)s;

-- name: observed
-- Calls per (statement, column, value) of a target since a day (repository).
SELECT fingerprint, max(queryid) AS queryid, relname, attname, value,
       sum(calls)::bigint AS calls
FROM pgwarden.parameter_value
WHERE target_id = %(target_id)s AND day >= %(since)s
GROUP BY fingerprint, relname, attname, value
ORDER BY fingerprint, relname, attname, calls DESC, value;
