-- The dashboard's Maintenance page: progress of running operations, freeze ages.

-- name: progress
-- Every VACUUM, ANALYZE, CREATE INDEX / REINDEX and CLUSTER / VACUUM FULL running
-- in this database, pgwarden's and autovacuum's alike, with its progress.
WITH running AS (
    SELECT pid, relid, 'vacuum' AS command, phase,
           heap_blks_scanned AS done, heap_blks_total AS total,
           'heap blocks' AS unit
    FROM pg_stat_progress_vacuum WHERE datname = current_database()
    UNION ALL
    SELECT pid, relid, 'analyze', phase, sample_blks_scanned, sample_blks_total,
           'sample blocks'
    FROM pg_stat_progress_analyze WHERE datname = current_database()
    UNION ALL
    SELECT pid, relid, lower(command), phase, blocks_done, blocks_total, 'blocks'
    FROM pg_stat_progress_create_index WHERE datname = current_database()
    UNION ALL
    SELECT pid, relid, lower(command), phase, heap_blks_scanned, heap_blks_total,
           'heap blocks'
    FROM pg_stat_progress_cluster WHERE datname = current_database()
)
SELECT r.pid, r.command, r.phase, r.done, r.total, r.unit,
       n.nspname AS schema, c.relname AS table,
       a.backend_type = 'autovacuum worker' AS autovacuum,
       a.application_name, a.query_start AS started_at,
       a.wait_event_type, a.wait_event
FROM running r
LEFT JOIN pg_class c ON c.oid = r.relid
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_activity a ON a.pid = r.pid
ORDER BY a.query_start NULLS LAST, r.pid;

-- name: wraparound
-- Freeze ages of the tables the planner reads (pg_stat_user_tables, ordinary
-- tables, not pgwarden's own), oldest first. A table's own
-- autovacuum_freeze_max_age only counts when lower than the server's (as
-- autovacuum applies it).
WITH server AS (
    SELECT current_setting('autovacuum_freeze_max_age')::bigint AS xid_max,
           current_setting('autovacuum_multixact_freeze_max_age')::bigint AS mxid_max
), tables AS (
    SELECT t.relid, t.schemaname AS schema, t.relname AS table,
           age(c.relfrozenxid)::bigint AS xid_age,
           mxid_age(c.relminmxid)::bigint AS mxid_age,
           least(s.xid_max, (SELECT o.option_value::bigint
                             FROM pg_options_to_table(c.reloptions) o
                             WHERE o.option_name = 'autovacuum_freeze_max_age'))
               AS xid_max,
           least(s.mxid_max, (SELECT o.option_value::bigint
                              FROM pg_options_to_table(c.reloptions) o
                              WHERE o.option_name =
                                    'autovacuum_multixact_freeze_max_age'))
               AS mxid_max,
           t.n_dead_tup AS dead_rows,
           t.last_vacuum, t.last_autovacuum, t.last_analyze, t.last_autoanalyze
    FROM pg_stat_user_tables t
    JOIN pg_class c ON c.oid = t.relid
    CROSS JOIN server s
    WHERE t.schemaname NOT IN ('pgwarden', 'pgwarden_jobs') AND c.relkind = 'r'
)
SELECT schema, "table", xid_age, xid_max AS freeze_max_age,
       round(100.0 * xid_age / greatest(xid_max, 1), 3)::float8
           AS pct_of_freeze_max_age,
       mxid_age, mxid_max AS multixact_freeze_max_age,
       round(100.0 * mxid_age / greatest(mxid_max, 1), 3)::float8
           AS pct_of_multixact_freeze_max_age,
       dead_rows, last_vacuum, last_autovacuum, last_analyze, last_autoanalyze,
       count(*) OVER ()::int AS tables
FROM tables
ORDER BY greatest(xid_age::float8 / greatest(xid_max, 1),
                  mxid_age::float8 / greatest(mxid_max, 1)) DESC,
         schema, "table"
LIMIT %s;

-- name: database_age
-- The database's oldest unfrozen transaction and multixact, and what limits them.
SELECT current_database() AS database,
       age(d.datfrozenxid)::bigint AS xid_age,
       mxid_age(d.datminmxid)::bigint AS mxid_age,
       current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max_age,
       current_setting('autovacuum_multixact_freeze_max_age')::bigint
           AS multixact_freeze_max_age,
       round(100.0 * age(d.datfrozenxid)
             / current_setting('autovacuum_freeze_max_age')::bigint, 3)::float8
           AS pct_of_freeze_max_age,
       round(100.0 * age(d.datfrozenxid) / 2147483648, 4)::float8
           AS pct_of_wraparound
FROM pg_database d
WHERE d.datname = current_database();
