-- N+1 detection: the executions the slow query log holds (pgwarden/advise/n_plus_one*).

-- name: executions
-- The newest executions of the period, in the order the log stored them.
SELECT id, ts, started_at, source, caller, application_name, queryid, fingerprint,
       pid
FROM (
    SELECT id, ts, started_at, source, caller, application_name, queryid,
           fingerprint, pid
    FROM pgwarden.slow_query_log
    WHERE target_id = %(target)s AND ts >= %(since)s AND ts < %(until)s
      AND (%(datname)s::text IS NULL OR database IS NULL OR database = %(datname)s)
    ORDER BY ts DESC, id DESC
    LIMIT %(limit)s
) newest
ORDER BY ts, id;
