-- Reads of pg_stat_activity and its neighbours, now (pgwarden/observe/activity.py).
-- Every query runs on the target; none writes.

-- name: server
-- Who reads, and what the role may see and signal (superusers have every role's
-- privileges, so pg_has_role is true for them).
SELECT current_user AS role_name,
       quote_ident(current_user) AS role_ident,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS read_all_stats,
       pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS signal_backend,
       pg_is_in_recovery() AS standby,
       clock_timestamp() AS now;

-- name: sessions
-- Every backend but this connection. blocking_pids only for a backend waiting on a
-- heavyweight lock (the only kind pg_blocking_pids reports); waiting_for: the lock
-- it has requested and not been granted, with the time it started waiting.
SELECT a.pid, a.backend_type, a.datname, a.usename, a.application_name,
       host(a.client_addr) AS client_addr, a.client_hostname, a.client_port,
       a.state, a.wait_event_type, a.wait_event,
       a.backend_start, a.xact_start, a.query_start, a.state_change,
       age(a.backend_xmin)::bigint AS xmin_age,
       left(a.query, 10000) AS query,
       CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid)
            ELSE '{}'::int[] END AS blocking_pids,
       w.locktype AS lock_type, w.mode AS lock_mode, w.waitstart AS lock_wait_start,
       CASE WHEN w.relation IS NULL THEN NULL
            WHEN w.database = d.oid THEN w.relation::regclass::text
            ELSE w.relation::text END AS lock_relation,
       w.transactionid::text AS lock_transaction
FROM pg_stat_activity a
LEFT JOIN pg_database d ON d.datname = current_database()
LEFT JOIN LATERAL (
    SELECT l.locktype, l.mode, l.waitstart, l.relation, l.database, l.transactionid
    FROM pg_locks l
    WHERE l.pid = a.pid AND NOT l.granted
    LIMIT 1
) w ON a.wait_event_type = 'Lock'
WHERE a.pid <> pg_backend_pid();

-- name: session
-- One backend, as the connection that would signal it sees it.
SELECT pid, backend_type, usename, application_name, state, backend_start,
       query_start, pid = pg_backend_pid() AS this_connection,
       left(query, 10000) AS query
FROM pg_stat_activity
WHERE pid = %(pid)s;

-- name: cancel
SELECT pg_cancel_backend(%(pid)s) AS signalled;

-- name: terminate
SELECT pg_terminate_backend(%(pid)s) AS signalled;

-- name: prepared
-- Prepared transactions: each holds back the xmin horizon until committed.
SELECT gid, owner, database, prepared, age(transaction)::bigint AS xmin_age
FROM pg_prepared_xacts;

-- name: replicas
-- Standbys streaming from this server. lag_bytes: WAL written here and not yet
-- replayed there; the *_lag_s: the walsender's lag tracker (NULL when idle).
SELECT pid, application_name, host(client_addr) AS client_addr, state, sync_state,
       sent_lsn::text AS sent_lsn, replay_lsn::text AS replay_lsn,
       extract(epoch FROM write_lag)::float8 AS write_lag_s,
       extract(epoch FROM flush_lag)::float8 AS flush_lag_s,
       extract(epoch FROM replay_lag)::float8 AS replay_lag_s,
       CASE WHEN pg_is_in_recovery() THEN NULL
            ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint
       END AS lag_bytes,
       age(backend_xmin)::bigint AS xmin_age
FROM pg_stat_replication
ORDER BY application_name, pid;

-- name: standby
-- On a standby: bytes received and not replayed, and the time since the last
-- replayed transaction committed on the primary (0 when all received is replayed).
SELECT pg_last_wal_receive_lsn()::text AS receive_lsn,
       pg_last_wal_replay_lsn()::text AS replay_lsn,
       pg_last_xact_replay_timestamp() AS last_replay_at,
       coalesce(pg_wal_lsn_diff(pg_last_wal_receive_lsn(),
                                pg_last_wal_replay_lsn()), 0)::bigint AS lag_bytes,
       CASE WHEN pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() THEN 0
            ELSE extract(epoch FROM clock_timestamp()
                         - pg_last_xact_replay_timestamp())
       END::float8 AS replay_lag_s;

-- name: slots
-- Replication slots: the WAL each keeps (from its restart_lsn to the current
-- position) and the xmin it holds back.
SELECT slot_name, slot_type, database, active, active_pid, wal_status,
       pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()
                            ELSE pg_current_wal_lsn() END,
                       restart_lsn)::bigint AS retained_bytes,
       age(xmin)::bigint AS xmin_age, age(catalog_xmin)::bigint AS catalog_xmin_age
FROM pg_replication_slots
ORDER BY slot_name;
