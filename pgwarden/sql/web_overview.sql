-- The Overview page's health summary: reads of what is already stored.

-- name: latest_report
-- The newest stored report of one kind: when, and its summary figures only.
SELECT created_at, data -> 'summary' AS summary
FROM pgwarden.report
WHERE target_id = %(target_id)s AND kind = %(kind)s
ORDER BY created_at DESC, id DESC
LIMIT 1;
