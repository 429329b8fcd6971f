-- Reads of the dashboard's Space and Indexes pages (pgwarden/web/views).

-- name: latest_report
-- The newest stored report of one kind for a target.
SELECT id, created_at, summary, data
FROM pgwarden.report
WHERE target_id = %(target_id)s AND kind = %(kind)s
ORDER BY created_at DESC, id DESC
LIMIT 1;
