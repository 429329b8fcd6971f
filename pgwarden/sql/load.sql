-- Reads of the target around and during a load run (pgwarden/load/server.py),
-- and the checks that decide whether a load run may write to it.

-- name: database_stats
SELECT blks_hit, blks_read, xact_commit, xact_rollback, deadlocks,
       blk_read_time, temp_bytes
FROM pg_catalog.pg_stat_database
WHERE datname = current_database();

-- name: statements
-- Top-level statements of the current database, cumulative.
SELECT s.queryid, s.query, s.calls, s.total_exec_time AS total_ms
FROM pg_stat_statements AS s
WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database
                WHERE datname = current_database())
  AND s.toplevel;

-- name: activity
-- Client sessions of the current database other than this one.
SELECT pid, application_name, state, wait_event_type, wait_event
FROM pg_catalog.pg_stat_activity
WHERE datname = current_database()
  AND pid <> pg_backend_pid()
  AND backend_type = 'client backend';

-- name: max_connections
SELECT current_setting('max_connections')::int AS max_connections;

-- name: embedded_marker
-- pgwarden's embedded server sets listen_addresses in pgdata/pgwarden.conf; the
-- source file is visible to superusers and pg_read_all_settings only.
-- Unprivileged roles see neither row's secrets: data_directory is hidden from them.
SELECT (SELECT sourcefile FROM pg_catalog.pg_settings
        WHERE name = 'listen_addresses') AS sourcefile,
       (SELECT setting FROM pg_catalog.pg_settings
        WHERE name = 'data_directory') AS data_directory;

-- name: in_recovery
SELECT pg_catalog.pg_is_in_recovery() AS in_recovery;

-- name: shared_buffers
-- The current size, the file that sets it (postgresql.auto.conf after ALTER SYSTEM)
-- and the block size (PostgreSQL accepts no fewer than 16 buffers).
SELECT current_setting('shared_buffers') AS current,
       (SELECT sourcefile FROM pg_catalog.pg_settings
        WHERE name = 'shared_buffers') AS sourcefile,
       current_setting('block_size')::bigint AS block_size;
