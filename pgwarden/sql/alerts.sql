-- Reads of the monitored server for alert rules whose input is not collected.

-- name: sessions
SELECT pid, datname, usename, application_name, state,
       coalesce(extract(epoch FROM clock_timestamp() - xact_start), 0)::float8
         AS xact_s,
       coalesce(extract(epoch FROM clock_timestamp() - state_change), 0)::float8
         AS state_s,
       coalesce(cardinality(blocking), 0) AS blockers,
       left(query, 200) AS query,
       coalesce(blocking, '{}') AS blocking_pids
FROM pg_stat_activity
CROSS JOIN LATERAL pg_blocking_pids(pid) AS blocking
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid();

-- name: replicas
-- Lag per standby, measured on the primary. Caught up (replayed all it was sent):
-- 0. Behind: the walsender's lag tracker's replay_lag, which keeps growing while the
-- standby's replay is stuck (it is refreshed by each standby status message, every
-- wal_receiver_status_interval), else flush_lag or write_lag. lag_bytes: WAL the
-- primary has written that the standby has not replayed.
SELECT coalesce(nullif(application_name, ''), client_addr::text, 'replica') AS name,
       CASE WHEN replay_lsn IS NOT NULL AND replay_lsn >= sent_lsn THEN 0
            ELSE coalesce(extract(epoch FROM coalesce(replay_lag, flush_lag,
                                                       write_lag)), 0)
       END::float8 AS lag_s,
       coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn), 0)::bigint
         AS lag_bytes
FROM pg_stat_replication;

-- name: standby_lag
-- On a standby: 0 when it has replayed all it received, else the time since the
-- last replayed transaction committed on the primary (it grows while replay waits).
SELECT pg_is_in_recovery() AS standby,
       CASE WHEN NOT pg_is_in_recovery() THEN NULL
            WHEN pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() THEN 0
            ELSE coalesce(extract(epoch FROM clock_timestamp()
                          - pg_last_xact_replay_timestamp()), 0)
       END::float8 AS lag_s,
       CASE WHEN pg_is_in_recovery() THEN
         coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(),
                                  pg_last_wal_replay_lsn()), 0)::bigint
       END AS lag_bytes;

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
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgwarden', 'pgwarden_jobs')
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
