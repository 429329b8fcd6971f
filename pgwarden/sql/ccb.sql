-- Change control board: requests, votes, deployments, action items, decision log.

-- name: insert_request
INSERT INTO pgwarden.change_request (
    title, description, owner, window_start, window_end, rollback_plan,
    migration_sql, risk_class, risk_reasons, risk_tables)
VALUES (%(title)s, %(description)s, %(owner)s, %(window_start)s, %(window_end)s,
        %(rollback_plan)s, %(migration_sql)s, %(risk_class)s, %(risk_reasons)s,
        %(risk_tables)s)
RETURNING *;

-- name: get_request
SELECT * FROM pgwarden.change_request WHERE id = %(id)s;

-- name: lock_request
SELECT * FROM pgwarden.change_request WHERE id = %(id)s FOR UPDATE;

-- name: list_requests
SELECT * FROM pgwarden.change_request
WHERE %(status)s::text IS NULL OR status = %(status)s
   OR (%(status)s = 'pending' AND status = ANY(%(pending)s))
ORDER BY id DESC
LIMIT %(limit)s;

-- name: update_request
UPDATE pgwarden.change_request SET
    title = %(title)s, description = %(description)s, owner = %(owner)s,
    window_start = %(window_start)s, window_end = %(window_end)s,
    rollback_plan = %(rollback_plan)s, migration_sql = %(migration_sql)s,
    risk_class = %(risk_class)s, risk_reasons = %(risk_reasons)s,
    risk_tables = %(risk_tables)s, updated_at = now()
WHERE id = %(id)s
RETURNING *;

-- name: set_status
UPDATE pgwarden.change_request SET status = %(status)s, updated_at = now(),
    submitted_at = CASE WHEN %(status)s = 'submitted' AND submitted_at IS NULL
                        THEN now() ELSE submitted_at END
WHERE id = %(id)s
RETURNING *;

-- name: insert_vote
INSERT INTO pgwarden.ccb_vote (request_id, voter, vote, comment)
VALUES (%(request_id)s, %(voter)s, %(vote)s, %(comment)s)
RETURNING *;

-- name: votes
SELECT voter, vote, comment, ts FROM pgwarden.ccb_vote
WHERE request_id = %(request_id)s ORDER BY id;

-- name: insert_deployment
INSERT INTO pgwarden.ccb_deployment (
    request_id, deployed_at, outcome, restored_at, note, recorded_by)
VALUES (%(request_id)s, %(deployed_at)s, %(outcome)s, %(restored_at)s, %(note)s,
        %(recorded_by)s)
RETURNING *;

-- name: deployments
SELECT d.*, r.submitted_at, r.created_at AS requested_at
FROM pgwarden.ccb_deployment d
JOIN pgwarden.change_request r ON r.id = d.request_id
WHERE d.deployed_at >= %(since)s
ORDER BY d.deployed_at;

-- name: insert_action
INSERT INTO pgwarden.ccb_action_item (request_id, title, owner, due, measure)
VALUES (%(request_id)s, %(title)s, %(owner)s, %(due)s, %(measure)s)
RETURNING *;

-- name: finish_action
UPDATE pgwarden.ccb_action_item SET done_at = now()
WHERE id = %(id)s AND done_at IS NULL
RETURNING *;

-- name: open_actions
SELECT * FROM pgwarden.ccb_action_item WHERE done_at IS NULL ORDER BY due, id;

-- name: lock_log
-- Serialises appends to the decision log (1128481346 = 'CCBB').
SELECT pg_advisory_xact_lock(1128481346);

-- name: last_entry
SELECT seq, hash FROM pgwarden.ccb_decision_log ORDER BY seq DESC LIMIT 1;

-- name: append_entry
INSERT INTO pgwarden.ccb_decision_log (
    seq, ts, request_id, kind, actor, detail, prev_hash, hash)
VALUES (%(seq)s, %(ts)s, %(request_id)s, %(kind)s, %(actor)s, %(detail)s,
        %(prev_hash)s, %(hash)s);

-- name: chain_entry
SELECT seq, hash FROM pgwarden.ccb_decision_log WHERE seq = %(seq)s;

-- name: log_identity
-- Which log this is: the cluster's system identifier (when this role may read it)
-- and the database; a witness file is kept per log.
SELECT current_database() AS database,
       CASE WHEN has_function_privilege('pg_control_system()', 'EXECUTE')
            THEN (SELECT system_identifier::text FROM pg_control_system())
       END AS system_identifier;

-- name: log_entries
SELECT seq, ts, request_id, kind, actor, detail, prev_hash, hash
FROM pgwarden.ccb_decision_log
WHERE %(request_id)s::bigint IS NULL OR request_id = %(request_id)s
ORDER BY seq;

-- name: alerts_since
SELECT a.id, a.rule, a.severity, a.state, a.summary, a.fired_at, a.acked_at,
       a.resolved_at, t.name AS target
FROM pgwarden.alert a JOIN pgwarden.target t ON t.id = a.target_id
WHERE a.fired_at >= %(since)s
ORDER BY a.fired_at;

-- name: table_size
SELECT pg_total_relation_size(to_regclass(%(name)s)) AS bytes;
