-- The collector's reads and writes of the repository schema (pgwarden/collect).

-- name: register_target
INSERT INTO pgwarden.target (name, system_identifier, server_version_num, last_seen)
VALUES (%s, %s, %s, now())
ON CONFLICT (name) DO UPDATE
SET system_identifier = coalesce(excluded.system_identifier,
                                 pgwarden.target.system_identifier),
    server_version_num = excluded.server_version_num,
    last_seen = excluded.last_seen
RETURNING id;

-- name: target_id
SELECT id FROM pgwarden.target WHERE name = %s;

-- name: lock_target
SELECT pg_try_advisory_xact_lock(%s, %s) AS locked;

-- name: load_state
SELECT ts, postmaster_start, markers FROM pgwarden.collect_state WHERE target_id = %s;

-- name: load_last
SELECT part, key, since, counters FROM pgwarden.collect_last WHERE target_id = %s;

-- name: delete_last
DELETE FROM pgwarden.collect_last WHERE target_id = %s;

-- name: delete_last_parts
-- Parts not read this cycle: their next delta is a gap.
DELETE FROM pgwarden.collect_last WHERE target_id = %s AND NOT part = ANY(%s);

-- name: delete_last_keys
DELETE FROM pgwarden.collect_last
WHERE target_id = %s AND part = %s AND key = ANY(%s::text[]);

-- name: upsert_last
INSERT INTO pgwarden.collect_last (target_id, part, key, since, counters)
SELECT %s, %s, u.key, u.since, u.counters
FROM unnest(%s::text[], %s::timestamptz[], %s::jsonb[]) AS u(key, since, counters)
ON CONFLICT (target_id, part, key) DO UPDATE
SET since = excluded.since, counters = excluded.counters;

-- name: save_state
INSERT INTO pgwarden.collect_state (target_id, ts, postmaster_start, markers)
VALUES (%s, %s, %s, %s)
ON CONFLICT (target_id) DO UPDATE
SET ts = excluded.ts, postmaster_start = excluded.postmaster_start,
    markers = excluded.markers;

-- name: known_texts
SELECT dbid, userid, queryid, toplevel FROM pgwarden.statement_text
WHERE target_id = %s;

-- name: insert_text
INSERT INTO pgwarden.statement_text
    (target_id, dbid, userid, queryid, toplevel, datname, rolname, query, query_length)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING;

-- name: known_relations
SELECT kind, relid, schema_name, rel_name, table_relid FROM pgwarden.relation
WHERE target_id = %s;

-- name: upsert_relation
INSERT INTO pgwarden.relation (target_id, kind, relid, schema_name, rel_name, table_relid)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (target_id, kind, relid) DO UPDATE
SET schema_name = excluded.schema_name, rel_name = excluded.rel_name,
    table_relid = excluded.table_relid;

-- name: insert_gap
INSERT INTO pgwarden.collect_gap (target_id, part, from_ts, to_ts, reason)
VALUES (%s, %s, %s, %s, %s);

-- name: insert_cycle
INSERT INTO pgwarden.collect_cycle
    (target_id, ts, prev_ts, duration_ms, statements, new_texts, dealloc, disabled)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s);

-- name: texts
SELECT dbid, userid, queryid, toplevel, datname, rolname, query, query_length
FROM pgwarden.statement_text
WHERE target_id = %s;

-- name: insert_total
INSERT INTO pgwarden.statement_total
    (target_id, ts, dbid, interval_s, calls, total_exec_ms, rows, shared_blks_hit,
     shared_blks_read, own_calls, own_exec_ms)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s);

-- name: delete_window
DELETE FROM pgwarden.statement_window WHERE target_id = %(target_id)s;

-- name: save_window
-- The top-level statements of [%(since)s, %(until)s) summed per database and
-- statement: the packed arrays (an empty array is all zeros, a one-element array
-- the same value in every sample) and current rows.
INSERT INTO pgwarden.statement_window
    (target_id, ts, dbid, queryid, calls, total_ms, rows, max_interval_mean_ms)
WITH raw AS (
    SELECT h.dbid, h.queryid,
           h.hour + unnest(h.at_ms) * interval '1 millisecond' AS ts,
           unnest(CASE WHEN cardinality(h.calls) < cardinality(h.at_ms)
                       THEN array_fill(coalesce(h.calls[1], 0), ARRAY[cardinality(h.at_ms)])
                       ELSE h.calls END) AS calls,
           unnest(CASE WHEN cardinality(h.total_exec_ms) < cardinality(h.at_ms)
                       THEN array_fill(coalesce(h.total_exec_ms[1], 0), ARRAY[cardinality(h.at_ms)])
                       ELSE h.total_exec_ms END)::float8 AS total_exec_ms,
           unnest(CASE WHEN cardinality(h.rows) < cardinality(h.at_ms)
                       THEN array_fill(coalesce(h.rows[1], 0), ARRAY[cardinality(h.at_ms)])
                       ELSE h.rows END) AS rows
    FROM pgwarden.statement_history h
    WHERE h.target_id = %(target_id)s AND h.toplevel
      AND h.hour >= date_trunc('hour', %(since)s::timestamptz, 'UTC')
      AND h.hour < %(until)s
    UNION ALL
    SELECT c.dbid, c.queryid, c.ts, c.calls, c.total_exec_ms, c.rows
    FROM pgwarden.statement_current c
    WHERE c.target_id = %(target_id)s AND c.toplevel
      AND c.ts >= %(since)s AND c.ts < %(until)s
)
SELECT %(target_id)s, %(ts)s, dbid, queryid,
       sum(calls)::bigint, sum(total_exec_ms)::float8, sum(rows)::bigint,
       max(total_exec_ms / nullif(calls, 0))::float8
FROM raw
WHERE ts >= %(since)s AND ts < %(until)s
GROUP BY dbid, queryid;
