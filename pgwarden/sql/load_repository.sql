-- Load runs and elasticity results kept in the repository (pgwarden.load.stored).

-- name: list
-- Newest first, without the per-second timeline.
SELECT id, kind, created_at, summary, data - 'timeline' AS data
FROM pgwarden.report
WHERE target_id = %(target_id)s AND kind = ANY(%(kinds)s)
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s;

-- name: one
SELECT id, kind, created_at, summary, data
FROM pgwarden.report
WHERE id = %(id)s AND target_id = %(target_id)s AND kind = ANY(%(kinds)s);

-- name: insert
INSERT INTO pgwarden.report (target_id, kind, created_at, summary, data)
VALUES (%(target_id)s, %(kind)s, %(created_at)s, %(summary)s, %(data)s)
RETURNING id;
