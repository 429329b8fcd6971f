-- Reads of the monitored server for alert rules whose input is not collected.

-- name: sessions
SELECT pid, datname, usename, application_name, state,
       coalesce(extract(epoch FROM clock_timestamp() - xact_start), 0)::float8
         AS xact_s,
       coalesce(extract(epoch FROM clock_timestamp() - state_change), 0)::float8
         AS state_s,
       coalesce(cardinality(pg_blocking_pids(pid)), 0) AS blockers,
       left(query, 200) AS query
FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid();

-- name: replicas
SELECT coalesce(nullif(application_name, ''), client_addr::text, 'replica') AS name,
       coalesce(extract(epoch FROM replay_lag), 0)::float8 AS lag_s
FROM pg_stat_replication;

-- name: standby_lag
SELECT pg_is_in_recovery() AS standby,
       CASE WHEN pg_is_in_recovery() THEN
         coalesce(extract(epoch FROM clock_timestamp()
                  - pg_last_xact_replay_timestamp()), 0)::float8
       END AS lag_s;

-- name: xid_age
SELECT datname, age(datfrozenxid)::bigint AS xid_age
FROM pg_database
WHERE datallowconn
ORDER BY 2 DESC
LIMIT 1;

-- name: index_bloat
-- Estimate of B-tree bloat from catalog statistics: leaf pages the live tuples need
-- at the index fill factor (key widths from pg_stats) against the pages it holds.
WITH idx AS (
    SELECT n.nspname AS schema_name, t.relname AS table_name,
           c.relname AS index_name, c.oid AS relid, i.indrelid, i.indkey,
           c.reltuples, c.relpages,
           current_setting('block_size')::int AS bs,
           coalesce(substring(array_to_string(c.reloptions, ' ')
                    FROM 'fillfactor=([0-9]+)')::int, 90) AS fillfactor
    FROM pg_index i
    JOIN pg_class c ON c.oid = i.indexrelid
    JOIN pg_class t ON t.oid = i.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_am a ON a.oid = c.relam
    WHERE a.amname = 'btree' AND c.relpages > 1 AND c.reltuples >= 0
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden')
      AND n.nspname !~ '^pg_toast'
), widths AS (
    SELECT idx.relid, sum(coalesce(s.avg_width, 8)) AS key_width
    FROM idx
    CROSS JOIN LATERAL unnest(idx.indkey::int2[]) AS k(attnum)
    LEFT JOIN pg_attribute att ON att.attrelid = idx.indrelid AND att.attnum = k.attnum
    LEFT JOIN pg_stats s ON s.schemaname = idx.schema_name
         AND s.tablename = idx.table_name AND s.attname = att.attname
    GROUP BY idx.relid
), est AS (
    SELECT idx.*,
           1 + ceil(idx.reltuples * (12 + ceil(w.key_width / 8.0) * 8)
                    / ((idx.bs - 40) * idx.fillfactor / 100.0)) AS est_pages
    FROM idx JOIN widths w USING (relid)
)
SELECT schema_name, table_name, index_name,
       relpages::bigint * bs AS size_bytes,
       greatest(relpages - est_pages, 0)::bigint * bs AS bloat_bytes
FROM est;
