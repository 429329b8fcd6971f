-- Business measures recorded by people or systems (pgwarden/ops/review/measures.py).

-- name: upsert_measure
-- The same measure of the same target for the same time replaces the reading.
INSERT INTO pgwarden.business_measure (target_id, name, recorded_at, value,
    responses, source, recorded_by)
VALUES (%(target)s, %(name)s, %(at)s, %(value)s, %(responses)s, %(source)s, %(by)s)
ON CONFLICT (target_id, name, recorded_at) DO UPDATE
SET value = excluded.value, responses = excluded.responses,
    source = excluded.source, recorded_by = excluded.recorded_by,
    entered_at = now();

-- name: target_ids
SELECT id, name FROM pgwarden.target WHERE name = ANY(%(names)s::text[]);

-- name: list_measures
SELECT m.name, m.recorded_at, m.value, m.responses, m.source, m.recorded_by,
       m.entered_at, t.name AS target
FROM pgwarden.business_measure m JOIN pgwarden.target t ON t.id = m.target_id
WHERE m.target_id = %(target)s
  AND (%(name)s::text IS NULL OR m.name = %(name)s::text)
ORDER BY m.recorded_at DESC, m.name LIMIT %(limit)s;

-- name: period_measures
SELECT name, recorded_at, value, responses, source
FROM pgwarden.business_measure
WHERE target_id = %(target)s AND recorded_at >= %(start)s AND recorded_at < %(end)s
ORDER BY recorded_at, name;

-- name: read_only
-- An adoption query (reviews.active_users_query) runs in a read-only transaction.
SET TRANSACTION READ ONLY;

-- name: local_timeout
SELECT set_config('statement_timeout', %(ms)s, true);
