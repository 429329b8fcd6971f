-- Index health reads and writes of the repository schema (pgwarden/advise).

-- name: index_scans
-- Scans per index over the period: finished hours from the roll-ups, the hour
-- being collected from the current rows (each interval a delta; resets are gaps).
WITH scans AS (
    SELECT relid, idx_scan, idx_tup_read, idx_tup_fetch
    FROM pgwarden.index_hourly
    WHERE target_id = %(target)s
      AND hour >= date_trunc('hour', %(since)s::timestamptz, 'UTC')
    UNION ALL
    SELECT relid, idx_scan, idx_tup_read, idx_tup_fetch
    FROM pgwarden.index_current
    WHERE target_id = %(target)s AND ts >= %(since)s
)
SELECT r.relid, r.schema_name, r.rel_name, r.first_seen,
       coalesce(sum(s.idx_scan), 0)::bigint AS scans,
       coalesce(sum(s.idx_tup_read), 0)::bigint AS tup_read,
       coalesce(sum(s.idx_tup_fetch), 0)::bigint AS tup_fetch
FROM pgwarden.relation r
LEFT JOIN scans s ON s.relid = r.relid
WHERE r.target_id = %(target)s AND r.kind = 'index'
GROUP BY r.relid, r.schema_name, r.rel_name, r.first_seen;

-- name: table_scans
WITH scans AS (
    SELECT relid, seq_scan, seq_tup_read, idx_scan
    FROM pgwarden.table_hourly
    WHERE target_id = %(target)s
      AND hour >= date_trunc('hour', %(since)s::timestamptz, 'UTC')
    UNION ALL
    SELECT relid, seq_scan, seq_tup_read, idx_scan
    FROM pgwarden.table_current
    WHERE target_id = %(target)s AND ts >= %(since)s
)
SELECT r.relid, r.schema_name, r.rel_name, r.first_seen,
       coalesce(sum(s.seq_scan), 0)::bigint AS seq_scan,
       coalesce(sum(s.seq_tup_read), 0)::bigint AS seq_tup_read,
       coalesce(sum(s.idx_scan), 0)::bigint AS idx_scan
FROM pgwarden.relation r
LEFT JOIN scans s ON s.relid = r.relid
WHERE r.target_id = %(target)s AND r.kind = 'table'
GROUP BY r.relid, r.schema_name, r.rel_name, r.first_seen;

-- name: coverage
SELECT min(ts) AS first_ts, max(ts) AS last_ts, count(*) AS cycles
FROM pgwarden.collect_cycle WHERE target_id = %(target)s;

-- name: gap_seconds
SELECT coalesce(sum(extract(epoch FROM to_ts - greatest(from_ts, %(since)s))), 0)::float8
           AS seconds,
       count(*) AS gaps
FROM pgwarden.collect_gap
WHERE target_id = %(target)s AND to_ts >= %(since)s AND from_ts IS NOT NULL
  AND part IN ('server', 'indexes');

-- name: insert_report
INSERT INTO pgwarden.report (target_id, kind, created_at, summary, data)
VALUES (%s, %s, %s, %s, %s)
RETURNING id;

-- name: previous_report
SELECT id, created_at, summary, data FROM pgwarden.report
WHERE target_id = %s AND kind = %s AND created_at < %s
ORDER BY created_at DESC LIMIT 1;

-- name: list_reports
SELECT r.id, t.name AS target, r.kind, r.created_at, r.summary
FROM pgwarden.report r JOIN pgwarden.target t ON t.id = r.target_id
WHERE (%s::text IS NULL OR r.kind = %s)
ORDER BY r.created_at DESC, r.id DESC LIMIT %s;

-- name: get_report
SELECT r.id, t.name AS target, r.kind, r.created_at, r.summary, r.data
FROM pgwarden.report r JOIN pgwarden.target t ON t.id = r.target_id
WHERE r.id = %s;
