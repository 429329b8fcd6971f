-- name: record
INSERT INTO pgwarden.audit_log (target_id, role, actor, action, subject, outcome, detail)
VALUES (%(target_id)s, %(role)s, %(actor)s, %(action)s, %(subject)s, %(outcome)s,
        %(detail)s)
RETURNING id, at;

-- name: recent
SELECT id, at, role, actor, action, subject, outcome, detail
FROM pgwarden.audit_log
WHERE target_id IS NOT DISTINCT FROM %(target_id)s
ORDER BY at DESC, id DESC
LIMIT %(limit)s;
