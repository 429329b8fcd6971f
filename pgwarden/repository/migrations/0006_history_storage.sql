-- Compact raw history: the *_history arrays hold sample times as milliseconds since
-- the row's hour (int4) instead of timestamptz, interval lengths as milliseconds
-- (int4) instead of float8 seconds, and float measures (times in ms, reltuples) as
-- real (float4, about 7 significant digits). The collector reads its clock to the
-- millisecond, so times and intervals stay exact; hourly roll-ups stay float8.
CREATE FUNCTION pg_temp.ms_since(hour timestamptz, ts timestamptz[]) RETURNS int[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(round(extract(epoch FROM t - hour) * 1000)::int ORDER BY n)
    FROM unnest(ts) WITH ORDINALITY AS u(t, n)
$$;
CREATE FUNCTION pg_temp.ms(seconds double precision[]) RETURNS int[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT array_agg(round(s * 1000)::int ORDER BY n)
    FROM unnest(seconds) WITH ORDINALITY AS u(s, n)
$$;

-- Keep compressing a row's arrays inline (storage main, toast_tuple_target 128 on
-- each partition): by default compression stops once a row is under 2 kB, which
-- left most arrays of a packed hour uncompressed.
DO $$
DECLARE
    part regclass;
BEGIN
    FOR part IN
        SELECT i.inhrelid::regclass
        FROM pg_inherits i
        JOIN pg_class p ON p.oid = i.inhparent
        JOIN pg_namespace n ON n.oid = p.relnamespace
        WHERE n.nspname = 'pgwarden'
          AND p.relname IN ('statement_history', 'database_history',
                            'table_history', 'index_history')
    LOOP
        EXECUTE format('ALTER TABLE %s SET (toast_tuple_target = 128)', part);
    END LOOP;
END
$$;

ALTER TABLE pgwarden.statement_history
    ALTER COLUMN ts SET STORAGE MAIN,
    ALTER COLUMN interval_s SET STORAGE MAIN,
    ALTER COLUMN calls SET STORAGE MAIN,
    ALTER COLUMN plans SET STORAGE MAIN,
    ALTER COLUMN rows SET STORAGE MAIN,
    ALTER COLUMN total_exec_ms SET STORAGE MAIN,
    ALTER COLUMN total_plan_ms SET STORAGE MAIN,
    ALTER COLUMN shared_blks_hit SET STORAGE MAIN,
    ALTER COLUMN shared_blks_read SET STORAGE MAIN,
    ALTER COLUMN shared_blks_dirtied SET STORAGE MAIN,
    ALTER COLUMN shared_blks_written SET STORAGE MAIN,
    ALTER COLUMN local_blks_hit SET STORAGE MAIN,
    ALTER COLUMN local_blks_read SET STORAGE MAIN,
    ALTER COLUMN temp_blks_read SET STORAGE MAIN,
    ALTER COLUMN temp_blks_written SET STORAGE MAIN,
    ALTER COLUMN blk_read_ms SET STORAGE MAIN,
    ALTER COLUMN blk_write_ms SET STORAGE MAIN,
    ALTER COLUMN wal_records SET STORAGE MAIN,
    ALTER COLUMN wal_fpi SET STORAGE MAIN,
    ALTER COLUMN wal_bytes SET STORAGE MAIN,
    ALTER COLUMN wal_buffers_full SET STORAGE MAIN,
    ALTER COLUMN jit_functions SET STORAGE MAIN,
    ALTER COLUMN jit_ms SET STORAGE MAIN;

ALTER TABLE pgwarden.database_history
    ALTER COLUMN ts SET STORAGE MAIN,
    ALTER COLUMN interval_s SET STORAGE MAIN,
    ALTER COLUMN xact_commit SET STORAGE MAIN,
    ALTER COLUMN xact_rollback SET STORAGE MAIN,
    ALTER COLUMN blks_read SET STORAGE MAIN,
    ALTER COLUMN blks_hit SET STORAGE MAIN,
    ALTER COLUMN tup_returned SET STORAGE MAIN,
    ALTER COLUMN tup_fetched SET STORAGE MAIN,
    ALTER COLUMN tup_inserted SET STORAGE MAIN,
    ALTER COLUMN tup_updated SET STORAGE MAIN,
    ALTER COLUMN tup_deleted SET STORAGE MAIN,
    ALTER COLUMN temp_files SET STORAGE MAIN,
    ALTER COLUMN temp_bytes SET STORAGE MAIN,
    ALTER COLUMN deadlocks SET STORAGE MAIN,
    ALTER COLUMN statements_dealloc SET STORAGE MAIN,
    ALTER COLUMN checkpoints_timed SET STORAGE MAIN,
    ALTER COLUMN checkpoints_req SET STORAGE MAIN,
    ALTER COLUMN checkpoint_buffers SET STORAGE MAIN,
    ALTER COLUMN buffers_clean SET STORAGE MAIN,
    ALTER COLUMN maxwritten_clean SET STORAGE MAIN,
    ALTER COLUMN buffers_backend SET STORAGE MAIN,
    ALTER COLUMN buffers_alloc SET STORAGE MAIN,
    ALTER COLUMN size_bytes SET STORAGE MAIN,
    ALTER COLUMN connections SET STORAGE MAIN,
    ALTER COLUMN conn_active SET STORAGE MAIN,
    ALTER COLUMN conn_idle SET STORAGE MAIN,
    ALTER COLUMN conn_idle_in_xact SET STORAGE MAIN,
    ALTER COLUMN conn_waiting_lock SET STORAGE MAIN,
    ALTER COLUMN oldest_xmin_age SET STORAGE MAIN,
    ALTER COLUMN max_connections SET STORAGE MAIN,
    ALTER COLUMN reserved_connections SET STORAGE MAIN,
    ALTER COLUMN shared_buffers_bytes SET STORAGE MAIN,
    ALTER COLUMN longest_xact_s SET STORAGE MAIN;

ALTER TABLE pgwarden.table_history
    ALTER COLUMN ts SET STORAGE MAIN,
    ALTER COLUMN interval_s SET STORAGE MAIN,
    ALTER COLUMN seq_scan SET STORAGE MAIN,
    ALTER COLUMN seq_tup_read SET STORAGE MAIN,
    ALTER COLUMN idx_scan SET STORAGE MAIN,
    ALTER COLUMN idx_tup_fetch SET STORAGE MAIN,
    ALTER COLUMN n_tup_ins SET STORAGE MAIN,
    ALTER COLUMN n_tup_upd SET STORAGE MAIN,
    ALTER COLUMN n_tup_del SET STORAGE MAIN,
    ALTER COLUMN n_tup_hot_upd SET STORAGE MAIN,
    ALTER COLUMN vacuum_count SET STORAGE MAIN,
    ALTER COLUMN autovacuum_count SET STORAGE MAIN,
    ALTER COLUMN analyze_count SET STORAGE MAIN,
    ALTER COLUMN autoanalyze_count SET STORAGE MAIN,
    ALTER COLUMN heap_blks_read SET STORAGE MAIN,
    ALTER COLUMN heap_blks_hit SET STORAGE MAIN,
    ALTER COLUMN idx_blks_read SET STORAGE MAIN,
    ALTER COLUMN idx_blks_hit SET STORAGE MAIN,
    ALTER COLUMN toast_blks_read SET STORAGE MAIN,
    ALTER COLUMN toast_blks_hit SET STORAGE MAIN,
    ALTER COLUMN n_live_tup SET STORAGE MAIN,
    ALTER COLUMN n_dead_tup SET STORAGE MAIN,
    ALTER COLUMN n_mod_since_analyze SET STORAGE MAIN,
    ALTER COLUMN size_bytes SET STORAGE MAIN,
    ALTER COLUMN total_size_bytes SET STORAGE MAIN,
    ALTER COLUMN reltuples SET STORAGE MAIN;

ALTER TABLE pgwarden.index_history
    ALTER COLUMN ts SET STORAGE MAIN,
    ALTER COLUMN interval_s SET STORAGE MAIN,
    ALTER COLUMN idx_scan SET STORAGE MAIN,
    ALTER COLUMN idx_tup_read SET STORAGE MAIN,
    ALTER COLUMN idx_tup_fetch SET STORAGE MAIN,
    ALTER COLUMN idx_blks_read SET STORAGE MAIN,
    ALTER COLUMN idx_blks_hit SET STORAGE MAIN,
    ALTER COLUMN size_bytes SET STORAGE MAIN;

ALTER TABLE pgwarden.statement_history
    ALTER COLUMN ts TYPE int[] USING pg_temp.ms_since(hour, ts),
    ALTER COLUMN interval_s TYPE int[] USING pg_temp.ms(interval_s),
    ALTER COLUMN total_exec_ms TYPE real[],
    ALTER COLUMN total_plan_ms TYPE real[],
    ALTER COLUMN blk_read_ms TYPE real[],
    ALTER COLUMN blk_write_ms TYPE real[],
    ALTER COLUMN jit_ms TYPE real[];
ALTER TABLE pgwarden.statement_history RENAME COLUMN ts TO at_ms;
ALTER TABLE pgwarden.statement_history RENAME COLUMN interval_s TO interval_ms;

ALTER TABLE pgwarden.database_history
    ALTER COLUMN ts TYPE int[] USING pg_temp.ms_since(hour, ts),
    ALTER COLUMN interval_s TYPE int[] USING pg_temp.ms(interval_s),
    ALTER COLUMN longest_xact_s TYPE real[];
ALTER TABLE pgwarden.database_history RENAME COLUMN ts TO at_ms;
ALTER TABLE pgwarden.database_history RENAME COLUMN interval_s TO interval_ms;

ALTER TABLE pgwarden.table_history
    ALTER COLUMN ts TYPE int[] USING pg_temp.ms_since(hour, ts),
    ALTER COLUMN interval_s TYPE int[] USING pg_temp.ms(interval_s),
    ALTER COLUMN reltuples TYPE real[];
ALTER TABLE pgwarden.table_history RENAME COLUMN ts TO at_ms;
ALTER TABLE pgwarden.table_history RENAME COLUMN interval_s TO interval_ms;

ALTER TABLE pgwarden.index_history
    ALTER COLUMN ts TYPE int[] USING pg_temp.ms_since(hour, ts),
    ALTER COLUMN interval_s TYPE int[] USING pg_temp.ms(interval_s);
ALTER TABLE pgwarden.index_history RENAME COLUMN ts TO at_ms;
ALTER TABLE pgwarden.index_history RENAME COLUMN interval_s TO interval_ms;

-- PostgreSQL 18 names NOT NULL constraints after their column: follow the renames.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT con.conrelid::regclass AS rel, con.conname,
               regexp_replace(regexp_replace(con.conname, '_ts_not_null$',
                   '_at_ms_not_null'), '_interval_s_not_null$',
                   '_interval_ms_not_null') AS new_name
        FROM pg_constraint con
        JOIN pg_class r ON r.oid = con.conrelid
        JOIN pg_namespace n ON n.oid = r.relnamespace
        WHERE n.nspname = 'pgwarden'
          AND r.relname IN ('statement_history', 'database_history',
                            'table_history', 'index_history')
          AND con.contype::text = 'n'
          AND con.conname ~ '_(ts|interval_s)_not_null$'
    LOOP
        -- renamed on the partitions too
        EXECUTE format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I',
                       c.rel, c.conname, c.new_name);
    END LOOP;
END
$$;

DROP FUNCTION pg_temp.ms_since(timestamptz, timestamptz[]);
DROP FUNCTION pg_temp.ms(double precision[]);

-- Per-interval totals of the top-level statements of each database, one row per
-- cycle, so the charts need not unpack every statement's arrays. pgwarden's own
-- statements (pgwarden.observe.own, decided by text when collected) are summed
-- apart. Partitioned by month like the roll-ups.
CREATE TABLE pgwarden.statement_total (
    target_id bigint NOT NULL,
    ts timestamptz NOT NULL,
    dbid bigint NOT NULL,
    interval_s double precision NOT NULL,
    calls bigint NOT NULL,
    total_exec_ms double precision NOT NULL,
    rows bigint NOT NULL,
    shared_blks_hit bigint NOT NULL,
    shared_blks_read bigint NOT NULL,
    own_calls bigint NOT NULL,
    own_exec_ms double precision NOT NULL,
    PRIMARY KEY (target_id, dbid, ts)
) PARTITION BY RANGE (ts);
