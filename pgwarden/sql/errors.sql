-- Errors by class per minute: the server log's and the applications' counts.

-- name: add_errors
-- Add counts to their minutes (the arrays are parallel: minute, class, count); a
-- count saturates at the largest bigint rather than failing.
INSERT INTO pgwarden.error_count AS e (target_id, minute, source, origin, class, errors)
SELECT %(target_id)s, m, %(source)s, %(origin)s, c, n
FROM unnest(%(minutes)s::timestamptz[], %(classes)s::text[], %(counts)s::bigint[])
     AS u (m, c, n)
ON CONFLICT (target_id, minute, source, origin, class) DO UPDATE
SET errors = least(e.errors::numeric + excluded.errors, 9223372036854775807)::bigint;

-- name: add_calls
INSERT INTO pgwarden.error_calls AS e (target_id, minute, origin, calls)
VALUES (%(target_id)s, %(minute)s, %(origin)s, %(calls)s)
ON CONFLICT (target_id, minute, origin) DO UPDATE
SET calls = least(e.calls::numeric + excluded.calls, 9223372036854775807)::bigint;

-- name: touch_source
-- The source was read or reported now, covering records from %(earliest)s (NULL: now)
-- to %(latest)s (NULL: now).
INSERT INTO pgwarden.error_source AS s (target_id, source, origin, first_at, last_at)
VALUES (%(target_id)s, %(source)s, %(origin)s,
        least(%(earliest)s::timestamptz, now()),
        greatest(%(latest)s::timestamptz, now()))
ON CONFLICT (target_id, source, origin) DO UPDATE
SET first_at = least(s.first_at, excluded.first_at),
    last_at = greatest(s.last_at, excluded.last_at);

-- name: counts
-- Errors per minute, source and class in [%(since)s, %(until)s).
SELECT minute, source, class, least(sum(errors), 9223372036854775807)::bigint AS errors
FROM pgwarden.error_count
WHERE target_id = %(target_id)s AND minute >= %(since)s AND minute < %(until)s
GROUP BY minute, source, class
ORDER BY minute, source, class;

-- name: calls
-- Calls the applications reported in [%(since)s, %(until)s) (NULL: none reported).
SELECT CASE WHEN count(*) > 0
            THEN least(sum(calls), 9223372036854775807)::bigint END AS calls
FROM pgwarden.error_calls
WHERE target_id = %(target_id)s AND minute >= %(since)s AND minute < %(until)s;

-- name: sources
-- Whether each source was read or reported at a time inside [%(since)s, %(until)s).
SELECT source, bool_or(first_at < %(until)s AND last_at >= %(since)s) AS recorded
FROM pgwarden.error_source
WHERE target_id = %(target_id)s
GROUP BY source;

-- name: statement_calls
-- pg_stat_statements calls of the collected intervals ending in (since, until]
-- (top-level statements, pgwarden's own left out); NULL when none was collected.
SELECT sum(calls)::bigint AS calls
FROM pgwarden.statement_total
WHERE target_id = %(target_id)s AND ts > %(since)s AND ts <= %(until)s;

-- name: retention
-- Drop the minutes older than %(before)s.
WITH counts AS (
    DELETE FROM pgwarden.error_count WHERE minute < %(before)s RETURNING 1
), calls AS (
    DELETE FROM pgwarden.error_calls WHERE minute < %(before)s RETURNING 1
)
SELECT (SELECT count(*) FROM counts) + (SELECT count(*) FROM calls) AS deleted;
