-- Alert state, silences and deliveries in the repository.

-- name: slow_statements
SELECT fingerprint, min(query) AS query, sum(executions)::bigint AS executions,
       max(duration_ms) AS worst_ms
FROM pgwarden.slow_query_log
WHERE target_id = %(target_id)s AND ts >= %(since)s AND ts <= %(until)s
GROUP BY fingerprint
ORDER BY worst_ms DESC
LIMIT 50;

-- name: slow_per_minute
SELECT date_trunc('minute', ts) AS minute, sum(executions)::bigint AS count
FROM pgwarden.slow_query_log
WHERE target_id = %(target_id)s AND ts >= %(since)s AND ts <= %(until)s
GROUP BY 1;

-- name: open_alerts
SELECT * FROM pgwarden.alert
WHERE target_id = %(target_id)s AND state <> 'resolved'
ORDER BY id;

-- name: insert_alert
INSERT INTO pgwarden.alert (
    target_id, fingerprint, rule, severity, state, labels, value, summary,
    description, runbook, group_key, started_at, fired_at, acked_at, acked_by,
    resolved_at, resolved_by, last_seen_at, last_notified_at, notifications,
    escalation_level, escalated_at, muted_by)
VALUES (
    %(target_id)s, %(fingerprint)s, %(rule)s, %(severity)s, %(state)s, %(labels)s,
    %(value)s, %(summary)s, %(description)s, %(runbook)s, %(group_key)s,
    %(started_at)s, %(fired_at)s, %(acked_at)s, %(acked_by)s, %(resolved_at)s,
    %(resolved_by)s, %(last_seen_at)s, %(last_notified_at)s, %(notifications)s,
    %(escalation_level)s, %(escalated_at)s, %(muted_by)s)
RETURNING id;

-- name: update_alert
UPDATE pgwarden.alert SET
    severity = %(severity)s, state = %(state)s, value = %(value)s,
    summary = %(summary)s, description = %(description)s, fired_at = %(fired_at)s,
    acked_at = %(acked_at)s, acked_by = %(acked_by)s, resolved_at = %(resolved_at)s,
    resolved_by = %(resolved_by)s, last_seen_at = %(last_seen_at)s,
    last_notified_at = %(last_notified_at)s, notifications = %(notifications)s,
    escalation_level = %(escalation_level)s, escalated_at = %(escalated_at)s,
    muted_by = %(muted_by)s
WHERE id = %(id)s;

-- name: list_alerts
SELECT a.*, t.name AS target FROM pgwarden.alert a
JOIN pgwarden.target t ON t.id = a.target_id
WHERE (%(state)s::text IS NULL OR a.state = %(state)s
       OR (%(state)s = 'open' AND a.state <> 'resolved'))
  AND a.last_seen_at >= %(since)s
ORDER BY a.id DESC
LIMIT %(limit)s;

-- name: get_alert
SELECT a.*, t.name AS target FROM pgwarden.alert a
JOIN pgwarden.target t ON t.id = a.target_id
WHERE a.id = %(id)s;

-- name: ack_alert
UPDATE pgwarden.alert SET state = 'acknowledged', acked_at = %(now)s,
    acked_by = %(by)s
WHERE id = %(id)s AND state IN ('pending', 'firing')
RETURNING id;

-- name: resolve_alert
UPDATE pgwarden.alert SET state = 'resolved', resolved_at = %(now)s,
    resolved_by = %(by)s
WHERE id = %(id)s AND state <> 'resolved'
RETURNING id;

-- name: insert_silence
INSERT INTO pgwarden.alert_silence (
    target_id, rule, labels, starts_at, ends_at, comment, created_by)
VALUES (%(target_id)s, %(rule)s, %(labels)s, %(starts_at)s, %(ends_at)s,
        %(comment)s, %(created_by)s)
RETURNING id;

-- name: active_silences
SELECT * FROM pgwarden.alert_silence
WHERE starts_at <= %(now)s AND ends_at > %(now)s
  AND (target_id IS NULL OR target_id = %(target_id)s)
ORDER BY id;

-- name: list_silences
SELECT * FROM pgwarden.alert_silence
WHERE ends_at > %(now)s
ORDER BY id;

-- name: insert_notification
INSERT INTO pgwarden.alert_notification (
    alert_id, ts, kind, level, recipient, channel, ok, attempts, error)
VALUES (%(alert_id)s, %(ts)s, %(kind)s, %(level)s, %(recipient)s, %(channel)s,
        %(ok)s, %(attempts)s, %(error)s);

-- name: notifications
SELECT * FROM pgwarden.alert_notification
WHERE alert_id = %(alert_id)s
ORDER BY id;

-- name: fired_since
SELECT severity, fired_at, acked_at, resolved_at FROM pgwarden.alert
WHERE fired_at >= %(since)s
  AND (%(target_id)s::bigint IS NULL OR target_id = %(target_id)s);

-- name: lock_target
-- Serialises evaluations of one target (1095521362 = 'ALER').
SELECT pg_advisory_xact_lock(1095521362, %(target_id)s::int);

-- name: resolve_stale
-- Open alerts of the other targets pgwarden has not seen (collected, evaluated,
-- resolved) since %(before)s: nothing evaluates them any more.
UPDATE pgwarden.alert a
SET state = 'resolved', resolved_at = %(now)s, resolved_by = 'stale'
FROM pgwarden.target t
WHERE t.id = a.target_id AND t.id <> %(target_id)s
  AND a.state <> 'resolved'
  AND coalesce(t.last_seen, t.first_seen) < %(before)s
  AND a.last_seen_at < %(before)s
RETURNING a.id, a.rule, t.name AS target;
