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
